"""Where a decode's events come from: the engine itself, or a trace file.

An `EventSource` yields engine events from where the decode stands and tells the text of
every token they name, so its consumers (the app's worker, `spectui run`) cannot tell a live
decode from a recorded one. What a source cannot do (a trace cannot retune or branch) it
says in `abilities`, and its consumers ask before they offer it.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from spectui.engine.events import (
    DecodeFinished,
    EngineEvent,
    FinishReason,
    RoundDrafted,
    RoundFinished,
    RoundRewound,
    TokenAppended,
    TokenChecked,
)
from spectui.engine.stats import StatsTally
from spectui.engine.text import StreamText

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.decode import SpeculativeDecoder
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.trace.header import Trace, TraceHeader


class Ability(str, Enum):
    """What a source can do besides playing its events."""

    RETUNE = "retune"  # change policy or settings between rounds
    BRANCH = "branch"  # go back to an earlier round and go on from there
    DECODE = "decode"  # decode other prompts or policies with the same models


class EventSource(Protocol):
    """A decode's events, and the texts of their tokens."""

    header: TraceHeader
    abilities: frozenset[Ability]

    @property
    def finished(self) -> bool:
        """Whether the next event is the decode's end (no round is due)."""
        ...

    def events(self) -> Generator[EngineEvent, None, None]:
        """The events from where the decode stands."""
        ...

    def texts(self, event: EngineEvent) -> dict[int, str]:
        """The text of each token id `event` names."""
        ...

    def shown(self, event: TokenAppended) -> str:
        """The text an appended token adds to the stream (whole characters only)."""
        ...

    def retune_to(self, config: DecodeConfig) -> None:
        """Use `config`'s between-round settings from the next round on."""
        ...

    def rewind(self, round_index: int, settings: DecodeConfig | None) -> RoundRewound:
        """Go back to the start of round `round_index`, going on with `settings` if given."""
        ...


def event_ids(event: EngineEvent) -> Sequence[int]:
    """Every token id an event names."""
    if isinstance(event, RoundDrafted):
        return event.draft_ids
    if isinstance(event, TokenChecked):
        check = event.check
        return [check.token_id, check.top1_id, *(token for token, _ in check.alternatives)]
    if isinstance(event, TokenAppended):
        return [event.token_id]
    if isinstance(event, RoundFinished) and event.tree is not None:
        # a tree's nodes the walk never judged, and their verifier alternatives
        ids = [node.token_id for node in event.tree.nodes]
        for node in event.tree.nodes:
            if node.check is not None:
                ids.append(node.check.top1_id)
                ids.extend(token for token, _ in node.check.alternatives)
        return ids
    return ()


class LiveSource:
    """The engine decoding one prompt on a loaded pair."""

    abilities = frozenset(Ability)

    def __init__(
        self,
        pair: ModelPair,
        config: DecodeConfig,
        prompt: str,
        prompt_ids: Sequence[int] | None = None,
    ) -> None:
        """`prompt_ids`: decode from these ids, not `prompt` tokenized (a chat template's)."""
        from spectui.engine.decode import SpeculativeDecoder
        from spectui.engine.trace.header import header_for

        self.pair = pair
        config = pair.resolved(config)
        self.decoder: SpeculativeDecoder = SpeculativeDecoder(
            pair, config, prompt if prompt_ids is None else prompt_ids
        )
        self.header = header_for(pair, config, prompt, self.decoder.prompt_ids)
        self._stream = StreamText(
            lambda ids: str(pair.tokenizer.decode(list(ids), skip_special_tokens=False))
        )

    @property
    def finished(self) -> bool:
        """Whether the engine has no round left to run."""
        return self.decoder.finished

    def events(self) -> Generator[EngineEvent, None, None]:
        """The engine's events from where it stands."""
        return self.decoder.events()

    def texts(self, event: EngineEvent) -> dict[int, str]:
        """Token texts from the tokenizer."""
        return {token: self.pair.token_text(token) for token in event_ids(event)}

    def shown(self, event: TokenAppended) -> str:
        """The token's share of the decoded output."""
        return self._stream.add(event.token_id, event.index)

    def retune_to(self, config: DecodeConfig) -> None:
        """Retune the engine."""
        self.decoder.retune_to(config)

    def rewind(self, round_index: int, settings: DecodeConfig | None) -> RoundRewound:
        """Rewind the engine, then retune it: the event names the settings it goes on with."""
        rewound = self.decoder.rewind(round_index)
        if settings is None:
            return rewound
        return replace(rewound, config=self.decoder.retune_to(settings))


class TraceSource:
    """A saved trace played back: the same events, the recorded texts, no models."""

    abilities: frozenset[Ability] = frozenset()

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.header = trace.header
        self._played = 0  # rounds yielded so far

    @property
    def finished(self) -> bool:
        """Whether every recorded round was played."""
        return self._played >= len(self.trace.rounds)

    def events(self) -> Generator[EngineEvent, None, None]:
        """The recorded events; a trace saved mid-decode ends after its last round."""
        for event in self.trace.events():
            if isinstance(event, RoundFinished):
                self._played += 1  # before the round is handed out: `finished` follows at once
            yield event
        if self.trace.done is None:
            rounds = self.trace.rounds
            stats = rounds[-1].stats if rounds else StatsTally().snapshot()
            output = tuple(token for event in rounds for token in event.appended_ids)
            yield DecodeFinished(FinishReason.END_OF_TRACE, self.header.prompt_ids, output, stats)

    def texts(self, event: EngineEvent) -> dict[int, str]:
        """The texts the trace recorded."""
        return {token: self.trace.token_text(token) for token in event_ids(event)}

    def shown(self, event: TokenAppended) -> str:
        """What the token added to the stream when it was recorded."""
        return self.trace.appended_texts[event.index]

    def retune_to(self, config: DecodeConfig) -> None:
        """A recording cannot change; its consumers check `abilities` first."""
        raise NotImplementedError("a trace cannot be retuned")

    def rewind(self, round_index: int, settings: DecodeConfig | None) -> RoundRewound:
        """A recording cannot branch; its consumers check `abilities` first."""
        raise NotImplementedError("a trace cannot branch")
