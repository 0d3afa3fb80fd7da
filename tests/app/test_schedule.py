"""The step hand-off's rules (app/schedule.py), every mode against every cue, without threads;
then the same rules through `StepControl` and a real worker thread."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from app_helpers import passes

from spectui.app import schedule
from spectui.app.control import StepControl
from spectui.app.pacing import BATCHES_AHEAD
from spectui.app.schedule import (
    Branch,
    Branching,
    BranchTaken,
    Cue,
    DecodeEnded,
    EngineSpeed,
    FastForward,
    FinishRound,
    Hold,
    Mode,
    Over,
    Pace,
    Passed,
    Pause,
    Paused,
    Play,
    Playing,
    RoundEnded,
    Rounds,
    Step,
    Stepping,
    Stop,
    Stopped,
    ThroughRound,
    decide,
    next_mode,
    playing,
    settings_round,
    standing,
)
from spectui.engine.config import DecodeConfig

P, PL = Paused(), Playing()
MAX, FF = EngineSpeed(fast_forward=False), EngineSpeed(fast_forward=True)
S2, S1PL = Stepping(2, P), Stepping(1, PL)
TR, TRS = ThroughRound(P), ThroughRound(Stepping(1, FF))
BR, BRT = Branching(1, P), Branching(1, ThroughRound(PL))
OVER, STOP = Over(), Stopped()

B0 = Branching(0, P)
# For each cue, the mode each mode becomes. First what the screen asks: space, enter, p below
# "max", p at "max", p or f turning autoplay off, f, +/- to a speed below "max", to "max", B to
# round 0, a restart; then what the worker reports.
TABLE: dict[Cue, dict[Mode, Mode]] = {
    Step(): {
        P: Stepping(1, P),
        PL: S1PL,
        MAX: Stepping(1, MAX),
        FF: Stepping(1, FF),
        S2: Stepping(3, P),
        S1PL: Stepping(2, PL),
        TR: ThroughRound(Stepping(1, P)),
        TRS: ThroughRound(Stepping(2, FF)),
        BR: Branching(1, Stepping(1, P)),
        BRT: Branching(1, ThroughRound(S1PL)),
        OVER: OVER,
        STOP: STOP,
    },
    FinishRound(): {
        P: TR,
        PL: ThroughRound(PL),
        MAX: ThroughRound(MAX),
        FF: ThroughRound(FF),
        S2: ThroughRound(S2),
        S1PL: ThroughRound(S1PL),
        TR: TR,
        TRS: TRS,
        BR: Branching(1, TR),
        BRT: BRT,
        OVER: OVER,
        STOP: STOP,
    },
    Play(at_max=False): {
        P: PL,
        PL: PL,
        MAX: PL,
        FF: PL,
        S2: Stepping(2, PL),
        S1PL: S1PL,
        TR: ThroughRound(PL),
        TRS: ThroughRound(S1PL),
        BR: Branching(1, PL),
        BRT: BRT,
        OVER: OVER,
        STOP: STOP,
    },
    Play(at_max=True): {
        P: MAX,
        PL: MAX,
        MAX: MAX,
        FF: MAX,
        S2: Stepping(2, MAX),
        S1PL: Stepping(1, MAX),
        TR: ThroughRound(MAX),
        TRS: ThroughRound(Stepping(1, MAX)),
        BR: Branching(1, MAX),
        BRT: Branching(1, ThroughRound(MAX)),
        OVER: OVER,
        STOP: STOP,
    },
    Pause(): {
        P: P,
        PL: P,
        MAX: P,
        FF: P,
        S2: S2,
        S1PL: Stepping(1, P),
        TR: TR,
        TRS: ThroughRound(Stepping(1, P)),
        BR: BR,
        BRT: Branching(1, TR),
        OVER: OVER,
        STOP: STOP,
    },
    FastForward(): {
        P: FF,
        PL: FF,
        MAX: FF,
        FF: FF,
        S2: Stepping(2, FF),
        S1PL: Stepping(1, FF),
        TR: ThroughRound(FF),
        TRS: TRS,
        BR: Branching(1, FF),
        BRT: Branching(1, ThroughRound(FF)),
        OVER: OVER,
        STOP: STOP,
    },
    Pace(at_max=False): {
        P: P,
        PL: PL,
        MAX: PL,
        FF: FF,
        S2: S2,
        S1PL: S1PL,
        TR: TR,
        TRS: TRS,
        BR: BR,
        BRT: BRT,
        OVER: OVER,
        STOP: STOP,
    },
    Pace(at_max=True): {
        P: P,
        PL: MAX,
        MAX: MAX,
        FF: FF,
        S2: S2,
        S1PL: Stepping(1, MAX),
        TR: TR,
        TRS: TRS,
        BR: BR,
        BRT: Branching(1, ThroughRound(MAX)),
        OVER: OVER,
        STOP: STOP,
    },
    Branch(0): {
        P: B0,
        PL: B0,
        MAX: B0,
        FF: B0,
        S2: B0,
        S1PL: B0,
        TR: B0,
        TRS: B0,
        BR: B0,
        BRT: B0,
        OVER: B0,
        STOP: STOP,
    },
    Stop(): {mode: STOP for mode in (P, PL, MAX, FF, S2, S1PL, TR, TRS, BR, BRT, OVER, STOP)},
    Passed(): {
        P: P,
        PL: PL,
        MAX: MAX,
        FF: FF,
        S2: Stepping(1, P),
        S1PL: PL,
        TR: TR,
        TRS: TRS,
        BR: BR,
        BRT: BRT,
        OVER: OVER,
        STOP: STOP,
    },
    RoundEnded(): {
        P: P,
        PL: PL,
        MAX: MAX,
        FF: FF,
        S2: S2,
        S1PL: S1PL,
        TR: P,
        TRS: Stepping(1, FF),
        BR: BR,
        BRT: Branching(1, PL),
        OVER: OVER,
        STOP: STOP,
    },
    DecodeEnded(): {
        P: OVER,
        PL: OVER,
        MAX: OVER,
        FF: OVER,
        S2: OVER,
        S1PL: OVER,
        TR: OVER,
        TRS: OVER,
        BR: BR,
        BRT: BR,
        OVER: OVER,
        STOP: STOP,
    },
    BranchTaken(): {
        P: P,
        PL: PL,
        MAX: MAX,
        FF: FF,
        S2: S2,
        S1PL: S1PL,
        TR: TR,
        TRS: TRS,
        BR: P,
        BRT: ThroughRound(PL),
        OVER: OVER,
        STOP: STOP,
    },
}
MODES = (P, PL, MAX, FF, S2, S1PL, TR, TRS, BR, BRT, OVER, STOP)


def kinds(alias: Any) -> set[type]:
    """The classes a union alias of schedule.py names."""
    return set(typing.get_args(alias))


def test_the_table_has_every_kind_of_mode_and_of_cue() -> None:
    """A mode or a cue added to schedule.py fails here until the table has its row/column."""
    assert kinds(schedule.Mode) == {type(mode) for mode in MODES}
    assert kinds(schedule.Cue) == {type(cue) for cue in TABLE}
    assert all(tuple(column) == MODES for column in TABLE.values()), "every mode, every cue"
    wrapped = [mode for mode in MODES if isinstance(mode, (Stepping, ThroughRound, Branching))]
    assert {type(standing(mode)) for mode in wrapped} == {Paused, Playing, EngineSpeed}
    assert TRS.then == Stepping(1, FF) and BRT.then == ThroughRound(PL), "grants nest"


@pytest.mark.parametrize(
    ("mode", "cue", "after"),
    [(mode, cue, after) for cue, column in TABLE.items() for mode, after in column.items()],
)
def test_every_mode_meets_every_cue_as_the_table_says(mode: Mode, cue: Any, after: Mode) -> None:
    assert next_mode(mode, cue) == after


# What each mode does unasked, once what was granted is used up, and whether that is autoplay.
STANDING = {
    P: (P, False),
    PL: (PL, True),
    MAX: (MAX, True),
    FF: (FF, True),
    S2: (P, False),
    S1PL: (PL, True),
    TR: (P, False),
    TRS: (FF, True),
    BR: (P, False),
    BRT: (PL, True),
    OVER: (P, False),
    STOP: (P, False),
}


@pytest.mark.parametrize("mode", MODES)
def test_what_each_mode_plays_once_its_grants_are_used_up(mode: Mode) -> None:
    assert (standing(mode), playing(mode)) == STANDING[mode]


# The columns: nothing in the way; a key's repaint holding engine speed (0.05 s left); the UI
# more than BATCHES_AHEAD batches behind; events posted that the UI has not shown; a key's hold
# and batches behind at once. Autoplay's interval is 0.25 s throughout.
SITUATIONS = (
    {"held": 0.0, "batches": 0, "unshown": False},
    {"held": 0.05, "batches": 0, "unshown": False},
    {"held": 0.0, "batches": BATCHES_AHEAD + 1, "unshown": False},
    {"held": 0.0, "batches": 0, "unshown": True},
    {"held": 0.05, "batches": BATCHES_AHEAD + 1, "unshown": True},
)
IDLE, TICK, WOKEN = Hold(idle=True), Hold(0.25, tick=True), Hold()
MOVES: dict[Mode, tuple[Any, ...]] = {
    P: (IDLE, IDLE, IDLE, IDLE, IDLE),
    PL: (TICK, TICK, TICK, WOKEN, WOKEN),
    MAX: ("pass", Hold(0.05), WOKEN, "pass", Hold(0.05)),
    FF: ("pass", Hold(0.05), WOKEN, "pass", Hold(0.05)),
    S2: ("pass",) * 5,
    S1PL: ("pass",) * 5,
    TR: ("pass",) * 5,
    TRS: ("pass",) * 5,
    BR: ("pass",) * 5,
    BRT: ("pass",) * 5,
    OVER: (IDLE, IDLE, IDLE, IDLE, IDLE),
    STOP: ("return",) * 5,
}


@pytest.mark.parametrize(
    ("mode", "situation", "move"),
    [(mode, SITUATIONS[at], row[at]) for mode, row in MOVES.items() for at in range(5)],
)
def test_at_a_stop_each_mode_passes_holds_or_returns_as_the_table_says(
    mode: Mode, situation: dict[str, Any], move: Any
) -> None:
    assert decide(mode, interval=0.25, **situation) == move


# The round a retune takes effect from, with the worker in round 3 before and after it took
# the round's settings.
SETTINGS_ROUND = {mode: (3, 4) for mode in MODES} | {BR: (1, 1), BRT: (1, 1), OVER: (None, None)}


@pytest.mark.parametrize("mode", MODES)
def test_which_round_a_retune_reaches_in_each_mode(mode: Mode) -> None:
    unsettled, settled = Rounds(3), Rounds(3, settled=True)
    assert (settings_round(mode, unsettled), settings_round(mode, settled)) == SETTINGS_ROUND[mode]


def test_the_round_bookkeeping_takes_a_retune_once_per_round() -> None:
    config = DecodeConfig()
    rounds = Rounds(0)
    assert rounds.open_round() == 0
    rounds.settings = config
    assert rounds.take() is config and rounds.take() is None
    assert rounds.open_round() == 1, "round 0 is under way: a retune now is for round 1"
    rounds.ended()
    assert (rounds.index, rounds.settled, rounds.open_round()) == (1, False, 1)


# --- the same rules, through the control and a worker thread ------------------------------------


def test_a_step_during_slow_autoplay_passes_at_once_and_autoplay_goes_on() -> None:
    control = StepControl(speed=0)  # a step every 2 s
    control.set_playing(True)
    control.step()
    assert control.mode == Stepping(1, Playing())
    assert passes(control), "the step does not wait for autoplay's interval"
    assert control.mode == Playing() and control.playing


def test_steps_asked_for_before_a_round_are_left_for_the_round_after() -> None:
    control = StepControl()
    control.step()
    control.step()
    control.finish_round()
    assert passes(control) and passes(control) and passes(control), "the round first"
    control.round_ended()
    assert passes(control) and passes(control), "then the two steps"
    assert not passes(control)


def test_what_is_asked_during_a_branch_applies_after_its_rewind() -> None:
    control, config = StepControl(), DecodeConfig()
    control.set_playing(True)
    control.branch(1, config)
    control.step()
    assert control.mode == Branching(1, Stepping(1, Paused())) and not control.playing
    assert passes(control) and control.branch_pending, "the branch passes, using no step"
    assert control.take_branch() == (1, config)
    assert passes(control), "then the step asked for after it"
    assert not passes(control)


def test_the_end_of_the_decode_leaves_nothing_to_step_until_a_branch() -> None:
    control = StepControl()
    control.set_playing(True)
    control.decode_ended()
    control.step()
    assert control.mode == Over() and not control.playing
    assert not passes(control)
    control = StepControl()
    control.decode_ended()
    control.branch(0, DecodeConfig())
    control.take_branch()
    control.step()
    assert passes(control)
