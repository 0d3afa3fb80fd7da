"""What the decode screen's widgets show, made from its state and the terminal's size: all
they read. Pure (no widget in sight), so every panel's inputs can be checked without Textual.

`ScreenView` computes each panel's part on first use: a repaint at engine speed draws only
the header and the stream, and a panel whose `..._key` is what it last drew from is skipped
without its part being made (the token tree's, say, which walks the round).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from spectui.app.format import drafting_words
from spectui.app.model_info import stream_subtitle_forms
from spectui.app.pacing import SPEEDS
from spectui.app.rounds import Piece, RoundView
from spectui.app.screens.decode.state import ScreenState
from spectui.app.screens.decode.view_parts import (
    DetailView,
    GatesView,
    Layout,
    StatsView,
    StreamView,
    TreeView,
    idle_hint,
    last_piece_of,
    latest_piece,
)
from spectui.app.tree_layout import default_rows
from spectui.app.tree_round import tree_so_far
from spectui.app.widgets.load_bars import loading_view
from spectui.engine.policy.registry import policy_label, policy_named
from spectui.engine.trace.source import Ability
from spectui.engine.tree.shape import ROOT

if TYPE_CHECKING:
    from collections.abc import Hashable


WIDE = 120  # columns from which every panel is on screen at once (and the Footer has more keys)
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


@dataclass(frozen=True)
class ScreenView:
    """The decode screen's panels as `state` makes them at a `width` × `height` terminal."""

    state: ScreenState
    width: int
    height: int

    # --- the header, the error panel ----------------------------------------------------------

    @cached_property
    def header(self) -> str:
        """What the header says after "spectui — ": the active policy, the round, and what the
        engine is doing."""
        state = self.state
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
        parts.append(self.doing)
        if config.verifier_url is not None:  # the engine this decode is watching
            parts.insert(0, f"verifier @ {urlparse(config.verifier_url).netloc}")
        if state.session.title:  # after the state: a narrow terminal cuts it first
            parts.append(state.session.title)
        return " · ".join(parts)

    @property
    def models(self) -> str:
        """What the header says after the status, dim: the models' names and sizes."""
        return self.state.model_sizes

    @property
    def doing(self) -> str:
        """The header's word for the phase, or what the worker is doing."""
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

    @cached_property
    def error(self) -> str | None:
        """The error panel's text, with the keys that get past it (None: no error)."""
        state = self.state
        if state.error is None:
            return None
        retry = state.retry_round()
        again = "retry" if retry is None else f"retry from round {retry + 1}"
        prompt = " · e edit the prompt" if state.can(Ability.DECODE) else ""
        keys = f"ctrl+r {again}{prompt} · q quit"
        if not state.error_mendable:
            keys = "q quit: no key here changes the models or the options (see above)"
        return f"{state.error}\n\n{keys}"

    # --- what every panel reads ---------------------------------------------------------------

    @cached_property
    def pieces(self) -> list[Piece]:
        """The stream after the prompt, in reading order."""
        return self.state.decode.pieces()

    @cached_property
    def selected(self) -> int | None:
        """The token picked, within the stream."""
        selected = self.state.selected
        return None if selected is None else min(selected, len(self.pieces) - 1)

    @cached_property
    def version(self) -> Hashable:
        """What changes whenever the decode, the phase or the pick does."""
        state = self.state
        return (state.run_id, state.decode.version, state.phase, self.selected)

    @cached_property
    def shown(self) -> tuple[RoundView | None, bool]:
        """The round on screen, and whether it is an earlier one (b) rather than the live one."""
        decode, viewed = self.state.decode, self.state.viewed
        if viewed is not None and (round_view := decode.round_at(viewed)) is not None:
            return round_view, round_view is not decode.round
        return decode.round, False

    @cached_property
    def piece(self) -> Piece | None:
        """The token inspected: a node picked in the tree, else the stream's token picked."""
        node = self.tree_piece
        if node is not None:
            return node
        if self.selected is not None and self.pieces:
            return self.pieces[self.selected]
        return None

    @property
    def tree_piece(self) -> Piece | None:
        """The node the tree's cursor was moved to, as a token (None: none, or the root)."""
        current, _ = self.shown
        node = self.state.tree_node
        if node is None or current is None or node[0] != current.index or node[1] == ROOT:
            return None
        return current.node_piece(node[1]) if node[1] < len(current.drafts) else None

    # --- the stream ---------------------------------------------------------------------------

    @property
    def stream_key(self) -> Hashable:
        """The stream is redrawn when this changes."""
        state = self.state
        return (self.version, state.viewed, state.text_marks)

    @cached_property
    def stream(self) -> StreamView:
        """The token stream."""
        state = self.state
        loading, shape = None, 0
        if state.phase == "loading" and state.error is None:
            bars = state.load_bars.values()
            loading, shape = loading_view(state.load_status, bars), len(bars)
        subtitles = stream_subtitle_forms(state.models)
        return StreamView(
            loading,
            shape,
            state.decode,
            self.pieces,
            self.selected,
            state.viewed,
            state.text_marks,
            subtitles,
        )

    # --- which panels show --------------------------------------------------------------------

    @cached_property
    def layout(self) -> Layout:
        """Below WIDE columns a selected token's detail takes the gate and stats panels' place,
        and below SHORT rows the stats give way to the stream and the gates. A tree round's
        tree comes between the stream and the gates; stacked, it leaves out the stats, and a
        node picked in it has the detail in the gates' place, the tree cut to fit."""
        state = self.state
        narrow = self.width < WIDE
        inspecting = state.selected is not None or state.tree_node is not None
        shown = state.shown_round()
        tree = shown is not None and shown.is_tree
        stats_give_way = self.height < SHORT or tree
        tree_rows, detail_rows = self.stacked_rows(narrow and inspecting and tree)
        return Layout(
            detail=not narrow or inspecting,
            gates=not (narrow and inspecting),
            stats=not (narrow and (inspecting or stats_give_way)),
            tree=tree,
            tree_rows=tree_rows,
            detail_rows=detail_rows,
        )

    def stacked_rows(self, stacked_detail: bool) -> tuple[int | None, int | None]:
        """Stacked with a token picked: the tree gets what the detail (its bars, at most
        DETAIL_ROWS) leaves, at least TREE_INSPECT_ROWS; the detail the rest."""
        if not stacked_detail:
            return None, None
        left = self.height - CHROME_ROWS - STREAM_ROWS
        rows = max(TREE_INSPECT_ROWS, min(default_rows(self.height), left - DETAIL_ROWS - 2))
        return rows, left - (rows + 2)

    # --- the gates ----------------------------------------------------------------------------

    @cached_property
    def highlight(self) -> int | None:
        """The draft position the gate table marks: the piece's, or the latest check's."""
        current, past = self.shown
        piece = self.piece
        if piece is not None and current is not None and piece.round_index == current.index:
            return piece.position
        if piece is None and current is not None and current.n_checked and not past:
            return current.latest_position
        return None

    @cached_property
    def gate_rows(self) -> int | None:
        """Node rows a tree round's gate table has: what the screen has left under the
        stream's least and the tree's rows (its header, borders and the rows of the rest)."""
        current, _ = self.shown
        if current is None or not current.is_tree:
            return None
        left = self.height - CHROME_ROWS - (default_rows(self.height) + 2) - STREAM_ROWS - 3
        return max(2, min(TREE_GATE_ROWS, max(left, self.height // 4)))

    @property
    def gates_key(self) -> Hashable:
        """The gate table is redrawn when this changes."""
        state = self.state
        return (self.version, self.highlight, state.viewed, state.tree_node, self.gate_rows)

    @cached_property
    def gates(self) -> GatesView:
        """The gate table of the round on screen."""
        state = self.state
        current, past = self.shown
        hint = idle_hint(state.phase, replay=not state.can(Ability.DECODE))
        branch = state.can(Ability.BRANCH)
        return GatesView(current, self.highlight, hint, past, branch, self.gate_rows)

    # --- the detail ---------------------------------------------------------------------------

    @property
    def round_shown(self) -> int | None:
        """The earlier round stepped back to, if one is on screen."""
        current, past = self.shown
        return current.index if past and current is not None else None

    @property
    def detail_key(self) -> Hashable:
        """The detail is redrawn when this changes."""
        return (self.version, self.state.tree_node, self.round_shown)

    @cached_property
    def detail(self) -> DetailView:
        """The token detail: the piece inspected; else the viewed round's last check (b), else
        the latest."""
        piece, viewed_round = self.piece, self.round_shown
        if piece is None and viewed_round is not None:
            shown = last_piece_of(self.pieces, viewed_round)
        else:
            shown = piece or latest_piece(self.state.decode, self.pieces)
        decode = self.state.decode
        own_round = decode.round_at(shown.round_index) if shown is not None else None
        drafted = own_round is None or bool(own_round.drafts)
        live = piece is None and viewed_round is None
        return DetailView(shown, live, drafted, viewed_round)

    # --- the token tree -----------------------------------------------------------------------

    @property
    def tree_key(self) -> Hashable | None:
        """The tree is redrawn when this changes (None: no tree round is on screen)."""
        current, _ = self.shown
        if current is None or not current.is_tree or self.state.event_log is None:
            return None
        return (self.version, current.index)

    @cached_property
    def tree(self) -> TreeView:
        """The token tree of the tree round on screen (only asked for when `tree_key` is set)."""
        current, _ = self.shown
        log = self.state.event_log
        assert current is not None and log is not None
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
        root = self.state.decode.text_before(current.index)
        return TreeView(tree, log.texts, root, current.finished)

    # --- the stats ----------------------------------------------------------------------------

    @property
    def stats_key(self) -> Hashable:
        """The stats are redrawn when this changes."""
        state = self.state
        return (state.run_id, id(state.decode.stats), len(state.costs), state.precision)

    @cached_property
    def stats(self) -> StatsView:
        """The stats panel's inputs."""
        state, decode = self.state, self.state.decode
        return StatsView(
            decode.stats, state.timings, decode.round_seconds, state.costs, state.precision
        )
