"""A config field's metadata (`Knob`) and the field rules that are not a range or a choice.

`DecodeConfig`'s fields are declared with `knob(...)`; validation, the CLI options, the settings
form and the serialization are all made from these records (`config.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Knob:
    """What a DecodeConfig field means and allows."""

    help: str  # one line, for --help and the settings form
    label: str = ""  # the settings form's label (tunable fields)
    note: str = ""  # the settings form's few words beside a switch
    tunable: bool = False  # may change between rounds of one decode
    low: float | None = None  # numbers: the smallest allowed value
    high: float | None = None  # ... and the largest
    choices: Callable[[], Sequence[str]] | None = None  # strings: the allowed values
    check: Callable[[str, Any], str | None] | None = None  # any other rule: a problem or None
    cli: bool = True  # offered as a command-line option
    metavar: str | None = None


@dataclass(frozen=True)
class OwnKnob:
    """A setting a policy declares itself (`Policy.knobs`), not a DecodeConfig field.

    A config holds its value in `policy_settings` and reads it as `config.setting(<name>)`;
    the CLI options, the settings form, validation and traces treat it as they treat a field.
    """

    name: str  # e.g. "toy_floor": --toy-floor, and its key in a round's settings
    default: int | float
    knob: Knob


def knob(default: Any, help: str, **details: Any) -> Any:
    """A dataclass field with its `Knob` in the metadata."""
    return field(default=default, metadata={"knob": Knob(help=help, **details)})


def device_problem(name: str, value: Any) -> str | None:
    if isinstance(value, str) and value.split(":")[0] in DEVICE_KINDS:
        return None
    return f"{name} must be auto, cpu, cuda[:N] or mps, got {value!r}"


def url_problem(name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.startswith(("http://", "https://"))):
        return None
    return (
        f"{name} must be an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1, got {value!r}"
    )


def model_problem(name: str, value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return None
    return f"{name} must name a model id or directory"


def choices_problem(name: str, value: Any) -> str | None:
    """A static tree's choices list: paths of sibling ranks (`tree.shape.parse_choices`)."""
    from spectui.engine.tree.shape import parse_choices

    if value is None:
        return None
    if not isinstance(value, str):
        return f"{name} must be paths of ranks such as '0 1 0.0', got {value!r}"
    try:
        paths = parse_choices(value)
    except ValueError as error:
        return f"{name} must be paths of sibling ranks such as '0 1 0.0 0.1': {error}"
    if len(paths) > 1024 or max(len(path) for path in paths) > 64:
        return f"{name} may hold at most 1024 paths of at most 64 ranks, got {len(paths)}"
    return None


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def within(number: float, rule: Knob) -> bool:
    """Whether `number` is in `rule`'s range."""
    # Compared as given, not as floats: an int meets the int bounds exactly (the seed's high is
    # 2**63 - 1, which as a float equals 2**63).
    return number >= (rule.low or 0) and (rule.high is None or number <= rule.high)


def choice_problem(name: str, value: object, choices: Sequence[str]) -> str | None:
    """What is wrong with `value` for a setting that must be one of `choices`, or None."""
    if value in choices:
        return None
    return f"{name} must be one of {', '.join(choices)}, got {value!r}"
