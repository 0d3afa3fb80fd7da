"""Running statistics, under the names the README's definitions table gives them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from spectui.app.format import sparkline
from spectui.app.widgets.panel import Panel
from spectui.engine.cost.model import (
    derived_spans,
    measured_speedup,
    predicted_speedup,
    timed_span_for,
)

if TYPE_CHECKING:
    from spectui.engine.cost.model import CostModel
    from spectui.engine.models.agreement import BlockStepAgreement
    from spectui.engine.stats import StatsSnapshot

SHOWN_POSITIONS = 5  # per-position figures written out (the sparkline shows every position)

# Each cell's label and what its figures are, as the README's Definitions table gives them
# (the help screen shows this table; a test holds every cell to an entry).
DEFINITIONS: dict[str, str] = {
    "draft acc.": "accepted / drafted (vLLM's acceptance rate), with both counts",
    "α per token": "accepted / judged: drafts the verifier's verdict was read for; a round "
    "stops at its first rejection, so the drafts after it are not judged (Leviathan's α)",
    "τ": "tokens appended / rounds, the verifier's own token included; `accepted` beside it "
    "is accepted drafts / rounds, τ without the verifier's token",
    "expected τ": "E[tokens] of each round run, with its own k, max-accept cap and bonus, at α "
    "measured below the cap, averaged; (1 − α^(k+1)) / (1 − α) only with no cap and the "
    "bonus on",
    "vLLM length": "vLLM's mean acceptance length, 1 + accepted / rounds; τ only when every "
    "round appends one verifier token",
    "rounds": "rounds run · tokens appended · tok/s = tokens / (draft + verify seconds)",
    "per pos.": "[i] = rounds that accepted draft i / rounds that drafted it (vLLM's)",
    "cond. pos.": "[i] = rounds that accepted draft i / rounds that judged it, every earlier "
    "draft accepted (EAGLE's n-α)",
    "accepted len": "histogram of rounds by accepted drafts, 0…k",
    "forwards": "model calls of each model, the prompt's prefill included",
    "last round": "the last finished round's seconds drafting (all k drafter steps) and "
    "verifying (the verifier's pass and the policy)",
    "cost model": "c = drafter step / verifier step; r_k = verifier on k+1 tokens / on 1 "
    "token, timed at this decode's context; a round costs k·c + r_k verifier steps; then "
    "when it was timed, ± the verifier step's spread (interquartile range / median), and the "
    "load where other work kept over half the cores busy. Timed again after 5 minutes, when "
    "the load moves by a core, or after a restart on a much shorter context",
    "block ≠ step": "below float32 only (bfloat16, int4): positions of the decode's first 32 "
    "tokens where the verifier's argmax in a block of k+1 rows differs from its argmax fed one "
    "token a forward; where it does, greedy-exact is not exactly the verifier's greedy text",
    "speedup": "predicted: expected τ / mean(k·c + r_k) over the rounds; measured: tokens × "
    "one verifier step's seconds / (draft + verify seconds); both over plain decoding",
}


class StatsPanel(Panel):
    """Both acceptance conventions, τ and its model, per position, forwards, speed.

    Timings can be hidden (snapshots).
    """

    DEFAULT_CSS = """
    StatsPanel { height: auto; }
    """

    def show(
        self,
        stats: StatsSnapshot | None,
        timings: bool,
        round_seconds: tuple[float, float] | None = None,
        costs: Mapping[int, CostModel] | None = None,
        precision: BlockStepAgreement | None = None,
    ) -> None:
        """Render `stats`; if `timings`, also tokens per second, the last round's times and
        the cost model (`costs`, by draft span) with its predicted and measured speedups;
        below float32, where a block and a step disagree (`precision`, once checked)."""
        self.border_title = "stats"
        if stats is None or stats.rounds == 0:
            self.show_content(Text("No finished round yet.", style="dim"), 0)
            return
        cells = stats_cells(stats, timings)
        if timings and round_seconds is not None:
            # a cell, not the border's subtitle: a border cuts what does not fit
            cells.append(cell("last round", round_times(round_seconds)))
        if timings and costs:
            cells += cost_cells(stats, costs)
        if precision is not None:
            cells.append(precision_cell(precision))
        grid = StatsGrid(cells)
        # Laid out again only when its line count moves (a cost model or a precision check
        # arriving, a figure wrapping): a height kept from fewer cells cut the last ones off.
        self.show_content(grid, self._lines(grid))

    def _lines(self, grid: StatsGrid) -> int | None:
        """How many lines `grid` takes at the panel's width (None before it has one)."""
        width = self.content_region.width
        if width <= 0:
            return None
        console = self.app.console
        return sum(1 for _ in grid.__rich_console__(console, console.options.update_width(width)))


