"""The selected token: its gate row spelled out and the verifier's top-k as bars."""

from __future__ import annotations

import math

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.text import Text

from spectui.app.format import PIECE_NAMES, PIECE_STYLES, bar, mark, prob, quoted
from spectui.app.looks.catalog import looks_of, short_name, shown_gates
from spectui.app.rounds import CheckView, Piece, PieceKind
from spectui.app.widgets.panel import Panel
from spectui.engine.policy.registry import POLICIES

LABEL_WIDTH = 9
# What a draft token that has no check of its own says, by kind.
UNJUDGED = {
    PieceKind.PENDING: "not judged yet: space reveals the next check.",
    PieceKind.UNCHECKED: "discarded unjudged: its round stopped at an earlier draft.",
}


class TokenDetail(Panel):
    """One token in full: what the drafter proposed, how each gate and policy judged it."""

    DEFAULT_CSS = """
    TokenDetail { height: auto; }
    """

    @property
    def _sized_by_content(self) -> bool:
        height = self.styles.height
        return height is None or height.is_auto

    def show(
        self, piece: Piece | None, live: bool, drafted: bool = True, round_shown: int | None = None
    ) -> None:
        """Render `piece` (None: nothing to show yet); `live` means it follows the latest check;
        `drafted`: its round drafted tokens (a bonus in a round of none follows no draft);
        `round_shown`: an earlier round stepped back to (`b`), whose last check this is."""
        if round_shown is not None:
            self.border_title = f"round {round_shown + 1} · last check"
        else:
            self.border_title = "latest check" if live else "selected token"
        self.border_subtitle = "←/→ select · esc live" if live else "esc back to live"
        if piece is None:
            self.show_content(
                Text("No gate check yet. Press space to step.", style="dim"),
                1 if self._sized_by_content else None,
            )
            return
        lines = _describe(piece, drafted)
        height = sum(len(line.rows) if isinstance(line, Bars) else 1 for line in lines)
        # Only a panel sized by its content (height: auto) needs a layout when lines change.
        self.show_content(Group(*lines), height if self._sized_by_content else None)


class Bars:
    """The verifier's top tokens as bars sized to the width they are drawn at."""

    NOTE_WIDTH = len(" ◀ draft")  # the longest note a row carries

    def __init__(self, rows: list[tuple[str, float, str]]) -> None:
        self.rows = rows  # (token text, p, note: "draft", "this" or "" for the others)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(4, options.max_width - LABEL_WIDTH - 1 - 5 - self.NOTE_WIDTH)
        # Scaled to the top-1 token, so a flat distribution still shows its shape; the
        # number beside each bar is the probability itself.
        top = max((p for _, p, _ in self.rows), default=0.0) or 1.0
        for text, p, note in self.rows:
            line = Text(quoted(text, LABEL_WIDTH).ljust(LABEL_WIDTH) + " ")
            line.append(bar(p / top, width), style="bold green" if note else "cyan")
            line.append(f" {prob(p)}")
            if note:
                line.append(f" ◀ {note}", style="bold")
            yield line


# A tree node whose gates accepted it, on a branch the walk did not take (never in the output).
OFF_PATH_NAME = "accepted, off the path"


def _describe(piece: Piece, drafted: bool) -> list[RenderableType]:
    where = f"round {piece.round_index + 1}"
    if piece.depth is not None and piece.position is not None:
        # Two numbers, each named: the tree panel's row shows the walk step.
        if piece.walk_step is not None:
            where += f", walk step {piece.walk_step + 1}"
        where += f", tree node {piece.position + 1} at depth {piece.depth}"
    elif piece.position is not None:
        where += f", draft #{piece.position + 1}"
    head = Text.assemble(
        (quoted(piece.text), PIECE_STYLES[piece.kind]),
        "  ",
        (OFF_PATH_NAME if piece.off_path else PIECE_NAMES[piece.kind], "bold"),
        f" · {where}",
    )
    view = piece.check
    if piece.kind is PieceKind.BONUS:
        after = "after a fully accepted draft" if drafted else "(no drafts this round)"
        return [head, Text(f"The verifier's own next token {after}: no gate check.", style="dim")]
    if view is None:
        q = f"q {prob(piece.q)} · " if piece.q is not None else ""
        return [head, Text(q + UNJUDGED.get(piece.kind, "no gate check."), style="dim")]
    correction = piece.kind is PieceKind.CORRECTION
    lines: list[RenderableType] = [head]
    if correction:  # its own numbers first, then the draft it replaced and why that failed
        lines.append(_correction_p(piece, view))
        lines.append(
            Text.assemble(
                "replaces the rejected draft ",
                (quoted(view.text, 12), PIECE_STYLES[PieceKind.REJECTED]),
                ":",
            )
        )
    same = _same_token(piece, view)
    if same:
        lines.append(Text(same, style="bold"))
    lines.extend(_judgement(view, indent="  " if correction else ""))
    lines.append(
        Text(f"verifier top-{len(view.alternatives)} (bars relative to top-1)", style="bold")
    )
    lines.append(Bars(_bar_rows(piece, view)))
    if view.check.rank > len(view.alternatives):
        draft = "the rejected draft" if correction else "the draft"
        lines.append(Text(f"({draft} ranks {view.check.rank}: below the bars)", style="dim"))
    return lines


