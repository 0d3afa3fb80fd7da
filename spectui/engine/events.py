"""What the engine yields: small frozen records, one per thing a person can watch happen.

Stepping "one token" in the app is consuming one `TokenChecked` (and the `TokenAppended`
that follows it); a trace file is these events as JSON lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from spectui.engine.config import DecodeConfig
from spectui.engine.policies import GateCheck
from spectui.engine.stats import StatsSnapshot


class TokenOrigin(str, Enum):
    """Where an appended token came from."""

    DRAFT = "draft"  # a draft token the policy accepted
    CORRECTION = "correction"  # the verifier's argmax, appended at the first rejection
    BONUS = "bonus"  # the verifier's extra token after a fully accepted draft


class FinishReason(str, Enum):
    """Why a decode ended."""

    SINGLE_ROUND = "single_round"  # no max_new_tokens: one round, as the seed's step
    MAX_TOKENS = "max_tokens"
    EOS = "eos"
    CONTEXT_LIMIT = "context_limit"


@dataclass(frozen=True)
class RoundDrafted:
    """The drafter proposed this round's tokens (before the verifier has looked)."""

    round_index: int
    draft_ids: tuple[int, ...]
    q: tuple[float, ...]  # drafter's probability of each of its tokens
    config: DecodeConfig  # the settings in force for this whole round


@dataclass(frozen=True)
class TokenChecked:
    """The verifier judged one draft token."""

    round_index: int
    check: GateCheck


@dataclass(frozen=True)
class TokenAppended:
    """A token joined the output."""

    round_index: int
    token_id: int
    origin: TokenOrigin
    index: int  # 0-based position among the generated tokens


@dataclass(frozen=True)
class RoundFinished:
    """A round is over and both caches are rolled back to what was kept."""

    round_index: int
    draft_ids: tuple[int, ...]
    q: tuple[float, ...]
    checks: tuple[GateCheck, ...]
    appended_ids: tuple[int, ...]
    origins: tuple[TokenOrigin, ...]
    n_accepted: int
    config: DecodeConfig
    stats: StatsSnapshot


@dataclass(frozen=True)
class DecodeFinished:
    """The decode ended."""

    reason: FinishReason
    prompt_ids: tuple[int, ...]
    output_ids: tuple[int, ...]  # generated tokens only
    stats: StatsSnapshot


EngineEvent = RoundDrafted | TokenChecked | TokenAppended | RoundFinished | DecodeFinished
