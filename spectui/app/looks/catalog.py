"""Each registered policy's looks, by its name, and what a gate table shows and drops.

The engine's registry (`engine.policy.registry.POLICIES`) says which policies there are and in
what order; this says how each is shown. A policy registered in the engine is shown once its
looks are registered here (the built-in ones are; a test checks each has looks).
"""

from __future__ import annotations

from collections.abc import Sequence

from spectui.app.looks.library import BUILT_IN
from spectui.app.looks.records import Column, GateLooks, PolicyLooks
from spectui.engine.policy.registry import POLICIES

LOOKS: dict[str, PolicyLooks] = dict(BUILT_IN)

Shown = Column | GateLooks | str  # a column of a gate table: a measure, a gate, or a verdict


def register_looks(name: str, looks: PolicyLooks) -> None:
    """Show the policy called `name` with `looks` from now on."""
    LOOKS[name] = looks


def unregister_looks(name: str) -> None:
    """Forget a policy's looks (tests register toy policies)."""
    del LOOKS[name]


def looks_of(name: str) -> PolicyLooks:
    """The looks of the registered policy called `name`."""
    looks = LOOKS.get(name)
    if looks is None:
        raise LookupError(f"policy {name!r} has no looks: register them (register_looks)")
    return looks


def short_name(name: str) -> str:
    """A policy's verdict-column header; a policy without looks (an old trace's) by its name."""
    looks = LOOKS.get(name)
    return looks.short if looks is not None else name


def shown_gates() -> tuple[GateLooks, ...]:
    """Every registered policy's gates as shown, in registration order (the gate column's)."""
    return tuple(gate for policy in POLICIES for gate in looks_of(policy.name).gates)


def give_way(policy: str, columns: Sequence[Column], verdicts: Sequence[str]) -> list[Shown]:
    """What a gate table too narrow for everything drops, first to last, for a round under
    `policy`: the other policies' gates, then their verdicts (the last registered first),
    then the `columns` its test does not read (right to left). Its own gates, the columns it
    reads and its verdict are not in the list: they never give way."""
    looks = looks_of(policy)
    others = [gate for gate in reversed(shown_gates()) if gate not in looks.gates]
    verdicts_out = [name for name in reversed(verdicts) if name != policy]
    unread = [column for column in reversed(columns) if column not in looks.reads]
    return [*others, *verdicts_out, *unread]
