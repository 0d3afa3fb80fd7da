"""The table of observed requests, worst first; enter opens one, w saves its trace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from spectui.app.keys import help_and_quit_first, offered_bindings
from spectui.app.observe.keys import REQUESTS_BINDINGS, ObserveHelp
from spectui.app.observe.saving import save_request_trace
from spectui.app.observe.view import COLUMNS, prompt_width, row_cells, stream_text
from spectui.app.widgets import StatusHeader, StatusLine
from spectui.engine.observe.request import ObservedRequest, acceptance_order, visibility

LEFT = ("prompt", "seen")  # the text columns; the figures are right-aligned


class RequestsScreen(Screen[None]):
    """Every observed request, the lowest acceptance per drafted token first."""

    @dataclass
    class Chosen(Message):
        """Enter on a request: the app opens it."""

        request: ObservedRequest

    BINDINGS = REQUESTS_BINDINGS
    AUTO_FOCUS = "#requests-table"

    def __init__(self, requests: Sequence[ObservedRequest], failure: str | None = None) -> None:
        super().__init__()
        self.requests = acceptance_order(requests)
        self.failure = failure  # a server error that ended the run early (what came is kept)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """? and q first in the Footer, whatever has the focus (the table's keys would lead)."""
        return help_and_quit_first(super().active_bindings)

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        # No cell padding: each cell starts with its own space, so that at 80 columns every
        # column fits (the seen column last, the one a scroll would hide).
        yield DataTable(id="requests-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        if self.failure is not None:  # it stays: the status line clears on the next key
            failure = Static(self.failure, id="requests-failure", classes="panel")
            failure.border_title = "the run ended early: the requests observed are kept"
            yield failure
        yield Static(id="requests-detail", classes="panel")
        yield StatusLine(id="status-line")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        rebuilt = sum(
            request.rebuilt is not None or request.local is not None for request in self.requests
        )
        self.query_one(StatusHeader).show(
            f"observe · {len(self.requests)} request(s), worst first · {rebuilt} rebuilt here"
        )
        table: DataTable[Text] = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(_cell(name, name), key=name)
        width = prompt_width(self.app.size.width)
        for request in self.requests:
            cells = row_cells(request, width)
            table.add_row(
                *(_cell(name, cell) for name, cell in zip(COLUMNS, cells, strict=True)),
                key=str(request.number),
            )
        self.show_detail()

    @property
    def highlighted(self) -> ObservedRequest | None:
        """The request under the table's cursor."""
        if not self.requests:
            return None
        return self.requests[self.query_one(DataTable).cursor_row]

    @on(DataTable.RowHighlighted)
    def row_highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        """The highlighted request's text by step and what spectui sees of it."""
        request = self.highlighted
        detail = self.query_one("#requests-detail", Static)
        if request is None:
            detail.update("(no requests)")
            return
        detail.border_title = f"request {request.number}"
        text = Text(visibility(request) + "\n\n", style="italic")
        text.append_text(stream_text(request))
        detail.update(text)

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_request()

    def action_open_request(self) -> None:
        """Open the highlighted request (the app picks the screen: `Chosen`)."""
        request = self.highlighted
        if request is not None:
            self.post_message(self.Chosen(request))

    def action_save_trace(self) -> None:
        """Save the highlighted request's rebuilt decode as a trace."""
        request = self.highlighted
        if request is not None:
            self.query_one(StatusLine).say(*save_request_trace(request))

    def action_help(self) -> None:
        """List every key and what the columns are."""
        self.app.push_screen(ObserveHelp(offered_bindings(self.BINDINGS, self.check_action)))

    def action_quit(self) -> None:
        """Quit."""
        self.app.exit()


def _cell(column: str, text: str) -> Text:
    """A cell of `column`: a space before it, the figures right-aligned."""
    return Text(f" {text}", justify="left" if column in LEFT else "right")
