"""Running statistics, under the names the README's definitions table gives them."""

from __future__ import annotations

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
    from spectui.engine.stats import StatsSnapshot

SHOWN_POSITIONS = 5  # per-position figures written out (the sparkline shows every position)


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
    ) -> None:
        """Render `stats`; if `timings`, also tokens per second, the last round's times and
        the cost model (`costs`, by draft span) with its predicted and measured speedups."""
        self.border_title = "stats"
        self.border_subtitle = round_times(round_seconds) if timings else ""
        if stats is None or stats.rounds == 0:
            self.show_content(Text("No finished round yet.", style="dim"), 0)
            return
        cells = stats_cells(stats, timings)
        if timings and costs:
            cells += cost_cells(stats, costs)
        self.show_content(StatsGrid(cells), 1)  # always the same cells


class StatsGrid:
    """Stat cells laid out two per line when there is room, one per line otherwise.

    Laid out by hand, as a two-column grid two cells apart: a Rich Table costs ten times as
    much to measure, and the panel redraws with every round."""

    GAP = 2
    TWO_COLUMNS = 72  # the width from which two cells share a line

    def __init__(self, cells: list[Text]) -> None:
        self.cells = cells

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        columns = 2 if options.max_width >= self.TWO_COLUMNS else 1
        left = max((cell.cell_len for cell in self.cells[::columns]), default=0)
        lines = []
        for start in range(0, len(self.cells), columns):
            line = self.cells[start].copy()
            if columns == 2 and start + 1 < len(self.cells):
                line.append(" " * (left - line.cell_len + self.GAP))
                line.append_text(self.cells[start + 1])
            lines.append(line)
        width = max((line.cell_len for line in lines), default=0)
        for line in lines:  # every line as wide as the widest, as a grid's rows are
            line.pad_right(width - line.cell_len)
            line.no_wrap, line.overflow = True, "ellipsis"
            yield line


def round_times(round_seconds: tuple[float, float] | None) -> str:
    """The last finished round's "draft 3.1 ms · verify 8.2 ms" ("" before the first)."""
    if round_seconds is None:
        return ""
    draft, verify = round_seconds
    return f"round: draft {draft * 1000:.1f} ms · verify {verify * 1000:.1f} ms"


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
