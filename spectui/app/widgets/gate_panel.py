"""The gate panel: one row per draft token of a round, every gate and every policy's verdict.

The columns between p and the gates are the active policy's own (its `Policy.columns`);
the gate column holds every registered gate, the verdict columns every registered policy.
"""

from __future__ import annotations

from rich.text import Text

from spectui.app.format import PIECE_STYLES, mark, prob, quoted
from spectui.app.state import CheckView, PieceKind, RoundView
from spectui.app.widgets.panel import Panel
from spectui.engine.config import DecodeConfig
from spectui.engine.policy.records import Column, Policy
from spectui.engine.policy.registry import (
    all_gates,
    policy_named,
    policy_names,
    policy_short,
    verdict_names,
)


class GatePanel(Panel):
    """The current round's gate checks as a compact table (fits 80 columns)."""

    DEFAULT_CSS = """
    GatePanel { height: auto; text-wrap: nowrap; text-overflow: clip; }
    """

    def show(
        self,
        current: RoundView | None,
        highlight: int | None,
        idle_hint: str = "",
        past: bool = False,
    ) -> None:
        """Render `current`; row `highlight` (a draft position) gets a ▶ marker.

        `past`: the round is an earlier one the reader stepped back to (b/n), not the live one.
        """
        if current is None:
            self.border_title = "gates"
            self.border_subtitle = ""
            self.show_content(Text(f"No round yet: {idle_hint}.", style="dim"), 1)
            return
        config = current.config
        policy = policy_named(config.policy)
        self.border_title = (
            f"{'◀ past ' if past else ''}round {current.index + 1} · "
            f"{policy.label} · {current.n_checked}/{len(current.drafts)} checked"
        )
        rules = [gate.rule(config) for gate in all_gates()]
        gates = " · ".join(filter(None, [policy.rule(config), *rules]))
        self.border_subtitle = f"B branch here · {gates}" if past else f"gates: {gates}"
        n_bonus = sum(piece.kind is PieceKind.BONUS for piece in current.appended)
        width = self.content_size.width or ASSUMED_WIDTH  # 0 before the first layout
        table = _table(current, highlight, width)
        self.show_content(table, 1 + len(current.drafts) + n_bonus)


# Laid out by hand rather than with a Rich Table: this redraws on every step of autoplay, and
# measuring a Table is slow. Verdict columns that do not fit the panel's width give way, the
# active policy's last (every verdict is also in the token detail).
LEAD_COLUMNS: tuple[tuple[str, int, bool], ...] = (("#", 2, False), ("token", 7, False))
ASSUMED_WIDTH = 76  # the table's width before the panel has been laid out (80 columns)
MEASURE_COLUMNS: tuple[tuple[str, int, bool], ...] = (("q", 4, True), ("p", 4, True))


def _columns(policy: Policy) -> list[tuple[str, int, bool]]:
    """(header, width, right-aligned) of every column after the token, gates included."""
    own = [(column.header, column.width, column.kind != "token") for column in policy.columns]
    gates_header = " ".join(gate.symbol for gate in all_gates())
    return [*MEASURE_COLUMNS, *own, (gates_header, len(gates_header), False)]


def _q(policy: Policy, q: float, config: DecodeConfig) -> Text:
    """The q column: the q the policy's test used (italic where it is not the drafter's, e.g.
    speculative sampling's q = 1 for a greedy draft; the rule in the subtitle says why)."""
    tested = policy.tested_q(q, config)
    return Text(prob(tested), style="italic" if tested != q else "")


def _value(column: Column, view: CheckView) -> str:
    value = column.value(view.check)
    if column.kind == "token":
        return quoted(view.token_text(int(value)), column.width)
    return prob(float(value)) if column.kind == "prob" else str(value)


