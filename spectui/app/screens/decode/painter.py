"""How the decode screen paints: the repaint effects carried out, throttled, each panel drawn
from the view model (view_model.py) when its inputs changed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.css.scalar import Scalar
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from spectui.app.pacing import FAST_REDRAW_INTERVAL, FULL_REDRAW_INTERVAL, REDRAW_INTERVAL
from spectui.app.screens.decode.state import ScreenState
from spectui.app.screens.decode.view_model import Layout, ScreenView
from spectui.app.screens.too_small import say_if_too_small
from spectui.app.widgets import (
    GatePanel,
    StatsPanel,
    StatusHeader,
    StatusLine,
    TokenDetail,
    TokenStream,
    TokenTree,
)
from spectui.app.widgets.panel import BORDER_SPARE, Panel

PALETTE_HINT = 140  # columns from which the Footer also shows ^p palette (at 120 keys fill it)


def _display(widget: Widget, shown: bool) -> None:
    """Show or hide a panel (set only on a change: each redraw asks)."""
    if widget.display != shown:
        widget.display = shown


class Painter:
    """Paints one decode screen's panels from its state, at most every REDRAW_INTERVAL."""

    def __init__(self, screen: Screen[None], state: Callable[[], ScreenState]) -> None:
        """`screen`: where the panels are; `state`: what they show now (read, never written)."""
        self.screen = screen
        self._state = state
        self.status_text = ""  # what the header says after "spectui — "
        self._pending = False
        self._last = 0.0
        self._last_full = 0.0  # when the last redraw of every panel was
        self._last_stats = 0.0  # when the stats were last drawn
        self._unshown = 0  # engine events handled but not yet drawn

    @property
    def state(self) -> ScreenState:
        """The screen's state as it is now."""
        return self._state()

    def reset(self) -> None:
        """A new run: nothing of the old one is left to draw."""
        self._unshown = 0

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a decode message in the status line, instead of the one before."""
        self.screen.query_one(StatusLine).say(text, severity)

    async def drawn(self) -> None:
        """Wait for a throttled redraw still to come (tests)."""
        while self._pending:
            await asyncio.sleep(REDRAW_INTERVAL / 5)

    def redraw_soon(self, counted: int) -> None:
        """Redraw once the queued messages are handled, at most every REDRAW_INTERVAL.

        One redraw covers a burst of events, and the pause between redraws leaves the UI
        thread free for key presses (autoplay waits for each redraw, so it never floods; fast-
        forward never waits and posts a batch per round). Key presses redraw at once, through
        their actions. `counted`: how many engine events the message held.
        """
        self._unshown += counted
        if self._pending:
            return
        self._pending = True
        interval = FAST_REDRAW_INTERVAL if self.state.control.fast else REDRAW_INTERVAL
        wait = self._last + interval - time.monotonic()
        if wait > 0:
            self.screen.set_timer(wait, self._redraw)
        else:
            self.screen.call_later(self._redraw)

    def _redraw(self) -> None:
        self._pending = False
        self._last = now = time.monotonic()
        # At engine speed, between the redraws of every panel, only the progress.
        progress_only = self.state.control.fast and now - self._last_full < FULL_REDRAW_INTERVAL
        self.refresh_view(progress_only=progress_only)
        self.state.control.handled(self._unshown)
        self._unshown = 0

    def resized(self) -> None:
        """Fit the Footer and the panels to the new size."""
        screen = self.screen
        # The Footer's keys fit only without the palette hint below PALETTE_HINT columns (ctrl+p
        # still opens it, and the help screen lists it).
        palette = screen.size.width >= PALETTE_HINT
        screen.query_one(Footer).show_command_palette = palette
        screen.refresh_bindings()  # from WIDE columns the Footer shows more keys
        say_if_too_small(screen)
        self.refresh_view(force=True)  # which shows and hides the panels for the new size

    def scroll_to_end(self) -> None:
        """Back to live: the stream follows its end again."""
        self.screen.query_one(TokenStream).scroll_end(animate=False)

    def view(self) -> ScreenView:
        """The view model of the state as it is now, at the screen's size."""
        size = self.screen.size
        return ScreenView(self.state, size.width, size.height)

    def show_panels(self, layout: Layout) -> None:
        """Show and hide the panels as `layout` says; a tree hidden lets go of the focus.

        Done with `display` rather than a CSS class on the screen: a class change restyles
        every widget, which is too slow to do on each arrow key.
        """
        screen = self.screen
        _display(screen.query_one(TokenDetail), layout.detail)
        _display(screen.query_one(GatePanel), layout.gates)
        _display(screen.query_one(StatsPanel), layout.stats)
        token_tree = screen.query_one(TokenTree)
        _display(token_tree, layout.tree)
        if not layout.tree and token_tree.has_focus:
            screen.set_focus(None)
        if token_tree.max_rows != layout.tree_rows:
            token_tree.max_rows = layout.tree_rows
        detail, room = screen.query_one(TokenDetail), layout.detail_rows
        if detail.styles.max_height != (None if room is None else Scalar.from_number(room)):
            detail.styles.max_height = room

    def refresh_view(self, force: bool = False, progress_only: bool = False) -> None:
        """Redraw the panels whose inputs changed (`force`: all of them; `progress_only`: only
        the header and the stream, the others at the next redraw that is not)."""
        screen = self.screen
        if not screen.is_mounted:
            return
        if not progress_only:
            self._last_full = time.monotonic()
        view = self.view()
        self.paint_header(view)
        self.paint_error(view)
        if force:
            screen.query_one(TokenStream).forget()
            for panel in screen.query(Panel):
                panel.forget()
            screen.query_one(TokenTree).forget()
        self.paint_stream(view)
        if progress_only:
            return
        self.show_panels(view.layout)
        self.paint_tree(view)
        gates = screen.query_one(GatePanel)
        if not gates.unchanged(view.gates_key):
            part = view.gates
            hint, past, branch, room = part.hint, part.past, part.branch, part.room
            gates.show(part.round, part.highlight, hint, past=past, branch=branch, room=room)
        detail = screen.query_one(TokenDetail)
        if not detail.unchanged(view.detail_key):
            shown = view.detail
            detail.show(shown.piece, shown.live, shown.drafted, shown.round_shown)
        self.paint_stats(view, force)

    def paint_stream(self, view: ScreenView) -> None:
        """The stream: the loading view, or the decode's tokens if they changed."""
        stream = self.screen.query_one(TokenStream)
        part = view.stream
        if part.loading is not None:
            stream.show_message(part.loading, shape=part.loading_shape)
        elif not stream.unchanged(view.stream_key):
            stream.show(part.decode, part.pieces, part.selected, part.viewed, part.marks)
        room = stream.content_size.width - BORDER_SPARE
        forms = part.subtitles
        stream.border_subtitle = next((f for f in forms if len(f) <= room), forms[-1])

    def paint_tree(self, view: ScreenView) -> None:
        """The token tree of a tree round on screen, if its inputs changed."""
        key = view.tree_key
        token_tree = self.screen.query_one(TokenTree)
        if key is None or token_tree.unchanged(key):
            return
        part = view.tree
        token_tree.show(part.tree, part.texts, part.root, finished=part.finished)

    def paint_stats(self, view: ScreenView, force: bool) -> None:
        """The stats, if their inputs changed; at engine speed at most once a second, whoever
        asks: a key's redraw draws what the key changed, not the counts the engine moved on
        meanwhile (their ~5 ms and 14 lines were part of every key's repaint). The decode's
        end is drawn at once (the worker may not have left engine speed yet)."""
        state, now = view.state, time.monotonic()
        recent = now - self._last_stats < FULL_REDRAW_INTERVAL
        if state.control.fast and recent and not force and state.phase != "finished":
            return
        stats = self.screen.query_one(StatsPanel)
        if not stats.unchanged(view.stats_key):
            part = view.stats
            stats.show(part.stats, part.timings, part.round_seconds, part.costs, part.precision)
            self._last_stats = now

    def paint_error(self, view: ScreenView) -> None:
        """The error panel: shown with its keys while there is an error."""
        error = self.screen.query_one("#error", Static)
        error.display = view.error is not None
        if view.error is not None:
            error.border_title = "error"
            error.update(view.error)

    def refresh_header(self) -> None:
        """The header names the active policy, the round, and what the engine is doing."""
        if self.screen.is_mounted:
            self.paint_header(self.view())

    def paint_header(self, view: ScreenView) -> None:
        """The header, from `view`."""
        self.status_text = view.header
        self.screen.query_one(StatusHeader).show(self.status_text, view.models)
