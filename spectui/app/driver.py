"""The engine worker's body: open an event source, iterate it, post one message per event.

It runs in a thread worker and never touches a widget: everything it learns leaves as a
message (see `messages.py`). Between events it waits on a `StepControl`, which is how a person
steps one gate check at a time. A live decode and a replayed trace are the same loop over
two `EventSource`s; torch and the engine's heavy modules are imported inside the worker (by
the live session), so the app's first frame never waits for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

from textual.message import Message

from spectui.app import messages
from spectui.app.control import StepControl
from spectui.app.pacing import ROUND_REST
from spectui.engine.events import (
    DecodeFinished,
    EngineEvent,
    RoundFinished,
    RoundRewound,
    TokenAppended,
    TokenChecked,
)

if TYPE_CHECKING:
    from spectui.engine.trace.source import EventSource

Post = Callable[[Message], Any]


# Events that end a fast-forward batch: a round's end, the decode's, a rewind.
BATCH_ENDS = (RoundFinished, DecodeFinished, RoundRewound)


class Poster:
    """Posts a run's messages, telling `control` of each engine event (autoplay's backpressure).

    At engine speed (`control.fast`) one message per event would flood the UI's queue, so the
    events of a round go out together as one `DecodeBatch`.
    """

    def __init__(self, post: Post, control: StepControl, run: int) -> None:
        self.post = post
        self.control = control
        self.run = run
        self._batch: list[messages.DecodeEvent] = []  # fast-forward events not yet posted

    def event(self, source: EventSource, event: EngineEvent) -> None:
        """Post `event` with its token texts (at engine speed: with the rest of its round)."""
        shown = source.shown(event) if isinstance(event, TokenAppended) else None
        self._batch.append(messages.DecodeEvent(self.run, event, source.texts(event), shown))
        if not self.control.fast or isinstance(event, BATCH_ENDS):
            self.flush()

    def flush(self) -> None:
        """Post the events held back, if any: alone, or as one batch."""
        batch, self._batch = self._batch, []
        if len(batch) == 1:
            self.control.posted()
            self.post(batch[0])
        elif batch:
            self.control.posted(len(batch), batch=True)
            self.post(messages.DecodeBatch(self.run, batch))
            time.sleep(ROUND_REST)

    def waiting(self, served: int) -> None:
        """Tell the UI the worker caught up with `served` requests."""
        self.flush()
        self.post(messages.EngineWaiting(self.run, served))


def drive(
    post: Post,
    control: StepControl,
    run: int,
    open_source: Callable[[], EventSource],
    resume_at: int | None = None,
    before_round: Sequence[Callable[[EventSource], None]] = (),
) -> None:
    """Open a source and play it, stepping as `control` allows, until the run is stopped.

    `resume_at`: the source is a decode that failed in that round; it goes back to the
    round's start (posted as a rewind) and on from there. Each of `before_round(source)` runs
    in this thread before each round is drafted, before the wait and again with the round's
    settings applied (the cost timer, which times each draft span once; the precision check).
    """
    poster = Poster(post, control, run)
    source = open_source()  # loading errors and PromptError surface in the app
    if resume_at is None:
        post(messages.DecodeStarted(run, source.header, source))
    else:
        poster.event(source, source.rewind(resume_at, None))
    stream = source.events()
    ended = False  # the decode's end was posted: only a branch takes it further
    while True:
        if not source.finished:
            for check in before_round:  # while the user reads the screen, not after their key
                check(source)
        # Wait *before* drafting, so settings changed between rounds apply to the next one;
        # when the source has nothing left to draft, its end is posted at once.
        if (ended or not source.finished) and not control.wait(poster.waiting):
            return
        if branch := control.take_branch():
            stream.close()  # the rest of an unfinished round is dropped; the rewind undoes it
            poster.event(source, source.rewind(*branch))
            stream, ended = source.events(), False
            continue
        if ended:
            continue
        if (settings := control.take_settings()) is not None:
            source.retune_to(settings)
        ended = source.finished
        if not ended:
            for check in before_round:  # a retune's new span (each span is timed once)
                check(source)
        if not play_round(stream, source, poster):
            return


def play_round(
    stream: Generator[EngineEvent, None, None], source: EventSource, poster: Poster
) -> bool:
    """Post one round's events (or the decode's end), waiting before each gate check.

    Returns at the round's end, at the decode's end, or early when a branch is requested
    (the round's remaining checks are never shown); False once the run was stopped.
    """
    control = poster.control
    for event in stream:
        if isinstance(event, TokenChecked):
            if not control.fast:
                poster.flush()  # fast-forward stopped mid-round: show what it ran
            if not control.wait(poster.waiting):
                return False
            if control.branch_pending:
                return True
        poster.event(source, event)
        if isinstance(event, RoundFinished):
            control.round_ended()
            return True
        if isinstance(event, DecodeFinished):
            control.decode_ended()
            return True
    return True
