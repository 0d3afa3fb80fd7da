"""Running statistics, with Leviathan et al.'s expected tokens per round beside the measured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from spectui.app.format import sparkline
from spectui.app.widgets.panel import Panel
from spectui.engine.stats import expected_tokens_per_round

if TYPE_CHECKING:
    from spectui.engine.stats import StatsSnapshot


class StatsPanel(Panel):
    """Acceptance, accepted lengths, forwards, speed; timings can be hidden (snapshots)."""

    DEFAULT_CSS = """
    StatsPanel { height: auto; }
    """

    def show(self, stats: StatsSnapshot | None, k: int, timings: bool) -> None:
        """Render `stats` for draft span `k` (the formula's k)."""
        self.border_title = "stats"
        if stats is None or stats.rounds == 0:
            self.show_content(Text("No finished round yet.", style="dim"), 0)
            return
        self.show_content(stats_text(stats, k, timings), 1)  # always eight cells


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


def stats_text(stats: StatsSnapshot, k: int, timings: bool) -> StatsGrid:
    """The statistics as labelled cells."""
    alpha = stats.acceptance_rate
    expected = expected_tokens_per_round(alpha, k)

    def cell(label: str, *parts: str | tuple[str, str]) -> Text:
        return Text.assemble((label + " ", "bold"), *parts)

    histogram = stats.accepted_length_histogram
    speed = f" · {stats.tokens_per_second:.1f} tok/s" if timings else ""
    return StatsGrid(
        [
            cell("α", f"{alpha:.2f} · {stats.accepted}/{stats.drafted} drafts accepted"),
            cell("rounds", f"{stats.rounds} · accepted/round {stats.mean_accepted:.2f}"),
            cell("tokens/round", f"{stats.mean_tokens_per_round:.2f} measured"),
            cell(
                "expected", (f"{expected:.2f}", "bold"), (f" = (1−α^{k + 1})/(1−α), k={k}", "dim")
            ),
            cell(
                "per position",
                (sparkline(stats.per_position_acceptance, top=1.0), "green"),
                " " + " ".join(f"{a:.1f}" for a in stats.per_position_acceptance[:6]),
            ),
            cell(
                "accepted len",
                (sparkline([float(n) for n in histogram]), "cyan"),
                (f" 0…{len(histogram) - 1}", "dim"),
            ),
            cell(
                "forwards", f"verifier {stats.verifier_forwards} · drafter {stats.drafter_forwards}"
            ),
            cell("new tokens", f"{stats.new_tokens}{speed}"),
        ]
    )
