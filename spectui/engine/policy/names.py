"""The registered policies' names and labels: what a `DecodeConfig.policy` may be.

The policies read a DecodeConfig, so the config cannot import them; it checks its `policy`
against these names instead, which `registry.register_policy` keeps (the registry is loaded
with the engine package, so the built-in policies are always here).
"""

from __future__ import annotations

DEFAULT_POLICY = "soft"  # soft-guarded, the seed's headline policy

_LABELS: dict[str, str] = {}  # name -> display name, in registration order


def policy_names() -> tuple[str, ...]:
    """Every registered policy's name, in registration order."""
    return tuple(_LABELS)


def policy_label(name: str) -> str:
    """A policy's display name; an unknown name as it is."""
    return _LABELS.get(name, name)


def note_policy(name: str, label: str) -> None:
    """Record a registered policy's name (the registry calls this)."""
    _LABELS[name] = label


def forget_policy(name: str) -> None:
    """Forget an unregistered policy's name (the registry calls this)."""
    del _LABELS[name]
