"""What the observe screens draw, as rich text made from an `ObservedRequest`: a table row,
the stream grouped by verify step, and the request's figures. No widget state lives here."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from spectui.app.format import GREY, PIECE_STYLES, RED, flowing, sparkline
from spectui.app.rounds import PieceKind
from spectui.engine.observe.request import ObservedRequest, StepGroup, step_groups, step_stats
from spectui.engine.observe.steps import histogram

COLUMNS = ("#", "prompt", "steps", "drafted", "acc.", "α drafted", "α judged", "τ", "τ−1", "seen")
PROMPT_WIDTH = 18  # the prompt's start in an 80-column table: enough to tell prompts apart
FIGURE_WIDTHS = 60  # the table's columns but the prompt, one space before each (80 columns: 78)
STEP_MARK = "│"  # between verify steps (dim): the stream stays text without colour


def number(value: float | int | None) -> str:
    """A figure in a cell: two decimals, or — where there is none (nothing drafted)."""
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def prompt_start(prompt: str, width: int = PROMPT_WIDTH) -> str:
    """The prompt's first characters on one line."""
    line = " ".join(prompt.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def seen(request: ObservedRequest) -> str:
    """The table's `seen` cell: what spectui rebuilt, and whether it is the server's."""
    if request.local is None and request.rebuilt is None:
        return "server"
    how = "engine" if request.local is not None else "ngram"
    return f"{'✗' if request.divergence else '✓'} {how}"


def prompt_width(table_width: int) -> int:
    """The prompt column's width in a table `table_width` wide: what the figures leave."""
    return max(PROMPT_WIDTH, min(60, table_width - FIGURE_WIDTHS))


def row_cells(request: ObservedRequest, width: int = PROMPT_WIDTH) -> tuple[str, ...]:
    """One request's cells, in COLUMNS' order (the prompt's first `width` characters)."""
    figures = request.figures
    return (
        str(request.number),
        prompt_start(request.observed.prompt, width),
        number(figures["steps"]),
        number(figures["drafted"]),
        number(figures["accepted"]),
        number(figures["draft_acceptance_rate"]),
        number(figures["alpha_per_judged"]),
        number(figures["tau"]),
        number(figures["accepted_per_step"]),
        seen(request),
    )


def stream_text(request: ObservedRequest) -> Text:
    """The output grouped by verify step: each step's accepted drafts, its rejected ones where
    known, then the verifier's own token; or the text whole, with why, where the steps cannot
    be placed."""
    groups = step_groups(request)
    if groups is None:
        text = Text(
            "(the tokens cannot be grouped by step: the server lists only the steps that "
            "drafted, and where the others fall is unknown)\n\n",
            style="italic",
        )
        text.append(request.observed.prompt, style="dim")
        text.append(request.observed.text)
        return text
    text = Text(request.observed.prompt, style="dim")
    for group in groups:
        text.append(STEP_MARK, style=f"dim {GREY}")
        _append_group(text, group)
    return text


def _append_group(text: Text, group: StepGroup) -> None:
    for piece in group.accepted:
        text.append(flowing(piece), style=PIECE_STYLES[PieceKind.DRAFT])
    rejected = group.drafted - len(group.accepted)
    if group.rejected is not None:
        for at, piece in enumerate(group.rejected):
            kind = PieceKind.REJECTED if at == 0 else PieceKind.UNCHECKED
            text.append(flowing(piece), style=PIECE_STYLES[kind])
    elif rejected:
        text.append(f"✗{rejected}", style=f"bold {RED}")
    if group.verifier is not None:
        text.append(flowing(group.verifier), style=_verifier_style(group, rejected))


def _verifier_style(group: StepGroup, rejected: int) -> str:
    """The verifier's token: a correction after a rejection, a bonus after every draft, bold
    on a step that drafted nothing (and the prefill's)."""
    if rejected:
        return PIECE_STYLES[PieceKind.CORRECTION]
    if group.drafted:
        return PIECE_STYLES[PieceKind.BONUS]
    return "bold"


def figures_table(request: ObservedRequest, timings: bool) -> Table:
    """τ and α under both conventions, vLLM's length, per position, the histogram, timings."""
    figures = request.figures
    stats = step_stats(request)
    table = Table(box=None, padding=(0, 1, 0, 0), show_header=False, expand=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row(
        "τ", f"{number(figures['tau'])} per step · {number(figures['accepted_per_step'])} "
        "without the verifier's token"
    )  # fmt: skip
    table.add_row(
        "α",
        f"{number(figures['alpha_per_judged'])} per judged · "
        f"{number(figures['draft_acceptance_rate'])} per drafted",
    )
    table.add_row(
        "steps",
        f"{figures['steps']} ({figures['drafting_steps']} drafted) · vLLM length "
        f"{number(figures['mean_acceptance_length'])}",
    )
    table.add_row("per pos.", _positions(stats.per_position_acceptance))
    table.add_row("cond. pos.", _positions(stats.per_position_conditional))
    counts = histogram(request.reading.steps, request.observed.k)
    table.add_row("accepted n", _histogram(counts))
    table.add_row("time", _timings(request) if timings else "(hidden)")
    return table


def _positions(values: Sequence[float]) -> str:
    if not values:
        return "—"
    return f"{sparkline(list(values), top=1.0)} " + " ".join(f"{v:.2f}" for v in values)


def _histogram(counts: Sequence[int]) -> str:
    """Steps that accepted exactly n drafts, n = 0…k."""
    return " ".join(f"{n}:{count}" for n, count in enumerate(counts))


def _timings(request: ObservedRequest) -> str:
    observed = request.observed
    parts = [f"{observed.seconds:.2f} s here"]
    served = observed.timings
    names = (("time_to_first_token_ms", "ttft"), ("mean_itl_ms", "itl"))
    parts += [f"{label} {served[name]:.1f} ms" for name, label in names if served.get(name)]
    if served.get("tokens_per_second"):
        parts.append(f"{served['tokens_per_second']:.1f} tok/s")
    if len(parts) == 1:
        parts.append("the server reported no timings")
    return " · ".join(parts)
