"""The trace of the decode on screen, collected from the messages the screen already receives.

The worker's messages carry the engine's own events (and the trace header, at the start), so
saving a session needs no access to the worker, the models or the tokenizer: the UI thread
keeps what arrives and writes it with `spectui.engine.trace` when asked.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from spectui.app import messages
from spectui.engine.trace import TraceError, write_trace

if TYPE_CHECKING:
    from spectui.engine.events import DecodeFinished, RoundFinished
    from spectui.engine.trace import TraceHeader


def default_trace_path(now: datetime | None = None) -> Path:
    """Where the save key writes when no --trace FILE was given: the current directory."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(f"spectui-trace-{stamp}.jsonl")


class SessionTrace:
    """One decode's header, finished rounds, end and token texts, as the messages told them."""

    def __init__(self) -> None:
        self.header: TraceHeader | None = None
        self.rounds: list[RoundFinished] = []
        self.appended_texts: list[list[str]] = []  # [n]: what round n's tokens added to the stream
        self.done: DecodeFinished | None = None
        self.texts: dict[int, str] = {}  # every token id seen -> its text
        self._shown: list[str] = []  # stream texts of the round under way

    def record(self, message: messages.EngineMessage) -> None:
        """Keep what `message` adds to the trace (messages without engine events add nothing)."""
        if isinstance(message, messages.DecodeStarted) and message.header is not None:
            self.header = message.header
            self.texts.update(message.header.prompt_texts)
        elif isinstance(message, messages.RoundDrafted) and message.event is not None:
            self._forget_from(message.round_index)  # a rewound decode goes on from there
            self.texts.update(zip(message.event.draft_ids, message.texts, strict=True))
            self._shown = []
        elif isinstance(message, messages.TokenChecked):
            check = message.check
            self.texts[check.token_id] = message.text
            self.texts[check.top1_id] = message.top1_text
            alternatives = zip(check.alternatives, message.alternatives, strict=True)
            self.texts.update((token_id, text) for (token_id, _), (text, _) in alternatives)
        elif isinstance(message, messages.TokenAppended) and message.event is not None:
            self.texts[message.event.token_id] = message.token_text
            self._shown.append(message.text)
        elif isinstance(message, messages.RoundFinished) and message.event is not None:
            self._forget_from(message.round_index)
            self.rounds.append(message.event)
            self.appended_texts.append(self._shown)
            self._shown = []
        elif isinstance(message, messages.DecodeFinished) and message.event is not None:
            self.done = message.event
        elif isinstance(message, messages.Rewound):  # a branch: later rounds are gone
            self._forget_from(message.round_index)
            self._shown = []

    @property
    def started(self) -> bool:
        """Whether a decode has started (so there is something to save)."""
        return self.header is not None

    def save(self, path: Path) -> Path:
        """Write the trace so far (finished rounds only); raises TraceError."""
        if self.header is None:
            raise TraceError("nothing to save yet: the decode has not started")
        return write_trace(
            path, self.header, self.rounds, self.done, self.texts.__getitem__, self.appended_texts
        )

    def _forget_from(self, round_index: int) -> None:
        del self.rounds[round_index:]
        del self.appended_texts[round_index:]
        self.done = None
