"""The registered policies' names, labels and own knobs: what a `DecodeConfig` may hold.

The policies read a DecodeConfig, so the config cannot import them; it checks its `policy`
against these names instead, which `registry.register_policy` keeps (the registry is loaded
with the engine package, so the built-in policies are always here).
"""

from __future__ import annotations

from spectui.engine.knobs import OwnKnob

DEFAULT_POLICY = "soft"  # soft-guarded, the seed's headline policy

_LABELS: dict[str, str] = {}  # name -> display name, in registration order
_KNOBS: dict[str, tuple[OwnKnob, ...]] = {}  # name -> the settings it declares itself


def policy_names() -> tuple[str, ...]:
    """Every registered policy's name, in registration order."""
    return tuple(_LABELS)


def policy_label(name: str) -> str:
    """A policy's display name; an unknown name as it is."""
    return _LABELS.get(name, name)


def own_knobs() -> dict[str, OwnKnob]:
    """Every registered policy's own knobs (`Policy.knobs`), by name, in registration order."""
    return {own.name: own for knobs in _KNOBS.values() for own in knobs}


def note_policy(name: str, label: str, knobs: tuple[OwnKnob, ...] = ()) -> None:
    """Record a registered policy's name and own knobs (the registry calls this)."""
    _LABELS[name] = label
    _KNOBS[name] = knobs


def forget_policy(name: str) -> None:
    """Forget an unregistered policy's name (the registry calls this)."""
    del _LABELS[name]
    del _KNOBS[name]
