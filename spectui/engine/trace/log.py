"""One decode's event log: every engine event as it happened, with the text of every token.

The app's view is a fold over it, a saved trace is it serialized (`trace.save_log`), and a
branch truncates it. Pure Python: no torch, no Textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from spectui.engine.events import (
    DecodeFinished,
    EngineEvent,
    RoundDrafted,
    RoundFinished,
    RoundRewound,
    TokenAppended,
)
from spectui.engine.trace.header import TraceHeader


@dataclass
class EventLog:
    """The events of one decode, in order, and what each token reads as."""

    header: TraceHeader
    events: list[EngineEvent] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)  # every token id seen -> its text
    shown: list[str] = field(default_factory=list)  # [i]: the text output token i added

    def __post_init__(self) -> None:
        self.texts.update(self.header.prompt_texts)

    def record(self, event: EngineEvent, texts: Mapping[int, str], shown: str | None) -> None:
        """Add `event` with the texts of the token ids it names (`shown`: an appended token's)."""
        self.texts.update(texts)
        if isinstance(event, RoundRewound):
            self.rewind(event.round_index, event.n_generated)
        if isinstance(event, TokenAppended):
            del self.shown[event.index :]
            self.shown.append(shown if shown is not None else self.texts[event.token_id])
        self.events.append(event)

    def rewind(self, round_index: int, n_generated: int) -> None:
        """Forget every event from round `round_index`'s draft on (a branch)."""
        for at, event in enumerate(self.events):
            if isinstance(event, RoundDrafted) and event.round_index >= round_index:
                del self.events[at:]
                break
        del self.shown[n_generated:]

    @property
    def rounds(self) -> list[RoundFinished]:
        """The finished rounds, in order."""
        return [event for event in self.events if isinstance(event, RoundFinished)]

    @property
    def done(self) -> DecodeFinished | None:
        """The end of the decode, if it ended."""
        last = self.events[-1] if self.events else None
        return last if isinstance(last, DecodeFinished) else None
