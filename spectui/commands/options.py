"""Command-line options made from DecodeConfig's field metadata, shared by every command.

Each option's name, type, choices and help come from the field's `Knob`, so a new setting
appears on every command by being declared once. Options default to "not given"
(argparse.SUPPRESS): `config_from_args` then leaves the field at DecodeConfig's own default,
which is never restated here.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from spectui.engine.config import (
    ConfigError,
    DecodeConfig,
    Knob,
    base_type,
    config_field_names,
    config_fields,
    field_problem,
)
from spectui.engine.policies import policy_names
from spectui.engine.prompts import ChatPrompt, Prompt, chat_prompt, read_prompts
from spectui.models import PAIR_PRESETS

SEED_PROMPTS = (
    "Once upon a time,",
    "The capital of France is",
    "She walked into the",
    "It is important to",
    "This is a simple",
    "In the beginning,",
)


def option_name(field_name: str) -> str:
    """The command-line option of a config field: draft_span -> --draft-span."""
    return "--" + field_name.replace("_", "-")


def add_config_options(
    parser: argparse.ArgumentParser,
    *,
    exclude: Collection[str] = (),
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Add --pair, one option per config field (but `exclude`) and --prompt to `parser`.

    `overrides` replaces argparse keywords of a field's option (a command's own help or
    choices), e.g. {"policy": {"choices": [...]}}.
    """
    group = parser.add_argument_group("models and decoding")
    group.add_argument(
        "--pair",
        choices=sorted(PAIR_PRESETS),
        default=argparse.SUPPRESS,
        help="named pair: bundled (default, offline) or seed (gpt2 -> gpt2-medium, needs the hub)",
    )
    for field in config_fields():
        rule: Knob = field.metadata["knob"]
        if rule.cli and field.name not in exclude:
            keywords = {**_option_keywords(field.name, rule, field.default)}
            keywords.update((overrides or {}).get(field.name, {}))
            group.add_argument(option_name(field.name), **keywords)
    group.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        metavar="KEY",
        help="bearer token for a server started with --api-key (default: $SPECTUI_API_KEY, "
        "else $OPENAI_API_KEY); never saved in traces or shown",
    )
    group.add_argument(
        "--prompt",
        action="append",
        default=argparse.SUPPRESS,
        help="prompt text; may repeat (default: the seed's six prompts)",
    )
    group.add_argument(
        "--prompts-file",
        metavar="FILE",
        type=Path,
        default=argparse.SUPPRESS,
        help='read prompts from FILE: one per line, JSON Lines with "prompt" (and '
        "\"category\"), or Spec-Bench's/MT-Bench's question.jsonl (its first turn); with "
        "--prompt, the given prompts come first, then the file's",
    )


def _option_keywords(name: str, rule: Knob, default: Any) -> dict[str, Any]:
    kind = base_type(name)
    shown = "" if default is MISSING or default is None or "default" in rule.help else default
    keywords: dict[str, Any] = {
        "dest": name,
        "default": argparse.SUPPRESS,
        "help": f"{rule.help} (default: {shown})" if shown != "" else rule.help,
    }
    if kind is bool:
        keywords["action"] = argparse.BooleanOptionalAction
    elif rule.choices is not None:
        keywords["choices"] = list(rule.choices())
    elif kind in (int, float):
        keywords["type"] = kind
    if rule.metavar:
        keywords["metavar"] = rule.metavar
    return keywords


def config_from_args(args: argparse.Namespace, **overrides: object) -> DecodeConfig:
    """A validated DecodeConfig from parsed options (raises ConfigError).

    A value given on the command line is refused by its option's name (--draft-span), before
    the config, and so before anything heavy, is made.
    """
    values: dict[str, object] = {
        name: getattr(args, name) for name in config_field_names() if hasattr(args, name)
    }
    for name, value in values.items():
        problem = field_problem(name, value, called=option_name(name))
        if problem is not None:
            raise ConfigError(problem)
    preset = getattr(args, "pair", None)
    if preset is not None:
        drafter, verifier = PAIR_PRESETS[preset]
        values.setdefault("drafter", drafter)
        values.setdefault("verifier", verifier)
    values.update(overrides)
    return DecodeConfig(**values)  # type: ignore[arg-type]


