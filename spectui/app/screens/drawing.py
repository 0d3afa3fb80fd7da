"""How the decode screen draws: throttled redraws, the header's words, which panels show."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from textual.widgets import Footer, Static

from spectui.app.control import SPEEDS
from spectui.app.state import Piece, PieceKind
from spectui.app.widgets import GatePanel, StatsPanel, StatusHeader, TokenDetail, TokenStream
from spectui.app.widgets.load_bars import loading_view
from spectui.app.widgets.panel import Panel
from spectui.engine.policy.registry import policy_label
from spectui.engine.trace.source import Ability

if TYPE_CHECKING:
    from spectui.app.screens.decode import DecodeScreen

WIDE = 120  # columns from which every panel is on screen at once (and the Footer has more keys)
PALETTE_HINT = 140  # columns from which the Footer also shows ^p palette (at 120 keys fill it)
# Rows below which the stacked layout drops the stats panel: what an 80×24 terminal still
# fits under the stream and a five-draft gate table. The order things give way in, as the
# screen shrinks: in the gate table, what the active policy does not use (gate_panel.fit),
# then the stats (here), then the stream's height (down to 3 rows); the gate rows never go.
SHORT = 24
# Seconds: engine events redraw the screen at most 15 times a second. Timed autoplay waits
# for each redraw; fast-forward (f, or "max") does not: its redraws are coalesced here, and
# the idle time between them keeps keys fast (`benchmarks/app_latency.py`).
REDRAW_INTERVAL = 1 / 15
# At engine speed, at most 4 a second: a frame of a 120×40 screen takes Textual ~25 ms on a
# CPU core the engine's thread needs too (measured: the app's fast-forward speed went from
# 50% to 66% of the engine's), and nobody reads tokens flying past at hundreds a second.
FAST_REDRAW_INTERVAL = 1 / 4
IDLE_HINTS = {  # the gate panel before the first round
    "ready": "press space to draft one (f: fast-forward the whole decode)",
    "loading": "the models are loading (keys pressed now are kept)",
    "error": "the engine stopped",
    "finished": "the decode ended",
}
REPLAY_HINTS = {  # the same, in a replay: there is no model, and nothing is drafted
    "ready": "press space to play the trace's first round",
    "finished": "the trace ended",
}


def idle_hint(phase: str, replay: bool) -> str:
    """What the gate panel says before the first round, for this phase."""
    if replay and phase in REPLAY_HINTS:
        return REPLAY_HINTS[phase]
    return IDLE_HINTS.get(phase, IDLE_HINTS["ready"])


def shown_value(value: object) -> str:
    """A setting's value as messages show it: on/off, a policy's label, 0.05."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return policy_label(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


