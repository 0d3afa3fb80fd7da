"""The gate panel: one row per draft token of a round, every gate and all three verdicts."""

from __future__ import annotations

from rich.text import Text

from spectui.app.format import PIECE_STYLES, mark, prob, quoted
from spectui.app.state import PieceKind, RoundView
from spectui.app.widgets.panel import Panel
from spectui.engine.config import POLICY_LABELS, POLICY_NAMES

GATE_KEYS = ("p_thresh", "topk", "margin", "max_accept")  # the merged "gates" column's order
GATES_HEADER = "p k Δ n"
SHORT_POLICY = {"greedy": "greedy", "soft": "soft", "sample": "sample"}


def short_policy(name: str) -> str:
    """A policy's column header: its short name."""
    return SHORT_POLICY.get(name, name)


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
        self.border_title = (
            f"{'◀ past ' if past else ''}round {current.index + 1} · "
            f"{POLICY_LABELS[config.policy]} · {current.n_checked}/{len(current.drafts)} checked"
        )
        gates = (
            f"p≥{config.p_thresh:g} · k: top-{config.topk_gate} · Δ≤{config.margin_gate:g}"
            f" · n<{config.max_accept}"
        )
        if config.policy == "sample":
            drawn = "" if config.sample_draft else ", q = 1: greedy drafts"
            gates = f"sample ✓ iff u < p/q = min(1, p/q){drawn} · {gates}"
        self.border_subtitle = f"B branch here · {gates}" if past else f"gates: {gates}"
        n_bonus = sum(piece.kind is PieceKind.BONUS for piece in current.appended)
        self.show_content(_table(current, highlight), 1 + len(current.drafts) + n_bonus)


# (header, width, right-aligned): 73 columns with three policies, so the table fits an
# 80-column terminal and the left column of a 120-column one. Laid out by hand rather than
# with a Rich Table: this redraws on every step of autoplay, and measuring a Table is slow.
COLUMNS: tuple[tuple[str, int, bool], ...] = (
    ("#", 2, False),
    ("token", 7, False),
    ("q", 4, True),
    ("p", 4, True),
    ("rank", 4, True),
    ("top-1", 6, False),
    ("p₁", 4, True),
    ("Δ", 4, True),
    (GATES_HEADER, len(GATES_HEADER), False),
)
# Under speculative sampling its acceptance probability min(1, p/q) and the uniform draw u
# take the place of rank and p₁ (both still in the token detail panel), in the same width.
SAMPLE_COLUMNS: tuple[tuple[str, int, bool], ...] = (
    *COLUMNS[:4],
    ("p/q", 4, True),
    ("u", 4, True),
    COLUMNS[5],
    *COLUMNS[7:],
)


def _cell(
    line: Text, content: str | Text, width: int, right: bool = False, style: str = ""
) -> None:
    """Append `content` to `line` padded (or cut) to `width`, then a column gap."""
    text = content if isinstance(content, Text) else Text(content, style=style)
    text.truncate(width, overflow="ellipsis")
    padding = " " * (width - text.cell_len)
    line.append_text(Text(padding) + text if right else text + Text(padding))
    line.append(" ")


def _table(current: RoundView, highlight: int | None) -> Text:
    policies = [(name, len(short_policy(name)) + 1) for name in POLICY_NAMES]
    sampling = current.config.policy == "sample"
    columns = SAMPLE_COLUMNS if sampling else COLUMNS
    header = Text(style="bold")
    for title, width, right in columns:
        _cell(header, title, width, right)
    for name, width in policies:
        active = name == current.config.policy
        title = ("▸" if active else "") + short_policy(name)
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
            _cell(line, prob(slot.q), 4, right=True)
            note = "—" if kind is PieceKind.UNCHECKED else "…"
            for _, width, right in columns[3:]:
                _cell(line, note, width, right, style="dim")
            for _, width in policies:
                _cell(line, note.center(width), width, style="dim")
            lines.append(line)
            continue
        check = view.check
        rejected_seen = rejected_seen or not check.accepted
        kind = PieceKind.DRAFT if check.accepted else PieceKind.REJECTED
        gates = check.gates.as_dict()
        middle = (
            (prob(check.chance.accept_probability), prob(check.chance.uniform))
            if sampling
            else (str(check.rank),)
        )
        cells: tuple[str | Text, ...] = (
            Text(quoted(view.text, 7), style=PIECE_STYLES[kind]),
            prob(check.q),
            prob(check.p),
            *middle,
            quoted(view.top1_text, 6),
            *(() if sampling else (prob(check.p_top1),)),
            prob(check.margin),
            Text(" ").join(mark(gates[key]) for key in GATE_KEYS),
        )
        for content, (_, width, right) in zip(cells, columns[1:], strict=True):
            _cell(line, content, width, right)
        for name, width in policies:
            verdict = Text("▸" if name == check.policy else " ", style="bold")
            verdict.append_text(mark(check.verdicts[name]))
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
