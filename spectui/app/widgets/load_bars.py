"""The loading state: what is being loaded, and a bar per download and per weight load."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from spectui.engine.models.progress import Bar


def loading_view(status: str, bars: Iterable[Bar]) -> RenderableType:
    """The stage line, then each bar: its name, then the bar with done/total, rate, time left."""
    parts: list[RenderableType] = [Text(f"⏳ {status}")]
    for bar in bars:
        parts.append(Text(""))
        parts.append(Text(f"{bar.stage} · {bar.label}", style="bold"))
        parts.append(bar_row(bar))
    return Group(*parts)


def bar_row(bar: Bar) -> Table:
    """One bar and its figures, the bar taking the width the figures leave."""
    row = Table.grid(expand=True, padding=(0, 1))
    row.add_column(ratio=1)
    row.add_column(no_wrap=True)
    drawn = ProgressBar(
        total=bar.total, completed=bar.done, finished_style="green", pulse=bar.total is None
    )
    row.add_row(drawn, Text(bar.figures(), style="green" if bar.finished else ""))
    return row
