"""Running statistics, under the names the README's definitions table gives them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from spectui.app.format import sparkline
from spectui.app.widgets.panel import Panel

if TYPE_CHECKING:
    from spectui.engine.stats import StatsSnapshot

SHOWN_POSITIONS = 5  # per-position figures written out (the sparkline shows every position)


class StatsPanel(Panel):
    """Both acceptance conventions, τ and its model, per position, forwards, speed.

    Timings can be hidden (snapshots).
    """

    DEFAULT_CSS = """
    StatsPanel { height: auto; }
    """

    def show(self, stats: StatsSnapshot | None, timings: bool) -> None:
        """Render `stats`, with tokens per second if `timings`."""
        self.border_title = "stats"
        if stats is None or stats.rounds == 0:
            self.show_content(Text("No finished round yet.", style="dim"), 0)
            return
        self.show_content(stats_text(stats, timings), 1)  # always the same cells


class StatsGrid:
    """Stat cells laid out two per line when there is room, one per line otherwise."""

    def __init__(self, cells: list[Text]) -> None:
        self.cells = cells

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        columns = 2 if options.max_width >= 72 else 1
        grid = Table.grid(padding=(0, 2))
        for _ in range(columns):
            grid.add_column(no_wrap=True)
        for start in range(0, len(self.cells), columns):
            grid.add_row(*self.cells[start : start + columns])
        yield grid


def cell(label: str, *parts: str | tuple[str, str]) -> Text:
    """A bold label and its value."""
    return Text.assemble((label + " ", "bold"), *parts)


def positions(label: str, figures: tuple[float, ...], style: str) -> Text:
    """A per-position figure as a sparkline and its first values."""
    shown = " ".join(f"{value:.1f}" for value in figures[:SHOWN_POSITIONS])
    return cell(label, (sparkline(figures, top=1.0), style), " " + shown)


def stats_text(stats: StatsSnapshot, timings: bool) -> StatsGrid:
    """The statistics as labelled cells (each figure a property of `stats`)."""
    histogram = stats.accepted_length_histogram
    speed = f" · {stats.tokens_per_second:.0f} tok/s" if timings else ""
    return StatsGrid(
        [
            cell(
                "draft acc.",
                f"{stats.draft_acceptance_rate:.2f} · {stats.accepted}/{stats.drafted} drafted",
            ),
            cell("α per token", f"{stats.alpha:.2f} · {stats.accepted}/{stats.judged} judged"),
            cell(
                "τ", f"{stats.tokens_per_round:.2f}/round · accepted {stats.accepted_per_round:.2f}"
            ),
            cell(
                "expected τ",
                (f"{stats.expected_tokens_per_round:.2f}", "bold"),
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
            cell(
                "forwards", f"verifier {stats.verifier_forwards} · drafter {stats.drafter_forwards}"
            ),
        ]
    )
