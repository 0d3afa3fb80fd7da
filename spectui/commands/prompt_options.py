"""Which prompts a command decodes: --prompt, --prompts-file, the seed's six, and chat turns."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spectui.engine.config import ConfigError
from spectui.engine.prompts import SEED_PROMPTS, ChatPrompt, Prompt, chat_prompt, read_prompts


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
