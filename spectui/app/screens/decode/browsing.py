"""Browsing a decode: selecting tokens of the stream, stepping through earlier rounds, and
how the stream writes each token's kind. Each function is one input's transition."""

from __future__ import annotations

from dataclasses import replace

from spectui.app.screens.decode import inputs
from spectui.app.screens.decode.effects import Repaint, Say
from spectui.app.screens.decode.moves import Outcome, back_to_live, select_token
from spectui.app.screens.decode.state import ScreenState
from spectui.engine.tree.shape import ROOT

MARKS_ON = "Text marks on: [-rejected-]{correction} [~discarded~] [?pending?] {+bonus}"
MARKS_OFF = "Text marks off: kinds by style (? lists them)"


def select(state: ScreenState, key: inputs.Select) -> Outcome:
    """The previous/next token of the stream: from live, the last; past the end, live."""
    selected, count = state.selected, len(state.decode.pieces())
    if count == 0:
        return state, ()
    if selected is None:
        return select_token(state, count - 1 if key.delta < 0 else None)
    if selected + key.delta >= count:
        return select_token(state, None)
    return select_token(state, max(0, selected + key.delta))


def select_first(state: ScreenState, key: inputs.SelectFirst) -> Outcome:
    """The first generated token, if there is one."""
    return select_token(state, 0) if state.decode.pieces() else (state, ())


def pick(state: ScreenState, key: inputs.SelectToken) -> Outcome:
    """A token picked directly."""
    return select_token(state, key.index)


def live(state: ScreenState, key: inputs.Live) -> Outcome:
    """Follow the latest check again."""
    return back_to_live(state)


def select_node(state: ScreenState, message: inputs.NodeSelected) -> Outcome:
    """The tree panel's cursor came to a node of the round on screen: by a key, its gate row
    and top-k bars are the ones shown; by the walk (`following`), the latest check's are, as
    live."""
    shown = state.shown_round()
    if shown is None:
        return state, ()
    # The root is the committed token: it has no check, so the panels stay live.
    node = None if message.following or message.node_id == ROOT else (shown.index, message.node_id)
    if node == state.tree_node:
        return state, ()
    selected = None if node is not None else state.selected
    return replace(state, tree_node=node, selected=selected), (Repaint(),)


def view_round(state: ScreenState, key: inputs.ViewRound) -> Outcome:
    """Step back (−1) or forward (+1) through the rounds; past the latest: live again."""
    current = state.decode.round
    if current is None:
        return state, (Say("No round yet: nothing to step back to.", "warning"),)
    latest = current.index
    viewed = (latest if state.viewed is None else state.viewed) + key.delta
    if viewed < 0:
        return state, (Say("This is the first round.", "warning"),)
    state, effects = select_token(state, None)
    shown = None if viewed >= latest and key.delta > 0 else min(viewed, latest)
    return replace(state, viewed=shown), (*effects, Repaint())


def toggle_marks(state: ScreenState, key: inputs.ToggleMarks) -> Outcome:
    """Write each token's kind into the stream's text, or stop."""
    marks = not state.text_marks
    return replace(state, text_marks=marks), (Repaint(), Say(MARKS_ON if marks else MARKS_OFF))
