"""How the decode screen draws: throttled redraws, the header's words, which panels show."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse

from textual.css.scalar import Scalar
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from spectui.app.decode_view import DecodeView
from spectui.app.format import drafting_words
from spectui.app.pacing import FAST_REDRAW_INTERVAL, FULL_REDRAW_INTERVAL, REDRAW_INTERVAL, SPEEDS
from spectui.app.rounds import Piece, PieceKind, RoundView
from spectui.app.screens.screen_state import ScreenState
from spectui.app.screens.too_small import say_if_too_small
from spectui.app.tree_layout import default_rows
from spectui.app.tree_round import tree_so_far
from spectui.app.widgets import (
    GatePanel,
    StatsPanel,
    StatusHeader,
    StatusLine,
    TokenDetail,
    TokenStream,
    TokenTree,
)
from spectui.app.widgets.load_bars import loading_view
from spectui.app.widgets.panel import Panel
from spectui.engine.policy.registry import policy_label, policy_named
from spectui.engine.trace.source import Ability
from spectui.engine.tree.shape import ROOT

WIDE = 120  # columns from which every panel is on screen at once (and the Footer has more keys)
PALETTE_HINT = 140  # columns from which the Footer also shows ^p palette (at 120 keys fill it)
# Rows below which the stacked layout drops the stats panel: what an 80×24 terminal still
# fits under the stream and a five-draft gate table. The order things give way in, as the
# screen shrinks: in the gate table, what the active policy does not use (gate_panel.fit),
# then the stats (here), then the stream's height (down to 3 rows); the gate rows never go.
SHORT = 24
# A tree round, stacked: the token tree takes the stats' place (at 80×24: the stream's 2
# rows, the tree's 8, the gate table's 3 node rows).
CHROME_ROWS = 3  # the header, the status line and the Footer
STREAM_ROWS = 5  # the stream's least, borders included
TREE_INSPECT_ROWS = 6  # the tree's least rows (its header included) while a token is picked
DETAIL_ROWS = 20  # a token's detail with its top-10 bars, borders included
TREE_GATE_ROWS = 10  # the most node rows a tree round's gate table lists (a window of them)
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


def _display(widget: Widget, shown: bool) -> None:
    """Show or hide a panel (set only on a change: each redraw asks)."""
    if widget.display != shown:
        widget.display = shown


def idle_hint(phase: str, replay: bool) -> str:
    """What the gate panel says before the first round, for this phase."""
    if replay and phase in REPLAY_HINTS:
        return REPLAY_HINTS[phase]
    return IDLE_HINTS.get(phase, IDLE_HINTS["ready"])


class Drawing:
    """Draws one decode screen's panels from its state, at most every REDRAW_INTERVAL.

    It is the `Surface` the screen's parts speak and redraw through (screen_state.py).
    """

    def __init__(self, screen: Screen[None], state: ScreenState) -> None:
        """`screen`: where the panels are; `state`: what they show (read, never written)."""
        self.screen = screen
        self.state = state
        self.status_text = ""  # what the header says after "spectui — "
        self._pending = False
        self._last = 0.0
        self._last_full = 0.0  # when the last redraw of every panel was
        self._last_stats = 0.0  # when the stats were last drawn
        self._unshown = 0  # engine events handled but not yet drawn

    def reset(self) -> None:
        """A new run: nothing of the old one is left to draw."""
        self._unshown = 0

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a decode message in the status line, instead of the one before."""
        self.screen.query_one(StatusLine).say(text, severity)

    def state_changed(self) -> None:
        """The phase or autoplay may have changed: the Footer's keys and the header follow."""
        self.screen.refresh_bindings()
        self.refresh_view()

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

    def selection_changed(self, selected: int | None) -> None:
        """A token was (de)selected: the panels that show it follow (`refresh_view`)."""
        self.refresh_view()
        if selected is None:  # back to live: follow the end again
            self.screen.query_one(TokenStream).scroll_end(animate=False)

    def show_panels(self) -> None:
        """Below WIDE columns a selected token's detail takes the gate and stats panels' place,
        and below SHORT rows the stats give way to the stream and the gates. A tree round's
        tree comes between the stream and the gates; stacked, it leaves out the stats, and a
        node picked in it has the detail in the gates' place, the tree cut to fit (`_fit_tree`).

        Done with `display` rather than a CSS class on the screen: a class change restyles
        every widget, which is too slow to do on each arrow key.
        """
        screen, state = self.screen, self.state
        narrow = screen.size.width < WIDE
        inspecting = state.selected is not None or state.tree_node is not None
        tree = self._tree_round() is not None
        stats_give_way = screen.size.height < SHORT or tree
        _display(screen.query_one(TokenDetail), not narrow or inspecting)
        _display(screen.query_one(GatePanel), not (narrow and inspecting))
        _display(screen.query_one(StatsPanel), not (narrow and (inspecting or stats_give_way)))
        token_tree = screen.query_one(TokenTree)
        _display(token_tree, tree)
        if not tree and token_tree.has_focus:
            screen.set_focus(None)
        self._fit_tree(token_tree, narrow and inspecting and tree)

    def _fit_tree(self, token_tree: TokenTree, stacked_detail: bool) -> None:
        """Stacked with a token picked: the tree gets what the detail (its bars, at most
        DETAIL_ROWS) leaves, at least TREE_INSPECT_ROWS; the detail the rest."""
        screen = self.screen
        height = screen.size.height
        rows, room = None, None
        if stacked_detail:
            left = height - CHROME_ROWS - STREAM_ROWS
            rows = max(TREE_INSPECT_ROWS, min(default_rows(height), left - DETAIL_ROWS - 2))
            room = left - (rows + 2)
        if token_tree.max_rows != rows:
            token_tree.max_rows = rows
        detail = screen.query_one(TokenDetail)
        if detail.styles.max_height != (None if room is None else Scalar.from_number(room)):
            detail.styles.max_height = room

    def refresh_view(self, force: bool = False, progress_only: bool = False) -> None:
        """Redraw the panels whose inputs changed (`force`: all of them; `progress_only`: only
        the header and the stream, the others at the next redraw that is not)."""
        screen, state = self.screen, self.state
        if not screen.is_mounted:
            return
        if not progress_only:
            self._last_full = time.monotonic()
        self.refresh_header()
        self._show_error()
        decode, phase = state.decode, state.phase
        pieces = decode.pieces()
        selected = None if state.selected is None else min(state.selected, len(pieces) - 1)
        piece = pieces[selected] if selected is not None and pieces else None
        version = (state.run_id, decode.version, phase, selected)
        if force:
            screen.query_one(TokenStream).forget()
            for panel in screen.query(Panel):
                panel.forget()
            screen.query_one(TokenTree).forget()
        stream = screen.query_one(TokenStream)
        if phase == "loading" and state.error is None:
            bars = state.load_bars.values()
            stream.show_message(loading_view(state.load_status, bars), shape=len(bars))
        elif not stream.unchanged((version, state.viewed, state.text_marks)):
            stream.show(decode, pieces, selected, state.viewed, state.text_marks)
        stream.border_subtitle = f"←/→ inspect · {state.models}" if state.models else ""
        if progress_only:
            return
        current, past = decode.round, False
        if state.viewed is not None and (viewed := decode.round_at(state.viewed)) is not None:
            current, past = viewed, viewed is not decode.round
        self.show_panels()
        node = self._tree_node(current)
        if node is not None:
            piece = node
        highlight = None
        if piece is not None and current is not None and piece.round_index == current.index:
            highlight = piece.position
        elif piece is None and current is not None and current.n_checked and not past:
            highlight = current.latest_position
        self._show_tree(current, decode, version)
        gates = screen.query_one(GatePanel)
        room = self._gate_rows() if current is not None and current.is_tree else None
        if not gates.unchanged((version, highlight, state.viewed, state.tree_node, room)):
            hint = idle_hint(phase, replay=not state.can(Ability.DECODE))
            branch = state.can(Ability.BRANCH)
            gates.show(current, highlight, hint, past=past, branch=branch, room=room)
        detail = screen.query_one(TokenDetail)
        viewed_round = current.index if past and current is not None else None
        if not detail.unchanged((version, state.tree_node, viewed_round)):
            if piece is None and viewed_round is not None:  # b: the viewed round's, not live
                shown = self.last_piece_of(pieces, viewed_round)
            else:
                shown = piece or self.latest_piece(pieces)
            own_round = decode.round_at(shown.round_index) if shown is not None else None
            drafted = own_round is None or bool(own_round.drafts)
            live = piece is None and viewed_round is None
            detail.show(shown, live=live, drafted=drafted, round_shown=viewed_round)
        self._show_stats(force)

    def _show_stats(self, force: bool) -> None:
        """The stats, if their inputs changed; at engine speed at most once a second, whoever
        asks: a key's redraw draws what the key changed, not the counts the engine moved on
        meanwhile (their ~5 ms and 14 lines were part of every key's repaint). The decode's
        end is drawn at once (the worker may not have left engine speed yet)."""
        state, now = self.state, time.monotonic()
        recent = now - self._last_stats < FULL_REDRAW_INTERVAL
        if state.control.fast and recent and not force and state.phase != "finished":
            return
        stats = self.screen.query_one(StatsPanel)
        decode = state.decode
        if not stats.unchanged((state.run_id, id(decode.stats), len(state.costs))):
            stats.show(decode.stats, state.timings, decode.round_seconds, state.costs)
            self._last_stats = now

    def _tree_round(self) -> RoundView | None:
        """The round on screen (live, or viewed with b/n) if it drafted a token tree."""
        shown = self.state.shown_round()
        return shown if shown is not None and shown.is_tree else None

    def _tree_node(self, current: RoundView | None) -> Piece | None:
        """The node the tree's cursor was moved to, as a token (None: none, or the root)."""
        node = self.state.tree_node
        if node is None or current is None or node[0] != current.index or node[1] == ROOT:
            return None
        return current.node_piece(node[1]) if node[1] < len(current.drafts) else None

    def _show_tree(self, current: RoundView | None, decode: DecodeView, version: object) -> None:
        """The token tree of a tree round: the engine's record once the round is over (pruned
        nodes and all), before that the walk so far."""
        token_tree = self.screen.query_one(TokenTree)
        if current is None or not current.is_tree or self.state.event_log is None:
            return
        if token_tree.unchanged((version, current.index)):
            return
        tree = current.tree
        if tree is None or not current.finished:
            checks = [view.check for view in current.judged()]
            shape = current.config.tree
            tree = tree_so_far(
                current.draft_ids,
                [slot.q for slot in current.drafts],
                current.parents,
                checks,
                current.path,
                shape.describe() if shape is not None else "",
                policy_named(current.config.policy).tree_walk,
            )
        texts = self.state.event_log.texts
        root = decode.text_before(current.index)
        token_tree.show(tree, texts, root, finished=current.finished)

    def _gate_rows(self) -> int:
        """Node rows a tree round's gate table has: what the screen has left under the
        stream's least and the tree's rows (its header, borders and the rows of the rest)."""
        height = self.screen.size.height
        left = height - CHROME_ROWS - (default_rows(height) + 2) - STREAM_ROWS - 3
        return max(2, min(TREE_GATE_ROWS, max(left, height // 4)))

    def _show_error(self) -> None:
        screen, state = self.screen, self.state
        error = screen.query_one("#error", Static)
        error.display = state.error is not None
        if state.error is not None:
            error.border_title = "error"
            retry = state.retry_round()
            again = "retry" if retry is None else f"retry from round {retry + 1}"
            prompt = " · e edit the prompt" if state.can(Ability.DECODE) else ""
            keys = f"ctrl+r {again}{prompt} · q quit"
            if not state.error_mendable:
                keys = "q quit: no key here changes the models or the options (see above)"
            error.update(f"{state.error}\n\n{keys}")

    def refresh_header(self) -> None:
        """The header names the active policy, the round, and what the engine is doing."""
        screen, state = self.screen, self.state
        if not screen.is_mounted:
            return
        config, current = state.config, state.decode.round
        policy = policy_label(config.policy)
        if current is not None and not current.finished and current.config.policy != config.policy:
            policy += " from next round"
        parts = [policy, drafting_words(config)]
        if current is not None and state.viewed is not None:
            branch = " · B branch" if state.can(Ability.BRANCH) else ""
            parts.append(f"◀ round {state.viewed + 1}/{current.index + 1}{branch}")
        elif current is not None:
            parts.append(f"round {current.index + 1}")
        parts.append(self._state_words())
        if config.verifier_url is not None:  # the engine this decode is watching
            parts.insert(0, f"verifier @ {urlparse(config.verifier_url).netloc}")
        if state.session.title:  # after the state: a narrow terminal cuts it first
            parts.append(state.session.title)
        self.status_text = " · ".join(parts)
        screen.query_one(StatusHeader).show(self.status_text, state.model_sizes)

    def _state_words(self) -> str:
        state = self.state
        speed = SPEEDS[state.control.speed][1]
        finish = state.decode.finish_reason
        reason = finish.value.replace("_", " ") if finish is not None else ""
        words = {
            "loading": "loading models",
            "error": "error",
            "finished": f"finished ({reason})",
        }.get(state.phase)
        if words is None:
            words = f"▶ playing {speed}" if state.playing else f"⏸ paused · {speed}"
            if state.control.fast_forwarding:
                words = "⏩ fast-forward"
            if state.busy and not state.playing:
                words += " · working"
        return words

    def last_piece_of(self, pieces: list[Piece], round_index: int) -> Piece | None:
        """The piece holding round `round_index`'s last gate check (what `b` shows of it)."""
        for piece in reversed(pieces):
            if (
                piece.round_index == round_index
                and piece.check is not None
                and piece.kind is not PieceKind.CORRECTION
            ):
                return piece
        return None

    def latest_piece(self, pieces: list[Piece]) -> Piece | None:
        """The piece holding the most recent gate check (what 'live' shows)."""
        latest = self.state.decode.latest_check()
        if latest is None:
            return None
        for piece in reversed(pieces):
            if piece.check is latest and piece.kind is not PieceKind.CORRECTION:
                return piece
        return None