class StatsGrid:
    """Stat cells laid out two per line where a pair fits, one per line otherwise; a cell
    wider than the panel wraps between its words, so no figure is ever cut.

    Laid out by hand, as a two-column grid two cells apart: a Rich Table costs ten times as
    much to measure, and the panel redraws with every round."""

    GAP = 2
    TWO_COLUMNS = 72  # the width from which two cells may share a line
    CONTINUATION = "  "  # a wrapped cell's later lines, indented under its label

    def __init__(self, cells: list[Text]) -> None:
        self.cells = cells

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        lines = self._two_columns(width) or [cell.copy() for cell in self.cells]
        widest = min(width, max((line.cell_len for line in lines), default=0))
        for line in lines:
            for part in self._wrapped(line, console, width):
                part.pad_right(widest - part.cell_len)  # a grid's rows are equally wide
                part.no_wrap = True
                yield part

    def _two_columns(self, width: int) -> list[Text] | None:
        """The cells two to a line (a pair too wide for the panel on two), or None where the
        panel is too narrow for pairs."""
        if width < self.TWO_COLUMNS:
            return None
        pairs = [self.cells[start : start + 2] for start in range(0, len(self.cells), 2)]
        left, paired = self._left_column(pairs, width)
        lines: list[Text] = []
        for pair, two in zip(pairs, paired, strict=True):
            if not two:
                lines.extend(cell.copy() for cell in pair)
                continue
            line = pair[0].copy()
            line.append(" " * (left - line.cell_len + self.GAP))
            line.append_text(pair[1])
            lines.append(line)
        return lines

    def _left_column(self, pairs: list[list[Text]], width: int) -> tuple[int, list[bool]]:
        """The left column's width that lets the most pairs share a line, and which do: a
        pair fits where its left cell is no wider than the column and its right cell fits
        beside it (a wide pair on two lines no longer widens the column for the others)."""
        best: tuple[int, list[bool]] = (0, [False] * len(pairs))
        for column in sorted({pair[0].cell_len for pair in pairs if len(pair) == 2}):
            fits = [
                len(pair) == 2
                and pair[0].cell_len <= column
                and column + self.GAP + pair[1].cell_len <= width
                for pair in pairs
            ]
            if sum(fits) > sum(best[1]):
                best = (column, fits)
        return best

    def _wrapped(self, line: Text, console: Console, width: int) -> list[Text]:
        """`line` as is when it fits, else broken between words, later lines indented."""
        if line.cell_len <= width:
            return [line]
        first, *rest = line.wrap(console, width, overflow="fold")
        if not rest:
            return [first]
        indent = len(self.CONTINUATION)
        tail = Text(" ").join(rest)
        tail.rstrip()
        parts = [first.copy()]
        parts[0].rstrip()
        for part in tail.wrap(console, width - indent, overflow="fold"):
            part.rstrip()
            parts.append(Text(self.CONTINUATION) + part)
        return parts


def round_times(round_seconds: tuple[float, float]) -> str:
    """The last finished round's "draft 3.1 ms · verify 8.2 ms"."""
    draft, verify = round_seconds
    return f"draft {draft * 1000:.1f} ms · verify {verify * 1000:.1f} ms"


def cell(label: str, *parts: str | tuple[str, str]) -> Text:
    """A bold label and its value."""
    return Text.assemble((label + " ", "bold"), *parts)


