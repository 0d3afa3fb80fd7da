"""The web server: textual-serve's `Server`, with `access.py`'s rules on every request and a cap
on the visits open at once.

textual-serve runs `command` in a new process for each visit (each websocket), speaking to it
over its stdin and stdout, and hands a file the app delivers (`App.deliver_text`) to the
browser as a download. What this adds: the guard (a middleware over every route), the cap,
spectui's own start-up lines instead of textual-serve's logo, and no access log (a visit's
URL carries the token).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web
from textual_serve.server import Server

from spectui.serve.access import Access, guard, page

SHUTDOWN_SECONDS = 10.0  # how long ctrl+c waits for the visits' apps to quit


@dataclass
class Visits:
    """The visits (app processes) open now, and how many may be."""

    limit: int
    open: int = 0

    @property
    def full(self) -> bool:
        """Whether another visit must wait until one ends."""
        return self.open >= self.limit

    def full_page(self) -> web.HTTPException:
        """What a visitor past the cap sees instead of the app (to raise)."""
        return page(
            web.HTTPServiceUnavailable,
            "spectui: full",
            f"{self.open} visits are open, and this spectui serves at most {self.limit} at "
            "once (each runs spectui in a process of its own). Try again when one closes "
            "(quitting spectui with q, or closing its tab, ends a visit); `spectui serve "
            "--max-visits N` sets the cap.",
        )


class SpectuiServer(Server):
    """textual-serve's server, guarded by `access`, with at most `max_visits` at once."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        title: str,
        public_url: str,
        access: Access,
        max_visits: int,
        banner: str,
    ) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=public_url)
        self.access = access
        self.visits = Visits(max_visits)
        self._visit_tasks: set[asyncio.Task[object]] = set()  # each open visit's handler
        self.banner = banner

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        # Before the routes run, so no route (the websocket, a download, the static files)
        # is reached without passing it; the app is not frozen until it starts.
        app.middlewares.append(guard(self.access))
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page that opens a visit, or the full page: a page that could not start its
        visit would only show textual-serve's "Session ended"."""
        if self.visits.full:
            raise self.visits.full_page()
        response: web.StreamResponse = await super().handle_index(request)
        # Not kept, nor kept alive: a page left for another was held in the browser's
        # back/forward cache with its websocket open, and so its visit (a process, a place
        # under the cap) lived on after the visitor had gone. Its URL may carry the token, too.
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One visit: the app's process lives as long as this websocket (counted against the
        cap; one past it is refused, as when two pages raced for the last place)."""
        if self.visits.full:
            raise self.visits.full_page()
        visit = asyncio.current_task()
        assert visit is not None  # aiohttp runs each request in a task of its own
        self.visits.open += 1
        self._visit_tasks.add(visit)
        try:
            return await super().handle_websocket(request)
        finally:
            self.visits.open -= 1
            self._visit_tasks.discard(visit)

    async def on_shutdown(self, app: web.Application) -> None:
        """ctrl+c: end every visit now. Each visit's handler, cancelled, tells its app to quit
        and waits for its process; left alone, the server waited on open websockets (18 s
        with one)."""
        visits = list(self._visit_tasks)
        for visit in visits:
            visit.cancel()
        if visits:
            await asyncio.wait(visits, timeout=SHUTDOWN_SECONDS)

    def initialize_logging(self) -> None:
        super().initialize_logging()
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # URLs carry the token

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(self.banner, highlight=False, markup=False, soft_wrap=True)
