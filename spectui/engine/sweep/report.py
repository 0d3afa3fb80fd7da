"""A sweep's table and its speed/quality plot, for `spectui sweep` and the app's sweep view.

Both draw from the same `COLUMNS`, so the terminal table and the app's DataTable show the same
cells. The plot is plotext's text: x the predicted speedup, y the equal share, each setting
numbered as in the table's # column, the frontier's settings marked ★ (the others •), so it
reads without colour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from spectui.engine.sweep.file import Sweep
from spectui.engine.sweep.grid import SweepRow

if TYPE_CHECKING:
    from rich.table import Table

    from spectui.engine.cost.model import CostModel

FRONTIER_MARK = "★"
OTHER_MARK = "•"


@dataclass(frozen=True)
class SweepColumn:
    """One column of the sweep table: its header and how a row's cell reads."""

    header: str
    cell: Callable[[SweepRow], str]
    justify: Literal["left", "right"] = "right"


def _share(value: float) -> str:
    return f"{value:.1%}"


def _speedup(row: SweepRow) -> str:
    return "—" if row.predicted_speedup is None else f"{row.predicted_speedup:.2f}×"


def _divergence(row: SweepRow) -> str:
    mean = row.first_divergence
    return "none" if mean is None else f"{mean:.1f} ({row.diverged}/{len(row.outcomes)})"


COLUMNS = (
    SweepColumn("setting", lambda row: row.label, "left"),
    SweepColumn("draft acc.", lambda row: _share(row.stats.draft_acceptance_rate)),
    SweepColumn("α", lambda row: _share(row.stats.alpha)),
    SweepColumn("τ", lambda row: f"{row.stats.tokens_per_round:.2f}"),
    SweepColumn("nodes", lambda row: f"{row.stats.nodes_per_round:.1f}"),
    SweepColumn("exp. τ", lambda row: f"{row.stats.predicted_tokens_per_round:.2f}"),
    SweepColumn("pred. ×", _speedup),
    SweepColumn("tok/s", lambda row: f"{row.stats.tokens_per_second:.0f}"),
    SweepColumn("equal", lambda row: _share(row.equal_share)),
    SweepColumn("1st div.", _divergence),
    SweepColumn("log-lik", lambda row: f"{row.mean_log_likelihood:.3f}"),
    SweepColumn("off-argmax", lambda row: _share(row.off_argmax_share)),
)


def headers() -> tuple[str, ...]:
    """The table's headers: #, every column's, then the frontier mark's."""
    return ("#", *(column.header for column in COLUMNS), FRONTIER_MARK)


def cells(sweep: Sweep) -> list[tuple[str, ...]]:
    """Each row's cells in `headers()` order."""
    return [
        (str(number), *(column.cell(row) for column in COLUMNS), FRONTIER_MARK if marked else "")
        for number, (row, marked) in enumerate(zip(sweep.rows, sweep.frontier, strict=True), 1)
    ]


def justifications() -> tuple[Literal["left", "right"], ...]:
    """How each of `headers()` is aligned."""
    return ("right", *(column.justify for column in COLUMNS), "left")


def rich_table(sweep: Sweep) -> Table:
    """The table as a rich Table, titled with what was swept."""
    from rich import box
    from rich.table import Table

    header = sweep.header
    tokens = header.config.max_new_tokens
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"sweep · {len(header.prompts)} prompt(s) × {tokens} tokens · "
        f"{FRONTIER_MARK} speed/quality frontier",
        caption=caption(sweep),
        caption_justify="left",
    )
    for name, justify in zip(headers(), justifications(), strict=True):
        table.add_column(name, justify=justify, no_wrap=name == "setting")
    for row in cells(sweep):
        table.add_row(*row)
    return table


def caption(sweep: Sweep) -> str:
    """The cost model the predicted speedups come from, and what the frontier ranks by."""
    costs = " · ".join(
        f"k={k}: c={cost.c:.3f}, r_k={cost.r_k:.3f}" + _load_note(cost)
        for k, cost in sorted(sweep.costs.items())
    )
    speed = "predicted speedup" if sweep.costs else "tok/s (no cost model for served models)"
    return (
        f"pred. × = expected τ / (k·c + r_k), {costs or 'no cost model'}; "
        f"{FRONTIER_MARK}: no other setting has both a higher {speed} and a higher equal share"
    )


def _load_note(cost: CostModel) -> str:
    """ " (±4%, under load 3.1 on 2 cores: slower than idle)" where it was timed so."""
    if not cost.under_load:
        return f" (±{cost.spread:.0%})"
    return f" (±{cost.spread:.0%}, under load {cost.load:.1f} on {cost.cores} cores: not idle)"


def plot_text(sweep: Sweep, width: int, height: int, colour: bool = False) -> str:
    """The frontier plot as text (with ANSI colour codes when `colour`)."""
    import plotext as plt

    points = _labelled_points(sweep)
    xs, ys = [x for x, _, _, _ in points], [y for _, y, _, _ in points]
    plt.clear_figure()
    plt.limitsize(False, False)  # the size asked for, not the terminal's (the app's panel)
    plt.plotsize(max(width, 20), max(height, 8))
    plt.theme("pro" if colour else "clear")
    plt.xlim(*_padded(xs, before=0.05, after=0.2))  # room right of the last point for its label
    low, high = _padded(ys, before=0.1, after=0.1)
    plt.ylim(low, min(high, 1.0) if max(ys) == 1.0 else high)  # no share above 1 on the axis
    plt.scatter(xs, ys, marker=" ")  # the labels draw the points; the scatter sets the axes
    for x, y, label, marked in points:
        style = {"color": "orange"} if marked and colour else {}
        plt.text(label, x, y, alignment="left", **style)
    speed = "predicted speedup ×" if sweep.costs else "tokens/s"
    plt.xlabel(f"{speed}  ({FRONTIER_MARK} frontier, {OTHER_MARK} other; numbers: table #)")
    plt.ylabel("equal share")
    text = str(plt.build())
    return text if colour else str(plt.uncolorize(text))


def _labelled_points(sweep: Sweep) -> list[tuple[float, float, str, bool]]:
    """One point per distinct (speed, equal share), labelled with its rows' numbers: ★1,2."""
    numbers: dict[tuple[float, float], list[int]] = {}
    marked: dict[tuple[float, float], bool] = {}
    for number, (row, on) in enumerate(zip(sweep.rows, sweep.frontier, strict=True), 1):
        point = (row.speed, row.equal_share)
        numbers.setdefault(point, []).append(number)
        marked[point] = marked.get(point, False) or on
    return [
        (
            x,
            y,
            f"{FRONTIER_MARK if marked[x, y] else OTHER_MARK}{','.join(map(str, ns))}",
            marked[x, y],
        )
        for (x, y), ns in numbers.items()
    ]


def _padded(values: list[float], before: float, after: float) -> tuple[float, float]:
    """An axis range around `values`, widened by these fractions of their span."""
    low, high = min(values), max(values)
    span = high - low or max(abs(high), 1.0) * 0.1
    return low - before * span, high + after * span
