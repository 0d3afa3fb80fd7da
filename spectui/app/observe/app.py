"""`spectui observe`'s app: the table of a server's requests; enter opens one.

A request spectui decoded again with a local copy of the verifier opens in the decode screen,
replaying its rebuilt trace (the gate panel, token detail and stats as in any replay); any
other opens the request screen, which shows what the server reported and says what it cannot
see. `r` goes back to the table from either.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from spectui.app.app import decode_commands, screen_commands
from spectui.app.observe.keys import BACK
from spectui.app.observe.request import RequestScreen
from spectui.app.observe.requests import RequestsScreen
from spectui.app.pacing import SWITCH_INTERVAL
from spectui.app.screens.decode import DecodeScreen
from spectui.app.sessions import TraceSession
from spectui.engine.observe.request import ObservedRequest
from spectui.engine.trace.header import TraceError
from spectui.engine.trace.reader import read_trace

APP_CSS = Path(__file__).resolve().parents[1] / "app.tcss"  # the decode screen's layout


class ObserveApp(App[None]):
    """A speculating server's observed requests, worst first, and each one step by step."""

    CSS_PATH = [APP_CSS, "observe.tcss"]
    TITLE = "spectui observe"
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, id="quit_ctrl_c"), BACK]

    def __init__(
        self,
        requests: Sequence[ObservedRequest],
        failure: str | None = None,
        timings: bool = True,
    ) -> None:
        """`failure`: a server error that ended the run early; `timings`: show the requests'
        times (tests hide them)."""
        super().__init__()
        self.requests = tuple(requests)
        self.failure = failure
        self.timings = timings

    def get_default_screen(self) -> Screen[None]:
        return RequestsScreen(self.requests, self.failure)

    def on_mount(self) -> None:
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)  # the decode screen's worker, as in SpectuiApp

    def on_unmount(self) -> None:
        sys.setswitchinterval(getattr(self, "_switch_interval", 0.005))

    @on(RequestsScreen.Chosen)
    def request_chosen(self, message: RequestsScreen.Chosen) -> None:
        self.open_request(message.request)

    def open_request(self, request: ObservedRequest) -> None:
        """The decode screen on the request's rebuilt trace, else the request screen."""
        if request.local is None or request.trace is None:
            self.push_screen(RequestScreen(request, self.timings))
            return
        try:
            trace = read_trace(request.trace)
        except TraceError as error:
            self.screen.notify(f"Request {request.number}'s trace cannot be read: {error}")
            self.push_screen(RequestScreen(request, self.timings))
            return
        session = TraceSession(trace)
        agreement = "≠ the server's steps" if request.divergence else "= the server's steps"
        session.title = f"observed request {request.number}, rebuilt {agreement} · r: requests"
        header = trace.header
        self.push_screen(
            DecodeScreen(
                header.config,
                header.prompt,
                [header.prompt],
                timings=self.timings,
                session=session,
            )
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "requests":  # only where the decode screen's escape cannot go back
            return isinstance(self.screen, DecodeScreen)
        return True

    def action_requests(self) -> None:
        """Back to the table of requests."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, RequestsScreen):
            self.pop_screen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if isinstance(screen, DecodeScreen):
            yield from decode_commands(screen)
            yield SystemCommand(BACK.description, f"{BACK.tooltip} (r)", self.action_requests)
        elif isinstance(screen, RequestsScreen | RequestScreen):
            yield from screen_commands(screen)
        yield from super().get_system_commands(screen)
