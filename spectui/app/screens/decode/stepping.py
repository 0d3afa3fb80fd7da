"""Stepping a decode: one gate check, the rest of a round, autoplay and its speed, a branch.

Each is a request to the worker through the run's step control, made as an effect; the
control (the one owner of what the worker does) is read, never written, here.
"""

from __future__ import annotations

from spectui.app.screens.decode import inputs
from spectui.app.screens.decode.effects import (
    Branch,
    Effect,
    FinishRound,
    RepaintHeader,
    Say,
    SetFastForward,
    SetPlaying,
    SetSpeed,
    Step,
)
from spectui.app.screens.decode.moves import Outcome, become_busy
from spectui.app.screens.decode.state import ScreenState

STOPPED_ON_ERROR = "The engine stopped on an error: ctrl+r retries, e edits the prompt."
BRANCH_FIRST = "Step back to a round first (b), then branch there."


def refusal(state: ScreenState) -> Say | None:
    """Why a step cannot go on now (the decode ended, or stopped on an error), if it cannot."""
    phase = state.phase
    if phase in ("ready", "loading"):
        return None
    if phase == "finished":
        return Say(state.ended_words(), "warning")
    return Say(STOPPED_ON_ERROR, "warning")


def ask(state: ScreenState, *requests: Effect) -> Outcome:
    """Make requests of the worker (unless a step cannot go on): busy until it caught up."""
    if (refused := refusal(state)) is not None:
        return state, (refused,)
    state, busy = become_busy(state)
    return state, (*busy, *requests)


def step(state: ScreenState, key: inputs.StepKey) -> Outcome:
    """Reveal the next gate check (or draft the next round); stops fast-forward."""
    if state.control.fast_forwarding:
        return fast_forward(state, inputs.FastForwardKey())
    return ask(state, Step())


def finish_round(state: ScreenState, key: inputs.FinishRoundKey) -> Outcome:
    """Run to the end of the current round."""
    return ask(state, FinishRound())


def toggle_play(state: ScreenState, key: inputs.TogglePlay) -> Outcome:
    """Autoplay on or off."""
    return ask(state, SetPlaying(not state.control.playing), RepaintHeader())


def fast_forward(state: ScreenState, key: inputs.FastForwardKey) -> Outcome:
    """Run the decode at engine speed, or stop (redraws are throttled, never waited for)."""
    return ask(state, SetFastForward(not state.control.fast_forwarding), RepaintHeader())


def speed(state: ScreenState, key: inputs.Speed) -> Outcome:
    """Autoplay faster (+1) or slower (−1)."""
    return state, (SetSpeed(state.control.speed + key.delta), RepaintHeader())


def branch(state: ScreenState, key: inputs.BranchKey) -> Outcome:
    """Go back to the start of the viewed round and continue under the current settings."""
    target = state.viewed
    if target is None or state.phase not in ("ready", "finished"):
        return state, (Say(BRANCH_FIRST, "warning"),)
    stop_playing = SetPlaying(False)
    state, busy = become_busy(state)
    return state, (stop_playing, *busy, Branch(target, state.config))
