"""`spectui run --gates`: every gate check as a table, whole in a pipe, fitted in a terminal.

A pipe or a file gets every field whole (`table`: plain aligned columns; `tsv`; `markdown`),
so the output parses back; a terminal too narrow for the aligned table drops columns in the
order the app's gate panel does (`app.looks.catalog.give_way`), never a digit of what stays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from spectui.app.looks.catalog import give_way, looks_of, shown_gates
from spectui.app.looks.library import (
    ENTROPY_COLUMN,
    MARGIN_COLUMN,
    P_COLUMN,
    P_TOP1_COLUMN,
    Q_COLUMN,
    RANK_COLUMN,
    RATIO_COLUMN,
    TOP1_COLUMN,
    UNIFORM_COLUMN,
)
from spectui.app.looks.records import Column, GateLooks
from spectui.engine.policy.records import GateCheck
from spectui.engine.policy.registry import POLICIES

if TYPE_CHECKING:
    from spectui.engine.events import RoundFinished

FORMATS = ("table", "tsv", "markdown")
# The measures, in the order they are written (the verdicts' policies read some of them).
MEASURES: tuple[Column, ...] = (
    Q_COLUMN,
    P_COLUMN,
    RANK_COLUMN,
    TOP1_COLUMN,
    P_TOP1_COLUMN,
    MARGIN_COLUMN,
    RATIO_COLUMN,
    UNIFORM_COLUMN,
    ENTROPY_COLUMN,
)
# Measures written only when a round's policy reads them (speculative sampling's coin, the
# verifier's entropy), so a greedy or soft table is not padded with them.
OPTIONAL = (RATIO_COLUMN, UNIFORM_COLUMN, ENTROPY_COLUMN)


@dataclass(frozen=True)
class Field:
    """One column of the written table."""

    header: str
    right: bool  # numbers align right
    value: Callable[[int, RoundFinished, GateCheck], str]  # (prompt number, round, check)
    shown: Column | GateLooks | str | None = None  # what `give_way` calls it (None: never dropped)


def fields(policy: str, token_text: Callable[[int], str]) -> list[Field]:
    """Every field of a table of rounds decoded under `policy`, left to right."""
    reads = looks_of(policy).reads
    measures = [m for m in MEASURES if m not in OPTIONAL or m in reads]
    out = [
        Field("prompt", True, lambda n, event, check: str(n)),
        Field("round", True, lambda n, event, check: str(event.round_index + 1)),
        Field("#", True, lambda n, event, check: str(check.position + 1)),
        Field("token", False, lambda n, event, check: _token(token_text(check.token_id))),
    ]
    out += [_measure(column, token_text) for column in measures]
    out += [Field(gate.key, False, _gate_mark(gate), gate) for gate in shown_gates()]
    out += [Field(name, False, _verdict_mark(name), name) for name in POLICIES.names()]
    return out


def _gate_mark(gate: GateLooks) -> Callable[[int, RoundFinished, GateCheck], str]:
    return lambda number, event, check: _mark(check.gates.get(gate.key))


def _verdict_mark(name: str) -> Callable[[int, RoundFinished, GateCheck], str]:
    return lambda number, event, check: _mark(check.verdicts.get(name))


def _measure(column: Column, token_text: Callable[[int], str]) -> Field:
    def value(number: int, event: RoundFinished, check: GateCheck) -> str:
        raw = column.value(check)
        if column.kind == "token":
            return _token(token_text(int(raw)))
        return f"{float(raw):.4f}" if column.kind == "prob" else str(raw)

    return Field(column.header, column.kind != "token", value, column)


def _token(text: str) -> str:
    """A token as a JSON string: spaces, tabs and newlines unambiguous, and parseable."""
    return json.dumps(text, ensure_ascii=False)


def _mark(passed: bool | None) -> str:
    return "·" if passed is None else "✓" if passed else "✗"


def write_gates(
    out: TextIO,
    rounds: Sequence[tuple[int, RoundFinished]],
    policy: str,
    token_text: Callable[[int], str],
    form: str = "table",
    width: int | None = None,
) -> None:
    """Write every check of `rounds` ((prompt number, round) pairs, decoded under `policy`).

    `width`: the terminal's columns, to fit the aligned table into (None: a pipe, all of it).
    """
    columns = fields(policy, token_text)
    rows = [
        [field.value(number, event, check) for field in columns]
        for number, event in rounds
        for check in event.checks
    ]
    dropped: list[str] = []
    if form == "table" and width is not None:
        columns, rows, dropped = _fitted(columns, rows, policy, width)
    headers = [field.header for field in columns]
    if form == "tsv":
        for cells in [headers, *rows]:
            out.write("\t".join(cells) + "\n")
    elif form == "markdown":
        out.write(_markdown_row(headers))
        out.write(_markdown_row(["---:" if f.right else "---" for f in columns]))
        for row in rows:
            out.write(_markdown_row(row))
    else:
        for text in _aligned(columns, rows):
            out.write(text + "\n")
    legend = " · ".join(f"{gate.key}: {gate.symbol}" for gate in shown_gates())
    if form != "tsv":
        out.write(f"\ngates (✓ pass, ✗ fail) by name, the app's symbol beside: {legend}\n")
        if dropped:
            out.write(
                f"too narrow for {', '.join(dropped)} (the gate panel's order): widen the "
                "terminal, or --gates-format tsv / a pipe for every field\n"
            )
    out.write("\n")


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |\n"


def _aligned(columns: Sequence[Field], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(f.header), *(len(row[i]) for row in rows)) for i, f in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(w) if field.right else cell.ljust(w)
            for cell, w, field in zip(cells, widths, columns, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return [line([f.header for f in columns]), "  ".join("-" * w for w in widths)] + [
        line(row) for row in rows
    ]


def _fitted(
    columns: list[Field], rows: list[list[str]], policy: str, width: int
) -> tuple[list[Field], list[list[str]], list[str]]:
    """Drop fields, in the gate panel's order, until the aligned table fits `width`."""
    measures = [f.shown for f in columns if isinstance(f.shown, Column)]
    order = give_way(policy, measures, list(POLICIES.names()))
    dropped: list[str] = []
    for shown in order:
        if max(len(line) for line in _aligned(columns, rows)) <= width:
            break
        keep = [i for i, f in enumerate(columns) if f.shown is not shown]
        if len(keep) == len(columns):
            continue
        dropped += [f.header for i, f in enumerate(columns) if i not in keep]
        columns = [columns[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
    return columns, rows, dropped