def positions(label: str, figures: tuple[float, ...], style: str) -> Text:
    """A per-position figure as a sparkline and its first values."""
    shown = " ".join(f"{value:.1f}" for value in figures[:SHOWN_POSITIONS])
    return cell(label, (sparkline(figures, top=1.0), style), " " + shown)


def cost_cells(stats: StatsSnapshot, costs: Mapping[int, CostModel]) -> list[Text]:
    """c and r_k at the latest span the rounds used, and both speedups over plain decoding."""
    k = stats.round_shapes[-1].k if stats.round_shapes else min(costs)
    cost = costs.get(k) or costs[min(costs)]
    predicted = predicted_speedup(stats, costs)
    measured = measured_speedup(stats, cost.verifier_step)
    return [
        cell(
            "cost model",
            f"c {cost.c:.2f} · r_{cost.k} {cost.r_k:.2f}",
            (f" (k·c+r_k {cost.round_cost:.2f})", "dim"),
            (f" · {cost.provenance(time.time())}", "yellow" if cost.under_load else "dim"),
        ),
        cell(
            "speedup",
            ("—" if predicted is None else f"{predicted:.2f}×", "bold"),
            " predicted · ",
            "—" if measured is None else f"{measured:.2f}×",
            " measured",
            (_derived_note(stats, costs), "dim"),
        ),
    ]


def precision_cell(precision: BlockStepAgreement) -> Text:
    """`block ≠ step 2/32 positions (blocks of 4, this text)`: a pair below float32."""
    style = "yellow" if precision.differ else ""
    return cell(
        "block ≠ step",
        (f"{precision.differ}/{precision.positions}", style),
        " positions",
        (f" (blocks of {precision.block}, this text)", "dim"),
    )


def _derived_note(stats: StatsSnapshot, costs: Mapping[int, CostModel]) -> str:
    """Which spans' costs the prediction derived, e.g. " (k=3 derived from k=5)"."""
    derived = derived_spans(stats, costs)
    if not derived:
        return ""
    sources = sorted({timed_span_for(costs, k) for k in derived})
    spans, timed = ",".join(map(str, derived)), ",".join(map(str, sources))
    return f" (k={spans} derived from k={timed})"


def stats_text(stats: StatsSnapshot, timings: bool) -> StatsGrid:
    """The statistics as labelled cells (each figure a property of `stats`)."""
    return StatsGrid(stats_cells(stats, timings))


def stats_cells(stats: StatsSnapshot, timings: bool) -> list[Text]:
    """The statistics' labelled cells (each figure a property of `stats`)."""
    histogram = stats.accepted_length_histogram
    speed = f" · {stats.tokens_per_second:.0f} tok/s" if timings else ""
    return [
        cell(
            "draft acc.",
            f"{stats.draft_acceptance_rate:.2f} · {stats.accepted}/{stats.drafted} drafted",
        ),
        cell("α per token", f"{stats.alpha:.2f} · {stats.accepted}/{stats.judged} judged"),
        cell("τ", f"{stats.tokens_per_round:.2f}/round · accepted {stats.accepted_per_round:.2f}"),
        cell(
            "expected τ",
            (f"{stats.predicted_tokens_per_round:.2f}", "bold"),
            (" (k, cap, bonus)", "dim"),
        ),
        cell(
            "vLLM length",
            f"{stats.mean_acceptance_length:.2f}",
            (" = 1+accepted/round", "dim"),
        ),
        cell("rounds", f"{stats.rounds} · {stats.new_tokens} tokens{speed}"),
        positions("per pos.", stats.per_position_acceptance, "green"),
        positions("cond. pos.", stats.per_position_conditional, "yellow"),
        cell(
            "accepted len",
            (sparkline([float(n) for n in histogram]), "cyan"),
            (f" 0…{len(histogram) - 1}", "dim"),
        ),
        cell("forwards", f"verifier {stats.verifier_forwards} · drafter {stats.drafter_forwards}"),
    ]
