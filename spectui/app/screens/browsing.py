"""Browsing a decode: selecting tokens of the stream, stepping through earlier rounds, and
how the stream writes each token's kind."""

from __future__ import annotations

from spectui.app.screens.screen_state import ScreenState, Surface
from spectui.engine.tree.shape import ROOT


class Browsing:
    """The arrow keys and b/n: what the reader looks at (`state.selected`, `state.viewed`)."""

    def __init__(self, state: ScreenState, surface: Surface) -> None:
        self.state = state
        self.surface = surface

    def select_token(self, selected: int | None) -> None:
        """Select a token of `pieces()` (None: follow the latest check); the panels follow."""
        if selected != self.state.selected or self.state.tree_node is not None:
            self.state.selected = selected
            self.state.tree_node = None
            self.surface.selection_changed(selected)

    def select_node(self, node_id: int, following: bool) -> None:
        """The tree panel's cursor came to a node of the round on screen: by a key, its gate
        row and top-k bars are the ones shown; by the walk (`following`), the latest check's
        are, as live."""
        shown = self.state.shown_round()
        if shown is None:
            return
        # The root is the committed token: it has no check, so the panels stay live.
        node = None if following or node_id == ROOT else (shown.index, node_id)
        if node == self.state.tree_node:
            return
        self.state.tree_node = node
        if node is not None:
            self.state.selected = None
        self.surface.refresh_view()

    def live(self) -> None:
        """Stop selecting: follow the latest check again (also on a new run, and a branch)."""
        self.select_token(None)
        self.state.viewed = None

    def select(self, delta: int) -> None:
        """Select the previous/next token of the stream."""
        selected, count = self.state.selected, len(self.state.decode.pieces())
        if count == 0:
            return
        if selected is None:
            self.select_token(count - 1 if delta < 0 else None)
        elif selected + delta >= count:
            self.select_token(None)
        else:
            self.select_token(max(0, selected + delta))

    def select_first(self) -> None:
        """Select the first generated token."""
        if self.state.decode.pieces():
            self.select_token(0)

    def view_round(self, delta: int) -> None:
        """Step back (−1) or forward (+1) through the rounds; past the latest: live again."""
        current = self.state.decode.round
        if current is None:
            self.surface.say("No round yet: nothing to step back to.", "warning")
            return
        latest = current.index
        viewed = (latest if self.state.viewed is None else self.state.viewed) + delta
        if viewed < 0:
            self.surface.say("This is the first round.", "warning")
            return
        self.select_token(None)
        self.state.viewed = None if viewed >= latest and delta > 0 else min(viewed, latest)
        self.surface.refresh_view()

    def toggle_marks(self) -> None:
        """Write each token's kind into the stream's text, or stop."""
        self.state.text_marks = not self.state.text_marks
        self.surface.refresh_view()
        if self.state.text_marks:
            self.surface.say(
                "Text marks on: [-rejected-]{correction} [~discarded~] [?pending?] {+bonus}"
            )
        else:
            self.surface.say("Text marks off: kinds by style (? lists them)")
