"""Transitions more than one input makes: a new run, back to live, a busy worker, a save.

The parts (browsing.py, stepping.py, ...) never call one another; what two of them share is
here, as pure functions of the state like theirs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TypeAlias

from spectui.app.control import StepControl
from spectui.app.decode_view import DecodeView
from spectui.app.screens.decode.effects import (
    Effect,
    EndRun,
    ForgetRun,
    RefreshKeys,
    Repaint,
    RepaintHeader,
    Retune,
    Say,
    ScrollToEnd,
    StartWorker,
    WriteTrace,
)
from spectui.app.screens.decode.state import RunOrder, ScreenState
from spectui.engine.trace.log import EventLog

# What every transition returns: the new state and what is to be done, in order.
Outcome: TypeAlias = tuple[ScreenState, tuple[Effect, ...]]


def begin_run(state: ScreenState, resume_at: int | None = None) -> Outcome:
    """A new run of the prompt: the old one's worker is stopped, a new one started.

    `resume_at`: go on with the same decode from the start of that round instead (a retry
    after an error: the finished rounds stay; the retry rewinds to the round's own settings,
    then takes ours).
    """
    old = state.control
    control = StepControl(speed=old.speed, first_round=resume_at or 0)
    effects: list[Effect] = [EndRun(old)]  # the previous worker returns at its next stop
    if resume_at is None:
        state = replace(state, event_log=None, decode=DecodeView(prompt=state.prompt))
    else:
        effects.append(Retune(state.config))
    state = replace(state, control=control, run_id=state.run_id + 1, error=None, precision=None)
    resumed = state.source if resume_at is not None else None
    order = RunOrder(
        state.run_id,
        state.session,
        control,
        state.config,
        state.prompt,
        state.pair,
        resumed,
        resume_at,
        state.timings,
        dict(state.costs),
    )
    effects.append(ForgetRun())
    state, live = back_to_live(state)
    state, busy = become_busy(state)
    return state, (*effects, *live, *busy, StartWorker(order), RefreshKeys(), Repaint())


def select_token(state: ScreenState, selected: int | None) -> Outcome:
    """Select a token of `pieces()` (None: follow the latest check); the panels follow."""
    if selected == state.selected and state.tree_node is None:
        return state, ()
    state = replace(state, selected=selected, tree_node=None)
    return state, (Repaint(), ScrollToEnd()) if selected is None else (Repaint(),)


def back_to_live(state: ScreenState) -> Outcome:
    """Stop selecting: follow the latest check again (also on a new run, and a branch)."""
    state, effects = select_token(state, None)
    return replace(state, viewed=None), effects


def become_busy(state: ScreenState) -> Outcome:
    """The worker was asked for something: the screen is busy until it has caught up."""
    if state.busy:
        return state, ()
    return replace(state, busy=True), (RepaintHeader(),)


def become_idle(state: ScreenState) -> Outcome:
    """The worker caught up with every request, or ended."""
    if not state.busy:
        return state, ()
    return replace(state, busy=False), (RepaintHeader(),)


def save(state: ScreenState, path: Path | None, download: bool = False) -> Outcome:
    """Save the decode's log as a trace to `path` (None: a new file here), or `download` it."""
    log = state.session.log_to_save(state.event_log)
    if log is None:
        verb = "downloaded" if download else "saved"
        reason = "nothing to save yet: the decode has not started"
        return state, (Say(f"Trace not {verb}: {reason}", "error"),)
    what, ended = what_is_saved(state, log)
    return state, (WriteTrace(path, log, what, ended, download=download),)


def what_is_saved(state: ScreenState, log: EventLog) -> tuple[str, str]:
    """What a save holds ("3 rounds") and, of a decode still going, that it goes on."""
    if log is not state.event_log:  # a replay: the whole trace, however far it was played
        return f"the whole trace, {len(log.rounds)} rounds,", ""
    return f"{len(log.rounds)} rounds", "" if log.done is not None else " (the decode goes on)"
