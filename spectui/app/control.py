"""The hand-off between the UI thread (which asks for steps) and the engine worker (which waits).

The worker stops at two kinds of points: before it shows the next gate check, and before it
starts drafting a new round. Stopping *before* a round, rather than drafting ahead, is what
lets a policy or threshold change apply to the very next round. A branch request (rewind to
the start of an earlier round, then retune) wakes the worker at either point; it drops what
is left of an unfinished round and applies the rewind and the settings together before it
drafts again, so the engine is never seen half-rewound.

Which round a retune takes effect from is known here, not from what the screen shows: the
worker fixes a round's settings the moment it passes the stop before drafting it, while the
screen learns of the round only when its RoundDrafted message arrives. A retune in between
(a key pressed during autoplay, say) already belongs to the round after.

Next-round settings have one owner per thread: the screen's `ScreenState.config` in the UI
thread, the decoder's `config` in the worker's. This control only carries a change from one
to the other (`retune` puts it here, `take_settings` takes it off, once).

What the worker does at each stop is one `Mode` (schedule.py: paused, stepping, through the
round, playing, engine speed, branching, over, stopped), changed only by `schedule.next_mode`;
which round it is in is one `Rounds`. This class adds the lock, the wake-ups, and the counts
that pace the worker to the screen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from spectui.app.pacing import DEFAULT_SPEED, KEY_HOLD, MAX_SPEED, SPEEDS
from spectui.app.schedule import (
    Branch,
    Branching,
    BranchTaken,
    Cue,
    DecodeEnded,
    EngineSpeed,
    FastForward,
    FinishRound,
    Mode,
    Pace,
    Passed,
    Pause,
    Paused,
    Play,
    RoundEnded,
    Rounds,
    Step,
    Stop,
    Stopped,
    decide,
    next_mode,
    playing,
    settings_round,
    standing,
)

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig


class StepControl:
    """Thread-safe step requests, autoplay and pending retunes for one decode run."""

    def __init__(self, speed: int = DEFAULT_SPEED, first_round: int = 0) -> None:
        """`first_round`: the round the worker drafts first (0, or where a retry resumes)."""
        self._cond = threading.Condition()
        self._mode: Mode = Paused()  # what the worker does at its next stop
        self._speed = speed  # autoplay's, an index into SPEEDS (a setting, kept while paused)
        self._rounds = Rounds(first_round)
        self._requests = 0  # every request ever made (lets the UI tell when the worker caught up)
        self._posted = 0  # messages the worker posted ...
        self._handled = 0  # ... and how many of them the UI has handled
        self._batches = 0  # fast-forward batches posted and not yet received by the UI
        self._key_held_until = 0.0  # engine speed yields to a key's repaint until then

    # --- the UI side -------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """What the worker does at its next stop."""
        return self._mode

    @property
    def requests(self) -> int:
        """How many step/round/play requests were made so far."""
        with self._cond:
            return self._requests

    @property
    def playing(self) -> bool:
        """Whether autoplay is on."""
        return playing(self._mode)

    @property
    def speed(self) -> int:
        """Index into SPEEDS."""
        return self._speed

    @property
    def fast(self) -> bool:
        """Whether the worker runs at engine speed: fast-forward (f) or autoplay at "max".

        Then it never waits for a redraw (the screen's throttle coalesces them) and posts its
        events in batches (`driver.Poster`), kept at most BATCHES_AHEAD in the UI's queue.
        """
        return isinstance(standing(self._mode), EngineSpeed)

    @property
    def fast_forwarding(self) -> bool:
        """Whether fast-forward (f) is on."""
        return standing(self._mode) == EngineSpeed(fast_forward=True)

    def fast_forward(self, on: bool) -> None:
        """Start or stop fast-forward (stopping it also stops autoplay)."""
        self._request(FastForward() if on else Pause())

    def step(self) -> None:
        """Let the worker pass one stop point."""
        self._request(Step())

    def finish_round(self) -> None:
        """Let the worker run to the end of this round (or through the next, between rounds)."""
        self._request(FinishRound())

    def set_playing(self, playing: bool) -> None:
        """Start or stop autoplay."""
        with self._cond:
            self._request(Play(at_max=self._speed == MAX_SPEED) if playing else Pause())

    def set_speed(self, speed: int) -> None:
        """Change autoplay speed (an index into SPEEDS); takes effect at once."""
        with self._cond:
            self._speed = max(0, min(MAX_SPEED, speed))
            self._mode = next_mode(self._mode, Pace(at_max=self._speed == MAX_SPEED))
            self._cond.notify_all()

    def hold_for_key(self) -> None:
        """A key was pressed: at engine speed the worker waits KEY_HOLD seconds at its next
        stop, so the UI thread has the interpreter to itself while it repaints. Not below
        engine speed, where the worker waits for each redraw anyway (nor for the key that
        starts fast-forward, whose run would start late)."""
        with self._cond:
            if self.fast:
                self._key_held_until = time.monotonic() + KEY_HOLD

    def received(self) -> None:
        """The UI took one fast-forward batch off its queue."""
        with self._cond:
            self._batches -= 1
            self._cond.notify_all()

    def handled(self, count: int) -> None:
        """The UI has shown `count` more of the worker's messages (autoplay never outruns it)."""
        with self._cond:
            self._handled += count
            if self._handled >= self._posted:
                self._cond.notify_all()

    def retune(self, settings: DecodeConfig) -> int | None:
        """Use `settings` from the next round on (validated by the caller).

        Returns the round they take effect from, decided under the same lock the worker takes
        them with (None: the decode ended, only a branch or a restart will use them).
        """
        with self._cond:
            self._rounds.settings = settings
            return settings_round(self._mode, self._rounds)

    @property
    def settings_round(self) -> int | None:
        """The round (0-based) settings changed now take effect from; None: none is left."""
        with self._cond:
            return settings_round(self._mode, self._rounds)

    def branch(self, round_index: int, settings: DecodeConfig) -> None:
        """Rewind to the start of round `round_index`, then go on with `settings` (paused)."""
        with self._cond:
            self._request(Branch(round_index))
            if isinstance(self._mode, Branching):
                self._rounds = Rounds(round_index, settings=settings)

    def stop(self) -> None:
        """End the run: the worker returns at its next stop point."""
        with self._cond:
            self._mode = next_mode(self._mode, Stop())
            self._cond.notify_all()

    # --- the worker side ---------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """Whether the run was ended."""
        return isinstance(self._mode, Stopped)

    def posted(self, count: int = 1, batch: bool = False) -> None:
        """The worker posted `count` engine events (`batch`: in one fast-forward batch)."""
        with self._cond:
            self._posted += count
            self._batches += batch

    def take_settings(self) -> DecodeConfig | None:
        """The settings asked for since the last call (applied by the worker between rounds).

        Called before each round: from here on, settings changed apply to the round after.
        """
        with self._cond:
            if isinstance(self._mode, Branching):
                return None  # asked for with a branch: they go with its rewind, not this round
            return self._rounds.take()

    @property
    def branch_pending(self) -> bool:
        """Whether a branch request waits to be applied."""
        with self._cond:
            return isinstance(self._mode, Branching)

    def take_branch(self) -> tuple[int, DecodeConfig | None] | None:
        """The branch requested (round, settings), if any; the worker applies both at once."""
        with self._cond:
            mode = self._mode
            if not isinstance(mode, Branching):
                return None
            branch = (mode.round, self._rounds.settings)
            self._rounds = Rounds(mode.round)
            self._mode = next_mode(mode, BranchTaken())
            return branch

    def round_ended(self) -> None:
        """The worker finished a round: a round request is used up."""
        with self._cond:
            if not isinstance(self._mode, Branching):  # a branch asked for meanwhile set the round
                self._rounds.ended()
            self._mode = next_mode(self._mode, RoundEnded())

    def decode_ended(self) -> None:
        """The decode is over: autoplay stops."""
        with self._cond:
            self._mode = next_mode(self._mode, DecodeEnded())

    def wait(self, on_idle: Callable[[int], None] | None = None) -> bool:
        """Block until the worker may pass its next stop point (or branch); False once stopped.

        `on_idle(requests)` is called (with the lock released) when the worker is about to
        block with nothing to do, so the UI can tell that it has caught up.
        """
        with self._cond:
            reported = -1  # the request count last reported idle
            while True:
                move = decide(
                    self._mode,
                    interval=SPEEDS[self._speed][0],
                    held=self._key_held_until - time.monotonic(),
                    batches=self._batches,
                    unshown=self._handled < self._posted,
                )
                if move == "return":
                    return False
                if move == "pass":
                    self._mode = next_mode(self._mode, Passed())
                    return True
                if move.idle and on_idle is not None and reported != self._requests:
                    reported = self._requests
                    self._cond.release()
                    try:
                        on_idle(reported)
                    finally:
                        self._cond.acquire()
                    continue
                woken = self._cond.wait(timeout=move.seconds)
                if move.tick and not woken and self.playing:
                    return True  # autoplay's interval ran out (what was granted stays)

    def _request(self, cue: Cue) -> None:
        """A request from the UI: the worker's new mode, counted, and the worker woken."""
        with self._cond:
            self._mode = next_mode(self._mode, cue)
            self._requests += 1
            self._cond.notify_all()