def prompts_from_args(args: argparse.Namespace) -> list[str]:
    """The texts of the prompts asked for, or the seed's six (raises PromptFileError)."""
    return [prompt.text for prompt in prompt_set_from_args(args)]


def prompt_set_from_args(args: argparse.Namespace) -> tuple[Prompt, ...]:
    """--prompt's prompts, then --prompts-file's; neither: the seed's six (PromptFileError)."""
    given = tuple(Prompt(text, None, "--prompt") for text in getattr(args, "prompt", None) or ())
    path = getattr(args, "prompts_file", None)
    if path is not None and not Path(path).is_file():
        missing = "is a directory" if Path(path).is_dir() else "no such file"
        raise ConfigError(f"--prompts-file {path}: {missing}")
    from_file = read_prompts(path) if path is not None else ()
    return given + from_file or tuple(Prompt(text, None, "seed") for text in SEED_PROMPTS)


def check_writable(path: Path | None, option: str) -> None:
    """Refuse an output file that cannot be written (ConfigError naming `option`), at the
    start rather than when the decode ends; nothing is created."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        problem = "is a directory"
    elif not folder.is_dir():
        problem = f"the directory {folder} does not exist"
    elif path.exists() and not os.access(path, os.W_OK):
        problem = "is not writable"
    elif not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        problem = f"the directory {folder} is not writable"
    else:
        return
    raise ConfigError(f"{option} {path}: {problem}")


def add_chat_options(parser: argparse.ArgumentParser) -> None:
    """Add --chat and --system: the prompts as chat turns, for an instruct pair."""
    group = parser.add_argument_group("chat")
    group.add_argument(
        "--chat",
        action="store_true",
        help="wrap each prompt in the verifier tokenizer's chat template as a user turn, "
        "followed by the assistant's turn (an instruct pair expects those turns)",
    )
    group.add_argument(
        "--system",
        metavar="TEXT",
        help="a system turn before each prompt's user turn (implies --chat)",
    )


def chat_prompts_from_args(
    args: argparse.Namespace, tokenizer: Any, prompts: Sequence[Prompt]
) -> tuple[ChatPrompt | None, ...]:
    """With --chat (or --system), each prompt in `tokenizer`'s chat template; else None each.

    Raises PromptError when the tokenizer has no chat template.
    """
    system = getattr(args, "system", None)
    if not getattr(args, "chat", False) and system is None:
        return tuple(None for _ in prompts)
    return tuple(chat_prompt(tokenizer, prompt.text, system) for prompt in prompts)


def policy_list(
    text: str, *, aliases: Mapping[str, Sequence[str]] | None = None, at_least: int = 1
) -> tuple[str, ...]:
    """Policy names from a comma list ("greedy,soft,sample"), for argparse's `type=`.

    `aliases` maps a word to the names it stands for (run's "both"). Unknown or repeated
    names, or fewer than `at_least`, are refused with the registered ones listed.
    """
    names: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        names.extend((aliases or {}).get(part, (part,)))
    known = policy_names()
    unknown = [name for name in names if name not in known]
    words = ", ".join([*known, *(aliases or {})])
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown policy {', '.join(map(repr, unknown)) or repr(text)} (choose from {words},"
            " or several joined by commas)"
        )
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"a policy is named twice in {text!r}")
    if len(names) < at_least:
        raise argparse.ArgumentTypeError(
            f"name at least {at_least} policies, joined by commas (from {words}), got {text!r}"
        )
    return tuple(names)


def api_key_from_args(args: argparse.Namespace) -> str | None:
    """The servers' API key: --api-key, else $SPECTUI_API_KEY, else $OPENAI_API_KEY."""
    given = getattr(args, "api_key", None)
    return given or os.environ.get("SPECTUI_API_KEY") or os.environ.get("OPENAI_API_KEY") or None