def _cell(
    line: Text, content: str | Text, width: int, right: bool = False, style: str = ""
) -> None:
    """Append `content` to `line` padded (or cut) to `width`, then a column gap."""
    text = content if isinstance(content, Text) else Text(content, style=style)
    text.truncate(width, overflow="ellipsis")
    padding = " " * (width - text.cell_len)
    line.append_text(Text(padding) + text if right else text + Text(padding))
    line.append(" ")


def _table(current: RoundView, highlight: int | None, width: int) -> Text:
    policy = policy_named(current.config.policy)
    columns = _columns(policy)
    used = sum(w + 1 for _, w, _ in (*LEAD_COLUMNS, *columns))
    names = _fitting_verdicts(_verdict_columns(current), current.config.policy, width - used)
    policies = [(name, len(policy_short(name)) + 1) for name in names]
    header = Text(style="bold")
    for title, width, right in (*LEAD_COLUMNS, *columns):
        _cell(header, title, width, right)
    for name, width in policies:
        active = name == current.config.policy
        title = ("▸" if active else "") + policy_short(name)
        _cell(header, title.center(width), width, style="reverse" if active else "")
    lines = [header]
    rejected_seen = False
    for position, slot in enumerate(current.drafts):
        line = Text(style="bold" if position == highlight else "")
        _cell(line, ("▶" if position == highlight else " ") + str(position + 1), 2)
        view = slot.check
        if view is None:
            kind = PieceKind.UNCHECKED if rejected_seen or current.finished else PieceKind.PENDING
            _cell(line, quoted(slot.text, 7), 7, style=PIECE_STYLES[kind])
            _cell(line, _q(policy, slot.q, current.config), 4, right=True)
            note = "—" if kind is PieceKind.UNCHECKED else "…"
            for _, width, right in columns[1:]:
                _cell(line, note, width, right, style="dim")
            for _, width in policies:
                _cell(line, note.center(width), width, style="dim")
            lines.append(line)
            continue
        check = view.check
        rejected_seen = rejected_seen or not check.accepted
        kind = PieceKind.DRAFT if check.accepted else PieceKind.REJECTED
        cells: tuple[str | Text, ...] = (
            Text(quoted(view.text, 7), style=PIECE_STYLES[kind]),
            _q(policy, check.q, current.config),
            prob(check.p),
            *(_value(column, view) for column in policy.columns),
            Text(" ").join(mark(check.gates.get(gate.key, False)) for gate in all_gates()),
        )
        for content, (_, width, right) in zip(cells, (LEAD_COLUMNS[1], *columns), strict=True):
            _cell(line, content, width, right)
        for name, width in policies:
            verdict = Text("▸" if name == check.policy else " ", style="bold")
            verdict.append_text(mark(check.verdicts[name]) if name in check.verdicts else Text("·"))
            _cell(line, Text(" " * ((width - 2) // 2)) + verdict, width)
        lines.append(line)
    for piece in current.appended:
        if piece.kind is PieceKind.BONUS:
            line = Text()
            _cell(line, " +", 2)
            _cell(line, quoted(piece.text, 7), 7, style=PIECE_STYLES[piece.kind])
            line.append(
                "bonus: the verifier's next token after a fully accepted draft", style="dim"
            )
            lines.append(line)
    for line in lines:
        line.rstrip()
    return Text("\n").join(lines)


def _fitting_verdicts(names: list[str], active: str, room: int) -> list[str]:
    """The verdict columns that fit in `room` cells: the active policy's always, then the
    others in registration order until one does not fit (the rest: in the token detail)."""
    kept = {active}
    used = len(policy_short(active)) + 2
    for name in names:
        if name in kept:
            continue
        used += len(policy_short(name)) + 2
        if used > room:
            break
        kept.add(name)
    return [name for name in names if name in kept]


def _verdict_columns(current: RoundView) -> list[str]:
    """The policies with a verdict column: those the round's checks judged for, else all."""
    for slot in current.drafts:
        if slot.check is not None:
            return list(verdict_names(slot.check.check))
    return list(policy_names())
