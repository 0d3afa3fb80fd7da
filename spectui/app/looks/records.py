"""The records a policy's looks are made of: a gate-table column, a gate's symbol and words,
and a policy's whole look. The engine's `Policy` holds the rule; these say how it is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.policy.records import GateCheck

ColumnKind = Literal["prob", "count", "token"]


@dataclass(frozen=True)
class Column:
    """A gate-table column: a measure of a check, shown between the token and the gates."""

    header: str
    width: int
    kind: ColumnKind  # prob: four-character probability; count: integer; token: a token id
    value: Callable[[GateCheck], float | int]


@dataclass(frozen=True)
class GateLooks:
    """A gate (`engine.policy.records.Gate`, by `key`) as `symbol` in the gate column and as
    `rule(config)` in words."""

    key: str  # the engine gate's key
    symbol: str  # one character, the gate column's header
    rule: Callable[[DecodeConfig], str]  # e.g. "p≥0.05"


@dataclass(frozen=True)
class PolicyLooks:
    """How a policy (`engine.policy.records.Policy`, by name) is shown."""

    short: str  # its verdict column's header
    summary: str  # one line: the rule in words, for the help and the command palette
    columns: tuple[Column, ...]  # the gate table's columns between p and the gates
    gates: tuple[GateLooks, ...] = ()  # its gates' looks, in the order of `Policy.gates`
    rule: Callable[[DecodeConfig], str] = lambda config: ""  # extra words for the gate panel
    # A line of the token detail from a check and its round's settings, if any.
    explain: Callable[[GateCheck, DecodeConfig], str] | None = None
    # The gate-table columns its test reads (q and p included): on a narrow screen they stay
    # with its gates and its verdict, and what it does not read gives way first.
    reads: tuple[Column, ...] = ()