class Drawing:
    """Draws one decode screen's panels from its state, at most every REDRAW_INTERVAL."""

    def __init__(self, screen: DecodeScreen) -> None:
        self.screen = screen
        self._pending = False
        self._last = 0.0
        self._unshown = 0  # engine events handled but not yet drawn

    def reset(self) -> None:
        """A new run: nothing of the old one is left to draw."""
        self._unshown = 0

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
        interval = FAST_REDRAW_INTERVAL if self.screen.control.fast else REDRAW_INTERVAL
        wait = self._last + interval - time.monotonic()
        if wait > 0:
            self.screen.set_timer(wait, self._redraw)
        else:
            self.screen.call_later(self._redraw)

    def _redraw(self) -> None:
        self._pending = False
        self._last = time.monotonic()
        self.refresh_view()
        self.screen.control.handled(self._unshown)
        self._unshown = 0

    def resized(self) -> None:
        """Fit the Footer and the panels to the new size."""
        screen = self.screen
        # The Footer's keys fit only without the palette hint below PALETTE_HINT columns (ctrl+p
        # still opens it, and the help screen lists it).
        palette = screen.size.width >= PALETTE_HINT
        screen.query_one(Footer).show_command_palette = palette
        screen.refresh_bindings()  # from WIDE columns the Footer shows more keys
        self.show_panels()
        self.refresh_view(force=True)

    def selection_changed(self, selected: int | None) -> None:
        """A token was (de)selected."""
        self.show_panels()
        self.refresh_view()
        if selected is None:  # back to live: follow the end again
            self.screen.query_one(TokenStream).scroll_end(animate=False)

    def show_panels(self) -> None:
        """Below WIDE columns a selected token's detail takes the gate and stats panels' place,
        and below SHORT rows the stats give way to the stream and the gates.

        Done with `display` rather than a CSS class on the screen: a class change restyles
        every widget, which is too slow to do on each arrow key.
        """
        screen = self.screen
        narrow, inspecting = screen.size.width < WIDE, screen.selected is not None
        short = screen.size.height < SHORT
        screen.query_one(TokenDetail).display = not narrow or inspecting
        screen.query_one(GatePanel).display = not (narrow and inspecting)
        screen.query_one(StatsPanel).display = not (narrow and (inspecting or short))

    def refresh_view(self, force: bool = False) -> None:
        """Redraw the panels whose inputs changed (`force`: all of them)."""
        screen = self.screen
        if not screen.is_mounted:
            return
        self.refresh_header()
        self._show_error()
        decode, phase = screen.decode, screen.phase
        pieces = decode.pieces()
        selected = None if screen.selected is None else min(screen.selected, len(pieces) - 1)
        piece = pieces[selected] if selected is not None and pieces else None
        version = (screen.run_id, decode.version, phase, selected)
        if force:
            screen.query_one(TokenStream).forget()
            for panel in screen.query(Panel):
                panel.forget()
        stream = screen.query_one(TokenStream)
        if phase == "loading" and screen.error is None:
            bars = screen.load_bars.values()
            stream.show_message(loading_view(screen.load_status, bars), shape=len(bars))
        elif not stream.unchanged((version, screen.viewed, screen.text_marks)):
            stream.show(decode, pieces, selected, screen.viewed, screen.text_marks)
        stream.border_subtitle = f"←/→ inspect · {screen.models}" if screen.models else ""
        current, past = decode.round, False
        if screen.viewed is not None and (viewed := decode.round_at(screen.viewed)) is not None:
            current, past = viewed, viewed is not decode.round
        highlight = None
        if piece is not None and current is not None and piece.round_index == current.index:
            highlight = piece.position
        elif piece is None and current is not None and current.n_checked and not past:
            highlight = current.n_checked - 1
        gates = screen.query_one(GatePanel)
        if not gates.unchanged((version, highlight, screen.viewed)):
            hint = idle_hint(phase, replay=not screen.can(Ability.DECODE))
            gates.show(current, highlight, hint, past=past, branch=screen.can(Ability.BRANCH))
        detail = screen.query_one(TokenDetail)
        if not detail.unchanged(version):
            detail.show(piece or self.latest_piece(pieces), live=piece is None)
        stats = screen.query_one(StatsPanel)
        if not stats.unchanged((screen.run_id, id(decode.stats), len(screen.costs))):
            stats.show(decode.stats, screen.timings, decode.round_seconds, screen.costs)

    def _show_error(self) -> None:
        screen = self.screen
        error = screen.query_one("#error", Static)
        error.display = screen.error is not None
        if screen.error is not None:
            error.border_title = "error"
            retry = screen.retry_round()
            again = "retry" if retry is None else f"retry from round {retry + 1}"
            prompt = " · e edit the prompt" if screen.can(Ability.DECODE) else ""
            keys = f"ctrl+r {again}{prompt} · q quit"
            if not screen.error_mendable:
                keys = "q quit: no key here changes the models or the options (see above)"
            error.update(f"{screen.error}\n\n{keys}")

    def refresh_header(self) -> None:
        """The header names the active policy, the round, and what the engine is doing."""
        screen = self.screen
        if not screen.is_mounted:
            return
        config, current = screen.config, screen.decode.round
        policy = policy_label(config.policy)
        if current is not None and not current.finished and current.config.policy != config.policy:
            policy += " from next round"
        parts = [policy, f"k={config.draft_span}"]
        if current is not None and screen.viewed is not None:
            branch = " · B branch" if screen.can(Ability.BRANCH) else ""
            parts.append(f"◀ round {screen.viewed + 1}/{current.index + 1}{branch}")
        elif current is not None:
            parts.append(f"round {current.index + 1}")
        parts.append(self._state_words())
        if config.verifier_url is not None:  # the engine this decode is watching
            parts.insert(0, f"verifier @ {urlparse(config.verifier_url).netloc}")
        if screen.session.title:  # after the state: a narrow terminal cuts it first
            parts.append(screen.session.title)
        screen.status_text = " · ".join(parts)
        screen.query_one(StatusHeader).show(screen.status_text, screen.model_sizes)

    def _state_words(self) -> str:
        screen = self.screen
        speed = SPEEDS[screen.control.speed][1]
        finish = screen.decode.finish_reason
        reason = finish.value.replace("_", " ") if finish is not None else ""
        state = {
            "loading": "loading models",
            "error": "error",
            "finished": f"finished ({reason})",
        }.get(screen.phase)
        if state is None:
            state = f"▶ playing {speed}" if screen.playing else f"⏸ paused · {speed}"
            if screen.control.fast_forwarding:
                state = "⏩ fast-forward"
            if screen.busy and not screen.playing:
                state += " · working"
        return state

    def latest_piece(self, pieces: list[Piece]) -> Piece | None:
        """The piece holding the most recent gate check (what 'live' shows)."""
        latest = self.screen.decode.latest_check()
        if latest is None:
            return None
        for piece in reversed(pieces):
            if piece.check is latest and piece.kind is not PieceKind.CORRECTION:
                return piece
        return None
