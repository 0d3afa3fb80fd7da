"""The sweep view: a finished sweep's table and its speed/quality plot; enter opens a setting.

The table is `spectui sweep`'s (the same columns, `bench.sweep_report.COLUMNS`), the plot its
plotext chart redrawn to the panel's size. Enter on a row dismisses the screen with that
setting's config; the decode screen then restarts on it with the sweep's first prompt.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from spectui.app.widgets import StatusHeader
from spectui.engine.config import DecodeConfig
from spectui.engine.sweep.file import Sweep
from spectui.engine.sweep.report import caption, cells, headers, justifications, plot_text


class SweepScreen(Screen[DecodeConfig | None]):
    """Every setting of a sweep, its figures and the frontier; enter decodes one."""

    BINDINGS = [
        Binding(
            "enter",
            "open_setting",
            "Decode it",
            tooltip="Restart the decode with the highlighted setting and the sweep's first prompt",
            id="open_setting",
            priority=True,  # before the table's own enter, so the Footer names what it does
        ),
        Binding(
            "escape,q,v",
            "close",
            "Close",
            key_display="esc",
            tooltip="Back to the decode, as it was",
            id="close_sweep",
        ),
    ]
    DEFAULT_CSS = """
    SweepScreen #sweep-table { height: auto; max-height: 50%; }
    SweepScreen #sweep-caption { height: auto; color: $text-muted; padding: 0 1; }
    SweepScreen #sweep-plot { height: 1fr; }
    """

    def __init__(self, sweep: Sweep) -> None:
        super().__init__()
        self.sweep = sweep

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
        yield Static(caption(self.sweep), id="sweep-caption")
        yield Static(id="sweep-plot", classes="panel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        header = self.sweep.header
        on = sum(self.sweep.frontier)
        self.query_one(StatusHeader).show(
            f"sweep · {len(self.sweep.rows)} settings · {len(header.prompts)} prompt(s) × "
            f"{header.config.max_new_tokens} tokens · {on} on the frontier ★"
        )
        table: DataTable[Text] = self.query_one(DataTable)
        for name, justify in zip(headers(), justifications(), strict=True):
            table.add_column(Text(name, justify=justify), key=name)
        for number, row in enumerate(cells(self.sweep)):
            table.add_row(
                *(Text(cell, justify=j) for cell, j in zip(row, justifications(), strict=True)),
                key=str(number),
            )
        plot = self.query_one("#sweep-plot", Static)
        plot.border_title = "equal share against predicted speedup"
        table.focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self.draw_plot)

    def draw_plot(self) -> None:
        """Draw the plot to fill its panel (plotext's text, its colours through rich)."""
        plot = self.query_one("#sweep-plot", Static)
        width, height = plot.content_size
        if not self.sweep.rows or width < 20 or height < 6:
            plot.update(Text("(no room for the plot)" if self.sweep.rows else "(no settings)"))
            return
        plot.update(Text.from_ansi(plot_text(self.sweep, width, height, colour=True)))

    def config_at(self, index: int) -> DecodeConfig:
        """The config of the setting in table row `index`."""
        return self.sweep.config_of(self.sweep.rows[index])

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(self.config_at(event.cursor_row))

    def action_open_setting(self) -> None:
        """Decode the highlighted setting (enter)."""
        table: DataTable[Any] = self.query_one(DataTable)
        if self.sweep.rows:
            self.dismiss(self.config_at(table.cursor_row))

    def action_close(self) -> None:
        """Back to the decode."""
        self.dismiss(None)
