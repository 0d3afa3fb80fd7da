"""One observed request as the server reported it (and as n-gram lookup rebuilt it, where it
did): the stream by verify step, its figures, and in words what spectui cannot see."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from spectui.app.keys import help_and_quit_first, offered_bindings
from spectui.app.observe.keys import REQUEST_BINDINGS, ObserveHelp
from spectui.app.observe.saving import save_request_trace
from spectui.app.observe.view import figures_table, prompt_start, stream_text
from spectui.app.widgets import StatusHeader, StatusLine
from spectui.engine.observe.request import ObservedRequest, visibility

WIDE = 120  # from here the figures sit beside the stream; below, under it


class RequestScreen(Screen[None]):
    """A request the server reported, step by step."""

    BINDINGS = REQUEST_BINDINGS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    AUTO_FOCUS = "#request-steps"

    def __init__(self, request: ObservedRequest, timings: bool = True) -> None:
        super().__init__()
        self.request = request
        self.timings = timings  # the request's times shown (tests hide them: they vary)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """? and q first in the Footer, whatever has the focus."""
        return help_and_quit_first(super().active_bindings)

    def compose(self) -> ComposeResult:
        request = self.request
        yield StatusHeader()
        with Horizontal(id="request-main"):
            with VerticalScroll(id="request-steps", classes="panel") as steps:
                steps.border_title = "tokens by verify step"
                yield Static(stream_text(request), id="request-stream")
            with Vertical(id="request-side"):
                figures = Static(figures_table(request, self.timings), id="request-figures")
                figures.add_class("panel")
                figures.border_title = "acceptance"
                yield figures
                seen = Static(visibility(request), id="request-seen", classes="panel")
                seen.border_title = "what spectui sees"
                yield seen
        yield StatusLine(id="status-line")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        request = self.request
        self.query_one(StatusHeader).show(
            f"observed request {request.number} · k={request.observed.k} · "
            f"{prompt_start(request.observed.prompt)}"
        )

    def action_close(self) -> None:
        """Back to the table of requests."""
        self.dismiss()

    def action_save_trace(self) -> None:
        """Save the request's rebuilt decode as a trace (or say why there is none)."""
        self.query_one(StatusLine).say(*save_request_trace(self.request))

    def action_help(self) -> None:
        """List every key and what the figures are."""
        self.app.push_screen(ObserveHelp(offered_bindings(self.BINDINGS, self.check_action)))

    def action_quit(self) -> None:
        """Quit."""
        self.app.exit()
