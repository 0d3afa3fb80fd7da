"""The step hand-off's rules as plain data: the worker's mode, what changes it, when it passes.

`StepControl` (control.py) holds one `Mode` under its lock and changes it only through
`next_mode`, the whole transition table; its `wait` asks `decide` what the worker does at a
stop. Both are pure functions, so every mode meets every cue in a table test
(tests/app/test_schedule.py) with no thread in sight. A mode says what the worker does at its
next stop:

- `Paused`: waits for a request (and tells the UI it has caught up).
- `Playing`: autoplay below engine speed: a stop every SPEEDS[speed] seconds, and only once
  the screen has shown everything posted.
- `EngineSpeed`: fast-forward (f), or autoplay at "max": passes at once, except while a key's
  repaint holds it (KEY_HOLD) or the screen has more than BATCHES_AHEAD batches to take.
- `Stepping(n, then)`: passes n stops at once, then goes on as `then`.
- `ThroughRound(then)`: passes every stop until the round ends, then goes on as `then`.
- `Branching(round, then)`: a rewind to the start of `round` is due; the worker passes to
  apply it, then goes on as `then` (paused, unless asked otherwise meanwhile).
- `Over`: the decode ended: nothing is left to step; a branch (or a restart) goes on.
- `Stopped`: the run was ended: the worker returns at its next stop.

Requests granted on top of one another nest rather than replace: a step asked for during
autoplay is `Stepping(1, Playing())`, passed at once before autoplay goes on; a round asked
for after two steps is `ThroughRound(Stepping(2, Paused()))`, its steps left for the round
after. Autoplay's speed is a setting, not a mode (it is shown while paused too): `Play` and
`Pace` carry whether it is "max", which is engine speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from spectui.app.pacing import BATCHES_AHEAD

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig

# --- modes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paused:
    """Nothing is asked of the worker: it waits for a request."""


@dataclass(frozen=True)
class Playing:
    """Autoplay below engine speed: one stop every SPEEDS[speed] seconds, each shown first."""


@dataclass(frozen=True)
class EngineSpeed:
    """No rest between stops and no wait for a redraw: fast-forward, or autoplay at "max"."""

    fast_forward: bool  # f, whatever the speed; False: autoplay at "max"


# What the worker does when no step, round or branch was asked for.
Standing: TypeAlias = Paused | Playing | EngineSpeed


@dataclass(frozen=True)
class Stepping:
    """`steps` single steps granted (at least one); then the worker goes on as `then`."""

    steps: int
    then: Standing


@dataclass(frozen=True)
class ThroughRound:
    """Every stop passes until the round ends; then the worker goes on as `then`."""

    then: Standing | Stepping


# What the worker does while the decode goes on and no branch is due.
Live: TypeAlias = Standing | Stepping | ThroughRound


@dataclass(frozen=True)
class Branching:
    """A rewind to the start of round `round` is due; after it the worker goes on as `then`."""

    round: int
    then: Live


@dataclass(frozen=True)
class Over:
    """The decode ended: no step is left to take (a branch takes it back)."""


@dataclass(frozen=True)
class Stopped:
    """The run was ended: the worker returns at its next stop, and nothing starts it again."""


Mode: TypeAlias = Live | Branching | Over | Stopped

# --- cues: what the screen asks, what the worker reports ----------------------------------------


@dataclass(frozen=True)
class Step:
    """Pass one more stop (space)."""


@dataclass(frozen=True)
class FinishRound:
    """Pass every stop to the end of this round (enter; between rounds: through the next)."""


@dataclass(frozen=True)
class Play:
    """Autoplay on (p), at the control's speed; `at_max`: that speed is "max" (engine speed)."""

    at_max: bool


@dataclass(frozen=True)
class Pause:
    """Autoplay and fast-forward off (p, f, an error, a branch)."""


@dataclass(frozen=True)
class FastForward:
    """Engine speed, whatever autoplay's speed (f)."""


@dataclass(frozen=True)
class Pace:
    """Autoplay's speed changed (+/-); `at_max`: it is now "max", engine speed."""

    at_max: bool


@dataclass(frozen=True)
class Branch:
    """Rewind to the start of round `round`, then go on paused (B)."""

    round: int


@dataclass(frozen=True)
class Stop:
    """End the run (a restart, quitting)."""


@dataclass(frozen=True)
class Passed:
    """The worker passed a stop: a granted step is used up."""


@dataclass(frozen=True)
class RoundEnded:
    """The worker finished a round: a round request is used up."""


@dataclass(frozen=True)
class DecodeEnded:
    """The worker posted the decode's end: autoplay and whatever was granted end with it."""


@dataclass(frozen=True)
class BranchTaken:
    """The worker took the branch due, to rewind and retune at once."""


Request: TypeAlias = Step | FinishRound | Play | Pause | FastForward | Pace | Branch | Stop
Report: TypeAlias = Passed | RoundEnded | DecodeEnded | BranchTaken
Cue: TypeAlias = Request | Report

# --- the transition table -------------------------------------------------------------------------


def next_mode(mode: Mode, cue: Cue) -> Mode:
    """The mode after `cue`: the hand-off's whole transition table."""
    if isinstance(mode, Stopped):
        return mode  # nothing starts a stopped run again
    if isinstance(cue, Stop):
        return Stopped()
    if isinstance(cue, Branch):
        return Branching(cue.round, Paused())  # whatever was granted before is dropped
    if isinstance(mode, Over):
        return mode  # nothing is left to step or play until a branch
    if isinstance(mode, Branching):
        return _branching(mode, cue)
    if isinstance(cue, DecodeEnded):
        return Over()
    return _live(mode, cue)


