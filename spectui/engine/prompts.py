"""Prompt sets read from a file, and prompts wrapped in a chat template.

A prompts file is one of three formats, told apart per file:

- plain text, one prompt per line (blank lines skipped); a `.txt` file is always this;
- JSON Lines, one object per line with `prompt` and an optional `category`;
- Spec-Bench's and MT-Bench's `question.jsonl`: `question_id`, `category` and `turns`, of
  which the first turn is the prompt (the later ones answer a reply spectui never gives).

Any other file is JSON Lines when its first non-blank line starts with `{`, else plain text.
A line that does not fit is refused with the file and line number: a silently skipped line
would make a benchmark's figures quietly cover fewer prompts than the file holds.

Pure Python: nothing here imports torch or Textual (`chat_prompt` calls the tokenizer it is
given).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectui.engine.errors import ChatTemplateError, PromptError, SpectuiError

QUESTION_FORMAT = 'Spec-Bench\'s and MT-Bench\'s question.jsonl ("category", "turns")'

# The seed notebook's six prompts: every command's default, and the bundled pair's evaluation.
SEED_PROMPTS = (
    "Once upon a time,",
    "The capital of France is",
    "She walked into the",
    "It is important to",
    "This is a simple",
    "In the beginning,",
)

# Offered beside the seed's prompts in the app's `e` list on an instruct pair, each decoded as
# a user turn of the verifier's chat template.
CHAT_PROMPTS = (
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Give me three tips for learning Python.",
    "Explain what a verifier model does, in one sentence.",
)
CHAT_CATEGORY = "chat"


class PromptFileError(SpectuiError):
    """A prompts file that cannot be read, or a line of it that is not a prompt."""


@dataclass(frozen=True)
class Prompt:
    """One prompt of a set, with where it came from."""

    text: str
    category: str | None = None  # e.g. MT-Bench's "writing"; None when the source has none
    source: str = ""  # "questions.jsonl:3" for a file's line; "--prompt" or "seed" otherwise


def read_prompts(path: str | Path) -> tuple[Prompt, ...]:
    """Every prompt in the file at `path`, in file order (raises PromptFileError)."""
    path = Path(path)
    lines = _numbered_lines(path)
    if not lines:
        raise PromptFileError(f"the prompts file {path} holds no prompts (every line is blank)")
    if _is_json_lines(path, lines[0][1]):
        return tuple(_json_prompt(path, number, line) for number, line in lines)
    return tuple(Prompt(line, None, f"{path}:{number}") for number, line in lines)


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    """The file's non-blank lines with their 1-based numbers, line endings dropped.

    A prompt's leading and trailing spaces stay: "The capital of France is " tokenizes
    differently from the same words without the space.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise PromptFileError(
            f"the prompts file {path} is not UTF-8 text (byte {error.start}); "
            "save it as UTF-8 and try again"
        ) from None
    except OSError as error:
        raise PromptFileError(
            f"cannot read the prompts file {path}: {error.strerror or error}"
        ) from None
    return [
        (number, line.rstrip("\r\n"))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _is_json_lines(path: Path, first_line: str) -> bool:
    return path.suffix.lower() != ".txt" and first_line.lstrip().startswith("{")


def _json_prompt(path: Path, number: int, line: str) -> Prompt:
    """One JSON line as a prompt: `prompt` (with `category`), or a question's first turn."""
    where = f"{path}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise PromptFileError(
            f"{where}: not JSON ({error.msg} at column {error.colno}); a prompts file whose "
            "first line starts with '{' is read as JSON Lines, one object per line"
        ) from None
    if not isinstance(record, dict):
        raise PromptFileError(f"{where}: a JSON Lines prompts file needs one object per line")
    return Prompt(_prompt_text(where, record), _category(where, record), where)


def _prompt_text(where: str, record: dict[str, Any]) -> str:
    if "prompt" in record:
        text = record["prompt"]
        if not isinstance(text, str):
            raise PromptFileError(f'{where}: "prompt" must be a string, got {_kind(text)}')
        return text
    if "turns" in record:
        turns = record["turns"]
        if not isinstance(turns, list) or not turns:
            raise PromptFileError(
                f'{where}: "turns" must be a non-empty list of strings, as in {QUESTION_FORMAT}'
            )
        if not isinstance(turns[0], str):
            raise PromptFileError(
                f"{where}: the first turn must be a string, got {_kind(turns[0])}"
            )
        return turns[0]
    raise PromptFileError(
        f'{where}: the object has neither "prompt" (a string, with an optional "category") '
        f'nor "turns" (as in {QUESTION_FORMAT}); its keys are {", ".join(record) or "none"}'
    )


def _category(where: str, record: dict[str, Any]) -> str | None:
    category = record.get("category")
    if category is None or isinstance(category, str):
        return category or None
    raise PromptFileError(f'{where}: "category" must be a string, got {_kind(category)}')


def _kind(value: object) -> str:
    return {list: "a list", dict: "an object", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def categories(prompts: Sequence[Prompt]) -> tuple[str, ...]:
    """The categories the prompts have, in order of first appearance."""
    return tuple(dict.fromkeys(p.category for p in prompts if p.category is not None))


# --- chat templates ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatPrompt:
    """A prompt wrapped in a chat template: the turns as text, and as the ids to decode from."""

    text: str  # the template's rendering, special tokens included (the trace header's prompt)
    ids: tuple[int, ...]


def chat_prompt(tokenizer: Any, text: str, system: str | None = None) -> ChatPrompt:
    """`text` as a user turn (after `system`'s turn, if any), ready for the assistant's reply.

    The ids are the template's own tokenization, handed to the decoder as ids: re-tokenizing
    the rendered text would add a second BOS token to the templates that already write one.
    """
    from jinja2 import TemplateError

    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError(
            f"--chat: the tokenizer {tokenizer_name(tokenizer)} has no chat template, so the "
            "prompts cannot be wrapped in chat turns; use an instruct pair whose tokenizer "
            "ships one (e.g. --drafter Qwen/Qwen2.5-0.5B-Instruct --verifier "
            "Qwen/Qwen2.5-1.5B-Instruct), or drop --chat to decode the prompts as they are"
        )
    messages = [*_system_turn(system), {"role": "user", "content": text}]
    try:
        rendered = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
    except TemplateError as error:  # e.g. a template that refuses a system turn
        raise PromptError(
            f"--chat: the chat template of {tokenizer_name(tokenizer)} refused the turns: {error}"
        ) from None
    return ChatPrompt(str(rendered), tuple(int(token) for token in _flat(ids)))


def _system_turn(system: str | None) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}] if system else []


def _flat(ids: Any) -> Iterator[int]:
    """Token ids from a template's tokenization (a list, or a one-row batch)."""
    if ids and isinstance(ids[0], list):
        yield from ids[0]
    else:
        yield from ids


def tokenizer_name(tokenizer: Any) -> str:
    """How messages name a tokenizer: where it was loaded from, and its class."""
    where = str(getattr(tokenizer, "name_or_path", "") or "(unnamed)")
    return f"{where} ({type(tokenizer).__name__})"
