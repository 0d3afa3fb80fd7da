"""The gate panel: one row per draft token of a round, every gate and every policy's verdict.

The columns between p and the gates are the active policy's own (its looks' `columns`);
the gate column holds every registered gate, the verdict columns every registered policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from spectui.app.format import PIECE_STYLES, mark, prob, quoted
from spectui.app.looks.catalog import give_way, looks_of, short_name, shown_gates
from spectui.app.looks.library import P_COLUMN, Q_COLUMN
from spectui.app.looks.records import Column, GateLooks
from spectui.app.rounds import CheckView, PieceKind, RoundView
from spectui.app.widgets.panel import BORDER_SPARE, Panel
from spectui.engine.config import DecodeConfig
from spectui.engine.policy.records import Policy
from spectui.engine.policy.registry import POLICIES


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
        branch: bool = True,
        room: int | None = None,
    ) -> None:
        """Render `current`; row `highlight` (a draft position, a tree's node id) gets a ▶.

        `past`: the round is an earlier one the reader stepped back to (b/n), not the live one;
        `branch`: B can branch there (not in a replay); `room`: a tree round's most node rows.
        """
        if current is None:
            self.border_title = "gates"
            self.border_subtitle = ""
            self.show_content(Text(f"No round yet: {idle_hint}.", style="dim"), 1)
            return
        config = current.config
        looks = looks_of(config.policy)
        self.border_title = (
            f"{'◀ past ' if past else ''}round {current.index + 1} · "
            f"{POLICIES.label(config.policy)} · {current.n_checked}/{len(current.drafts)} checked"
        )
        # The active policy's own rule and gates first: a narrow panel cuts the others.
        gates_first = (*looks.gates, *(g for g in shown_gates() if g not in looks.gates))
        rules = [r for r in [looks.rule(config), *(g.rule(config) for g in gates_first)] if r]
        lead = ("B branch here · " if branch else "◀ as recorded · ") if past else "gates: "
        width = self.content_size.width or ASSUMED_WIDTH  # 0 before the first layout
        self.border_subtitle = fitted_rules(lead, rules, width - BORDER_SPARE)
        rows = tree_rows(current, highlight, room) if current.is_tree else None
        table = _table(current, highlight, width, rows)
        self.show_content(table, table.plain.count("\n") + 1)


# Laid out by hand rather than with a Rich Table: this redraws on every step of autoplay, and
# measuring a Table is slow. What does not fit the panel's width gives way in a stated order
# (`fit`); the active policy's verdict never does (every verdict is also in the token detail).
LEAD_COLUMNS: tuple[tuple[str, int, bool], ...] = (("#", 2, False), ("token", 7, False))
ASSUMED_WIDTH = 76  # the table's width before the panel has been laid out (80 columns)


def fitted_rules(lead: str, rules: list[str], width: int) -> str:
    """`lead` and as many whole rules as fit `width`, the rest counted (" · +2 more"): a
    border cuts what does not fit mid-figure ("p≥p₁−0…"). The active policy's come first."""
    for shown in range(len(rules), 0, -1):
        rest = len(rules) - shown
        line = lead + " · ".join(rules[:shown]) + (f" · +{rest} more" if rest else "")
        if len(line) <= width:
            return line
    return lead + (rules[0] if rules else "")


@dataclass(frozen=True)
class Layout:
    """The gate table's columns that are on screen, left to right."""

    columns: tuple[Column, ...]  # between the token and the gates: q, p, the policy's own
    gates: tuple[GateLooks, ...]
    verdicts: tuple[str, ...]  # policy names

    @property
    def width(self) -> int:
        """Cells the table takes, a gap after each column included."""
        lead = sum(width + 1 for _, width, _ in LEAD_COLUMNS)
        columns = sum(column.width + 1 for column in self.columns)
        return (
            lead + columns + 2 * len(self.gates) + sum(_verdict_width(n) + 1 for n in self.verdicts)
        )


def fit(policy: str, verdicts: list[str], room: int) -> Layout:
    """The columns that fit in `room` cells for a round under `policy`, giving way in the
    order `give_way` states (its token, read columns, gates and verdict always stay)."""
    columns = (Q_COLUMN, P_COLUMN, *looks_of(policy).columns)
    layout = Layout(columns, shown_gates(), tuple(verdicts))
    for dropped in give_way(policy, layout.columns, verdicts):
        if layout.width <= room:
            break
        layout = Layout(
            tuple(c for c in layout.columns if c is not dropped),
            tuple(g for g in layout.gates if g is not dropped),
            tuple(v for v in layout.verdicts if v != dropped),
        )
    return layout


def _verdict_width(name: str) -> int:
    return len(short_name(name)) + 1  # the ▸ of the active policy, or a space


def _q(policy: Policy, q: float, config: DecodeConfig) -> Text:
    """The q column: the q the policy's test used (italic where it is not the drafter's, e.g.
    speculative sampling's q = 1 for a greedy draft; the rule in the subtitle says why)."""
    tested = policy.tested_q(q, config)
    return Text(prob(tested), style="italic" if tested != q else "")


def _value(column: Column, view: CheckView, policy: Policy) -> str | Text:
    if column is Q_COLUMN:
        return _q(policy, view.check.q, view.config)
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


@dataclass(frozen=True)
class TreeRows:
    """Which of a tree round's nodes the gate table lists: the walk's, in its order, then the
    highlighted node if the walk has not judged it; a window of `room` around the highlight."""

    nodes: tuple[int, ...]  # node ids, top to bottom
    steps: dict[int, int]  # node id -> its step in the walk (what the # column says)
    above: int  # listed nodes cut above the window ...
    below: int  # ... and below it
    unjudged: int  # verified nodes the walk has not judged (the tree panel has them)


def tree_rows(current: RoundView, highlight: int | None, room: int | None) -> TreeRows:
    """The rows of a tree round's gate table (`room`: the most node rows; None: all)."""
    listed = list(current.walk)
    if highlight is not None and highlight not in listed:
        listed.append(highlight)
    room = len(listed) if room is None else max(1, room)
    at = listed.index(highlight) if highlight in listed else len(listed) - 1
    top = max(0, min(at - room // 2, len(listed) - room))
    window = listed[top : top + room]
    steps = {node_id: step for step, node_id in enumerate(current.walk)}
    unjudged = len(current.drafts) - len(current.walk)
    return TreeRows(tuple(window), steps, top, len(listed) - top - len(window), unjudged)


def _tree_note(rows: TreeRows, finished: bool) -> Text | None:
    """The line under a tree round's rows: what the window cut, what the walk did not judge."""
    parts = []
    if rows.above or rows.below:
        parts.append(f"↑{rows.above} ↓{rows.below} judged nodes past this window")
    if rows.unjudged:
        when = "never judged" if finished else "not judged yet"
        parts.append(f"{rows.unjudged} nodes {when} (the tree shows them)")
    return Text(" · ".join(parts), style="dim") if parts else None


def _table(current: RoundView, highlight: int | None, width: int, tree: TreeRows | None) -> Text:
    policy = POLICIES.named(current.config.policy)
    layout = fit(policy.name, _verdict_columns(current), width)
    columns = [(column.header, column.width, column.kind != "token") for column in layout.columns]
    gates_header = " ".join(gate.symbol for gate in layout.gates)
    if layout.gates:
        columns.append((gates_header, len(gates_header), False))
    policies = [(name, _verdict_width(name)) for name in layout.verdicts]
    header = Text(style="bold")
    for title, width, right in (*LEAD_COLUMNS, *columns):
        _cell(header, title, width, right)
    for name, width in policies:
        active = name == current.config.policy
        title = ("▸" if active else "") + short_name(name)
        _cell(header, title.center(width), width, style="reverse" if active else "")
    lines = [header]
    rejected_seen = False
    positions = range(len(current.drafts)) if tree is None else tree.nodes
    for position in positions:
        slot = current.drafts[position]
        line = Text(style="bold" if position == highlight else "")
        _cell(line, ("▶" if position == highlight else " ") + _number(position, tree), 2)
        view = slot.check
        if view is None:
            refused = rejected_seen and tree is None
            kind = PieceKind.UNCHECKED if refused or current.finished else PieceKind.PENDING
            _cell(line, quoted(slot.text, 7), 7, style=PIECE_STYLES[kind])
            note = "—" if kind is PieceKind.UNCHECKED else "…"
            for column, (_, width, right) in zip(layout.columns, columns, strict=False):
                if column is Q_COLUMN:
                    _cell(line, _q(policy, slot.q, current.config), width, right=True)
                else:
                    _cell(line, note, width, right, style="dim")
            if layout.gates:
                _cell(line, note, len(gates_header), style="dim")
            for _, width in policies:
                _cell(line, note.center(width), width, style="dim")
            lines.append(line)
            continue
        check = view.check
        rejected_seen = rejected_seen or not check.accepted
        kind = PieceKind.DRAFT if check.accepted else PieceKind.REJECTED
        cells: list[str | Text] = [Text(quoted(view.text, 7), style=PIECE_STYLES[kind])]
        cells.extend(_value(column, view, policy) for column in layout.columns)
        if layout.gates:
            marks = (mark(check.gates.get(gate.key, False)) for gate in layout.gates)
            cells.append(Text(" ").join(marks))
        for content, (_, width, right) in zip(cells, (LEAD_COLUMNS[1], *columns), strict=True):
            _cell(line, content, width, right)
        for name, width in policies:
            verdict = Text("▸" if name == check.policy else " ", style="bold")
            verdict.append_text(mark(check.verdicts[name]) if name in check.verdicts else Text("·"))
            _cell(line, Text(" " * ((width - 2) // 2)) + verdict, width)
        lines.append(line)
    tree_note = _tree_note(tree, current.finished) if tree is not None else None
    if tree_note is not None:
        lines.append(tree_note)
    for piece in current.appended:
        if piece.kind is PieceKind.BONUS:
            line = Text()
            _cell(line, " +", 2)
            _cell(line, quoted(piece.text, 7), 7, style=PIECE_STYLES[piece.kind])
            # A round of no drafts (n-gram lookup without a match) is the verifier's token alone.
            why = "after a fully accepted draft" if current.drafts else "(no drafts this round)"
            if current.is_tree:
                why = "after the accepted path's leaf"
            line.append(f"bonus: the verifier's next token {why}", style="dim")
            lines.append(line)
    for line in lines:
        line.rstrip()
    return Text("\n").join(lines)


def _number(position: int, tree: TreeRows | None) -> str:
    """The # column: a chain's draft position; a tree node's step in the walk (· none yet)."""
    if tree is None:
        return str(position + 1)
    step = tree.steps.get(position)
    return "·" if step is None else str(step + 1)


def _verdict_columns(current: RoundView) -> list[str]:
    """The policies with a verdict column: those the round's checks judged for, else all."""
    for slot in current.drafts:
        if slot.check is not None:
            return list(POLICIES.verdict_names(slot.check.check))
    return list(POLICIES.names())