def _branching(mode: Branching, cue: Cue) -> Mode:
    """`next_mode` while a branch is due: what is asked meanwhile applies after the rewind."""
    match cue:
        case BranchTaken():
            return mode.then
        case DecodeEnded():
            return Branching(mode.round, Paused())  # the rewind undoes the end; autoplay ended
        case Passed():
            return mode  # the worker passes to apply the branch: no step is used up
    return Branching(mode.round, _live(mode.then, cue))


def _live(mode: Live, cue: Cue) -> Live:
    """`next_mode` while the decode goes on, no branch is due and the run is not stopped."""
    match cue:
        case Step():
            if isinstance(mode, ThroughRound):
                return ThroughRound(_one_more(mode.then))  # the round still comes first
            return _one_more(mode)
        case FinishRound():
            return mode if isinstance(mode, ThroughRound) else ThroughRound(mode)
        case Passed() if isinstance(mode, Stepping):
            return Stepping(mode.steps - 1, mode.then) if mode.steps > 1 else mode.then
        case RoundEnded() if isinstance(mode, ThroughRound):
            return mode.then
        case Play() | Pause() | FastForward() | Pace():
            moved = _moved(standing(mode), cue)
            if isinstance(mode, ThroughRound):
                return ThroughRound(_regranted(mode.then, moved))
            return _regranted(mode, moved)
    return mode  # a stop passed with nothing granted, a round ended unasked, no branch due


def _one_more(mode: Standing | Stepping) -> Stepping:
    """One more step granted."""
    if isinstance(mode, Stepping):
        return Stepping(mode.steps + 1, mode.then)
    return Stepping(1, mode)


def _regranted(mode: Standing | Stepping, moved: Standing) -> Standing | Stepping:
    """The steps granted in `mode`, if any, then `moved`."""
    return Stepping(mode.steps, moved) if isinstance(mode, Stepping) else moved


def _moved(now: Standing, cue: Play | Pause | FastForward | Pace) -> Standing:
    """Autoplay turned on or off, or its speed changed: what the worker does unasked."""
    match cue:
        case Play(at_max=at_max):
            return EngineSpeed(fast_forward=False) if at_max else Playing()
        case Pause():
            return Paused()
        case FastForward():
            return EngineSpeed(fast_forward=True)
        case Pace(at_max=True) if isinstance(now, Playing):
            return EngineSpeed(fast_forward=False)
        case Pace(at_max=False) if now == EngineSpeed(fast_forward=False):
            return Playing()
    return now  # a speed changed while paused, or under fast-forward


def standing(mode: Mode) -> Standing:
    """What the worker does once the steps and the round granted are used up (Over and
    Stopped: Paused, nothing plays)."""
    while isinstance(mode, (Branching, ThroughRound, Stepping)):
        mode = mode.then
    return mode if isinstance(mode, (Paused, Playing, EngineSpeed)) else Paused()


def playing(mode: Mode) -> bool:
    """Whether autoplay is on (at any speed, fast-forward included)."""
    return isinstance(standing(mode), (Playing, EngineSpeed))


# --- at a stop -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """The worker waits at its stop for `seconds` (None: until something wakes it)."""

    seconds: float | None = None
    idle: bool = False  # nothing is asked of it: the UI may be told that it has caught up
    tick: bool = False  # autoplay's interval: the worker passes when it runs out


Move: TypeAlias = Literal["pass", "return"] | Hold


def decide(mode: Mode, interval: float, held: float, batches: int, unshown: bool) -> Move:
    """What the worker does at a stop: pass it, return (the run was stopped), or hold.

    `interval`: seconds between autoplay's steps; `held`: seconds a key's repaint still holds
    engine speed; `batches`: fast-forward batches posted that the UI has not taken; `unshown`:
    whether the UI has yet to show events the worker posted.
    """
    match mode:
        case Stopped():
            return "return"
        case Branching() | ThroughRound() | Stepping():
            return "pass"
        case EngineSpeed() if held > 0:
            # A key's repaint first, for KEY_HOLD seconds (other wake-ups, a batch received
            # say, do not end the hold).
            return Hold(held)
        case EngineSpeed() if batches > BATCHES_AHEAD:
            return Hold()  # the UI is behind: let it catch up
        case EngineSpeed():
            return "pass"
        case Playing() if unshown:
            # Backpressure: at full speed the engine outruns the screen; waiting for the UI
            # to show each step keeps key presses from queueing behind a flood.
            return Hold()
        case Playing():
            return Hold(interval, tick=True)
    return Hold(idle=True)  # Paused, Over


# --- round bookkeeping ---------------------------------------------------------------------------


@dataclass
class Rounds:
    """Which round the worker is in, whether it took that round's settings, and a retune on
    its way to it: what says which round a retune takes effect from (under the control's lock).
    """

    index: int  # the round the worker is in, or drafts next
    settled: bool = False  # the worker took `index`'s settings: the round is under way
    settings: DecodeConfig | None = None  # a retune (or a branch's settings) not yet taken

    def open_round(self) -> int:
        """The first round whose settings can still change."""
        return self.index + 1 if self.settled else self.index

    def take(self) -> DecodeConfig | None:
        """The worker fixes this round's settings: the retune waiting, if any."""
        self.settled = True
        settings, self.settings = self.settings, None
        return settings

    def ended(self) -> None:
        """The worker finished the round: the next one is open."""
        self.index, self.settled = self.index + 1, False


def settings_round(mode: Mode, rounds: Rounds) -> int | None:
    """The round (0-based) settings changed now take effect from; None: none is left."""
    match mode:
        case Branching(round=index):
            return index  # they go with the branch's rewind
        case Over():
            return None
    return rounds.open_round()
