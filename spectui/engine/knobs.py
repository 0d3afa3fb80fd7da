"""A config field's metadata (`Knob`) and the field rules that are not a range or a choice.

`DecodeConfig`'s fields are declared with `knob(...)`; validation, the CLI options, the settings
form and the serialization are all made from these records (`config.py`).
"""

from __future__ import annotations

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