def _same_token(piece: Piece, view: CheckView) -> str:
    """In words, when a correction is the very token its rejected draft was (soft-guarded
    refusing the verifier's own top-1 on its p threshold, say); "" otherwise."""
    check = view.check
    if piece.kind is PieceKind.CORRECTION and piece.token_id == check.token_id:
        return (
            f"the same token as the rejected draft: {_refused(view)}; the verifier's own "
            "token there is this one, so the text is unchanged and the round ends here"
        )
    if piece.kind is PieceKind.REJECTED and piece.replaced_by == check.token_id:
        return (
            f"the verifier's top-1 itself, yet {_refused(view)}; its correction is this same "
            "token, appended again (the text is unchanged, the round ends here)"
        )
    return ""


def _refused(view: CheckView) -> str:
    """Which of the active policy's gates refused the draft, e.g. "soft-guarded failed it on
    p≥0.1 ✗"."""
    check, config = view.check, view.config
    if check.policy not in POLICIES:  # an old trace's policy, no longer registered
        return f"{check.policy} refused it"
    label, gates = POLICIES.label(check.policy), looks_of(check.policy).gates
    failed = [gate.rule(config) + " ✗" for gate in gates if not check.gates.get(gate.key)]
    if not failed:
        return f"{label} refused it"
    return f"{label} failed it on {', '.join(failed)}"


def _correction_p(piece: Piece, view: CheckView) -> Text:
    """The verifier's p of a correction token itself, or honestly where it is not known."""
    known = piece.verifier_p()
    if known is not None:
        p, rank = known
        top1 = " (its top-1)" if rank == 1 else ""
        return Text(f"verifier p {prob(p)} · rank {rank}{top1}")
    shown = view.check.alternatives
    if not shown:
        return Text("verifier p not recorded", style="dim")
    # A residual draw (speculative sampling) can land outside the top tokens kept: its p is
    # at most the last one shown (rounded up, so the bound stays true).
    bound = math.ceil(shown[-1][1] * 100) / 100
    return Text(f"verifier p ≤ {bound:.2f}: below the top-{len(shown)} shown", style="dim")


def _bar_rows(piece: Piece, view: CheckView) -> list[tuple[str, float, str]]:
    """(text, p, note) per alternative: the draft marked, and a correction as "this"."""
    this = piece.token_id if piece.kind is PieceKind.CORRECTION else None
    notes = {view.check.token_id: "draft"}
    if this is not None:
        notes[this] = "this"
    return [
        (text, p, notes.get(token_id, ""))
        for (text, p), (token_id, _) in zip(view.alternatives, view.check.alternatives, strict=True)
    ]


def _judgement(view: CheckView, indent: str = "") -> list[Text]:
    """The measures, each gate against its threshold, the coin, and every policy's verdict."""
    check, config = view.check, view.config
    lines = []
    lines.append(
        Text(f"q {prob(check.q)} · p {prob(check.p)} · rank {check.rank} · Δ {prob(check.margin)}")
    )
    lines.append(Text(f"verifier top-1 {quoted(view.top1_text, 12)} p₁ {prob(check.p_top1)}"))
    gates = Text("gates")
    for gate in shown_gates():
        gates.append(f" {gate.rule(config)}")
        gates.append_text(mark(check.gates.get(gate.key, False)))
    lines.append(gates)
    for name in POLICIES.names():  # what each policy's own test saw, e.g. sampling's coin
        explain = looks_of(name).explain
        if explain is not None and name in check.verdicts:
            lines.append(Text.assemble((explain(check, config), "dim"), mark(check.verdicts[name])))
    verdict = Text.assemble(
        ("▸ ", "bold"), (POLICIES.label(check.policy), "bold"), " ", mark(check.accepted), "  "
    )
    others = [name for name in POLICIES.verdict_names(check) if name != check.policy]
    for number, name in enumerate(others):
        verdict.append(("· " if number else "") + short_name(name) + " ", style="dim")
        verdict.append_text(mark(check.verdicts[name]))
        verdict.append(" ")
    lines.append(verdict)
    return [Text(indent) + line for line in lines] if indent else lines
