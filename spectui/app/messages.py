"""Messages the engine worker posts to the decode screen: one per engine event, plus loading.

Engine objects (GateCheck, StatsSnapshot, DecodeConfig) travel as they are; token texts are
decoded in the worker so the UI thread never touches the tokenizer or torch. Every message
carries the `run` it belongs to, so a restarted decode ignores a stale worker's stragglers.
The decode events also carry the engine's own event, which is what a saved trace is made of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from spectui.engine import events
    from spectui.engine.config import DecodeConfig
    from spectui.engine.policies import GateCheck
    from spectui.engine.stats import StatsSnapshot
    from spectui.engine.trace import TraceHeader


class EngineMessage(Message, bubble=False):
    """Base of the worker's messages: handled by the decode screen, never bubbled further.

    (Textual resets `bubble` in every subclass, so each one repeats `bubble=False`.)
    """


@dataclass
class LoadProgress(EngineMessage, bubble=False):
    """A step of loading the models (importing torch, reading weights)."""

    run: int
    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgress)


@dataclass
class ModelsReady(EngineMessage, bubble=False):
    """The drafter and verifier are loaded; `pair` is kept to restart without reloading."""

    run: int
    pair: Any  # spectui.engine.loading.ModelPair (not imported here: it pulls in torch)
    summary: str  # e.g. "drafter → verifier · cpu · float32"
    load_seconds: float


@dataclass
class DecodeStarted(EngineMessage, bubble=False):
    """A decode of `prompt` began (prompt tokenized, nothing generated yet)."""

    run: int
    prompt: str
    n_prompt_tokens: int
    context_length: int
    header: TraceHeader | None = None  # what a trace of this decode starts with


class DecodeEvent(EngineMessage, bubble=False):
    """Base of the messages that carry an engine event (autoplay waits until they are shown)."""


@dataclass
class RoundDrafted(DecodeEvent, bubble=False):
    """The drafter proposed this round's tokens."""

    run: int
    round_index: int
    texts: tuple[str, ...]
    q: tuple[float, ...]
    config: DecodeConfig  # the settings in force for this whole round
    event: events.RoundDrafted | None = None


@dataclass
class TokenChecked(DecodeEvent, bubble=False):
    """The verifier judged one draft token (one step)."""

    run: int
    round_index: int
    check: GateCheck
    text: str  # the draft token
    top1_text: str  # the verifier's argmax
    alternatives: tuple[tuple[str, float], ...]  # the verifier's top tokens as (text, p)
    event: events.TokenChecked | None = None


@dataclass
class TokenAppended(DecodeEvent, bubble=False):
    """A token joined the output (origin: draft, correction or bonus)."""

    run: int
    round_index: int
    text: str
    origin: str
    index: int
    token_text: str = ""  # the token on its own (`text` is what it adds to the stream)
    event: events.TokenAppended | None = None


@dataclass
class RoundFinished(DecodeEvent, bubble=False):
    """A round ended; `stats` covers every round so far."""

    run: int
    round_index: int
    n_accepted: int
    stats: StatsSnapshot
    event: events.RoundFinished | None = None


@dataclass
class DecodeFinished(DecodeEvent, bubble=False):
    """The decode ended (`reason`: eos, max_tokens, context_limit or single_round)."""

    run: int
    reason: str
    stats: StatsSnapshot
    event: events.DecodeFinished | None = None


@dataclass
class Rewound(DecodeEvent, bubble=False):
    """The decode went back to the start of `round_index` (a branch); later rounds are gone."""

    run: int
    round_index: int
    n_generated: int  # output tokens kept (those of the rounds before)
    stats: StatsSnapshot  # the statistics as they were then
    config: DecodeConfig  # the settings the decode goes on with


@dataclass
class ComparisonReady(Message):
    """The compare worker decoded the prompt under both policies and scored both outputs."""

    comparison: Any  # spectui.engine.compare.PolicyComparison (it pulls in torch)
    greedy_texts: tuple[str, ...]  # each output token's text
    soft_texts: tuple[str, ...]


@dataclass
class EngineWaiting(EngineMessage, bubble=False):
    """The worker has posted everything so far and waits for the next step request."""

    run: int
    served: int  # how many step requests the worker had seen when it began waiting

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EngineWaiting)
