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

Next-round settings have one owner per thread: the screen's `DecodeState.config` in the UI
thread, the decoder's `config` in the worker's. This control only carries a change from one
to the other (`retune` puts it here, `take_settings` takes it off, once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from spectui.app.pacing import BATCHES_AHEAD, DEFAULT_SPEED, KEY_HOLD, MAX_SPEED, SPEEDS

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig


class StepControl:
    """Thread-safe step requests, autoplay and pending retunes for one decode run."""

    def __init__(self, speed: int = DEFAULT_SPEED, first_round: int = 0) -> None:
        """`first_round`: the round the worker drafts first (0, or where a retry resumes)."""
        self._cond = threading.Condition()
        self._steps = 0  # single steps granted and not yet taken
        self._through_round = False  # pass every stop until the current round ends
        self._playing = False
        self._fast_forward = False  # autoplay at engine speed (f), whatever the speed
        self._speed = speed
        self._stopped = False
        self._settings: DecodeConfig | None = None  # a change on its way to the worker
        self._branch: int | None = None  # rewind to the start of this round, then retune
        self._round = first_round  # the round the worker is in, or drafts next
        self._round_settled = False  # the worker took `_round`'s settings (it is under way)
        self._over = False  # the decode ended: no round is left to retune
        self._requests = 0  # every request ever made (lets the UI tell when the worker caught up)
        self._posted = 0  # messages the worker posted ...
        self._handled = 0  # ... and how many of them the UI has handled
        self._batches = 0  # fast-forward batches posted and not yet received by the UI
        self._key_held_until = 0.0  # engine speed yields to a key's repaint until then

    # --- the UI side -------------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """How many step/round/play requests were made so far."""
        with self._cond:
            return self._requests

    @property
    def playing(self) -> bool:
        """Whether autoplay is on."""
        return self._playing

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
        return self._playing and (self._fast_forward or self._speed == MAX_SPEED)

    @property
    def fast_forwarding(self) -> bool:
        """Whether fast-forward (f) is on."""
        return self._playing and self._fast_forward

    def fast_forward(self, on: bool) -> None:
        """Start or stop fast-forward (stopping it also stops autoplay)."""
        with self._cond:
            self._fast_forward = on
            self._playing = on
            self._request()

    def step(self) -> None:
        """Let the worker pass one stop point."""
        with self._cond:
            self._steps += 1
            self._request()

    def finish_round(self) -> None:
        """Let the worker run to the end of this round (or through the next, between rounds)."""
        with self._cond:
            self._through_round = True
            self._request()

    def set_playing(self, playing: bool) -> None:
        """Start or stop autoplay."""
        with self._cond:
            self._playing = playing
            self._fast_forward = False
            self._request()

    def set_speed(self, speed: int) -> None:
        """Change autoplay speed (an index into SPEEDS); takes effect at once."""
        with self._cond:
            self._speed = max(0, min(len(SPEEDS) - 1, speed))
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
            self._settings = settings
            return self._settings_round()

    @property
    def settings_round(self) -> int | None:
        """The round (0-based) settings changed now take effect from; None: none is left."""
        with self._cond:
            return self._settings_round()

    def branch(self, round_index: int, settings: DecodeConfig) -> None:
        """Rewind to the start of round `round_index`, then go on with `settings` (paused)."""
        with self._cond:
            self._branch = round_index
            self._settings = settings
            self._round, self._round_settled, self._over = round_index, False, False
            self._playing = self._fast_forward = False
            self._steps = 0
            self._through_round = False
            self._request()

    def stop(self) -> None:
        """End the run: the worker returns at its next stop point."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    # --- the worker side ---------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """Whether the run was ended."""
        return self._stopped

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
            if self._branch is not None:
                return None  # asked for with a branch: they go with its rewind, not this round
            self._round_settled = True
            settings, self._settings = self._settings, None
            return settings

    @property
    def branch_pending(self) -> bool:
        """Whether a branch request waits to be applied."""
        with self._cond:
            return self._branch is not None

    def take_branch(self) -> tuple[int, DecodeConfig | None] | None:
        """The branch requested (round, settings), if any; the worker applies both at once."""
        with self._cond:
            if self._branch is None:
                return None
            branch = (self._branch, self._settings)
            self._round, self._round_settled, self._over = self._branch, False, False
            self._branch, self._settings = None, None
            return branch

    def round_ended(self) -> None:
        """The worker finished a round: a round request is used up."""
        with self._cond:
            self._through_round = False
            if self._branch is None:  # a branch asked for meanwhile has set the round already
                self._round, self._round_settled = self._round + 1, False

    def decode_ended(self) -> None:
        """The decode is over: autoplay stops."""
        with self._cond:
            self._playing = self._fast_forward = False
            self._steps = 0
            self._through_round = False
            self._over = self._branch is None

    def wait(self, on_idle: Callable[[int], None] | None = None) -> bool:
        """Block until the worker may pass its next stop point (or branch); False once stopped.

        `on_idle(requests)` is called (with the lock released) when the worker is about to
        block with nothing to do, so the UI can tell that it has caught up.
        """
        with self._cond:
            reported = -1  # the request count last reported idle
            while not self._stopped:
                if self._branch is not None:
                    return True
                if self._through_round or self._steps > 0:
                    if not self._through_round:
                        self._steps -= 1
                    return True
                if self.fast:
                    # A key's repaint first, for KEY_HOLD seconds (other wake-ups, a batch
                    # received say, do not end the hold).
                    if (held := self._key_held_until - time.monotonic()) > 0:
                        self._cond.wait(timeout=held)
                        continue
                    if self._batches > BATCHES_AHEAD:  # the UI is behind: let it catch up
                        self._cond.wait()
                        continue
                    return True
                if self._playing and self._handled < self._posted:
                    # Backpressure: at full speed the engine outruns the screen; waiting for
                    # the UI to show each step keeps key presses from queueing behind a flood.
                    self._cond.wait()
                    continue
                if self._playing:
                    timed_out = not self._cond.wait(timeout=SPEEDS[self._speed][0])
                    if timed_out and self._playing and not self._stopped:
                        return True
                    continue
                if on_idle is not None and reported != self._requests:
                    reported = self._requests
                    self._cond.release()
                    try:
                        on_idle(reported)
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait()
            return False

    def _settings_round(self) -> int | None:
        """`settings_round`, with the lock held."""
        if self._branch is not None:
            return self._branch
        if self._over:
            return None
        return self._round + 1 if self._round_settled else self._round

    def _request(self) -> None:
        self._requests += 1
        self._cond.notify_all()
