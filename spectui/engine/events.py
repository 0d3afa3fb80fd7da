"""What the engine yields: small frozen records, one per thing a person can watch happen.

Stepping "one token" in the app is consuming one `TokenChecked` (and the `TokenAppended`
that follows it). A trace file is the decode's header, then each `RoundFinished` and the
`DecodeFinished` as JSON lines: the other events are the parts of a `RoundFinished`, and
`RoundFinished.steps()` yields them back in the order the engine did.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from spectui.engine.config import DecodeConfig
from spectui.engine.policy.records import GateCheck
from spectui.engine.stats import StatsSnapshot
from spectui.engine.tree.record import TreeRecord


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
    END_OF_TRACE = "end_of_trace"  # a replayed trace saved before its decode ended


@dataclass(frozen=True)
class RoundDrafted:
    """The drafter proposed this round's tokens (before the verifier has looked)."""

    round_index: int
    draft_ids: tuple[int, ...]
    q: tuple[float, ...]  # drafter's probability of each of its tokens
    config: DecodeConfig  # the settings in force for this whole round
    # A token tree's: each draft's parent (an index into draft_ids, -1 the root); () a chain.
    parents: tuple[int, ...] = ()


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
    # A token tree's round (`engine.tree.record`): draft_ids and q are its verified nodes by
    # id, checks those its walk judged in walk order (each check's position is its node id);
    # None for a chain.
    tree: TreeRecord | None = None

    def steps(self, first_output_index: int) -> Iterator[EngineEvent]:
        """This round's events as the engine yielded them, itself last.

        `first_output_index`: the output position of the round's first appended token.
        """
        parents = () if self.tree is None else tuple(n.parent for n in self.tree.verified)
        yield RoundDrafted(self.round_index, self.draft_ids, self.q, self.config, parents)
        if self.tree is not None:
            yield from self._tree_steps(self.tree, first_output_index)
            yield self
            return
        appended = zip(self.appended_ids, self.origins, strict=True)
        for position, (token_id, origin) in enumerate(appended):
            if position < len(self.checks):  # the last one may be a bonus: no check
                yield TokenChecked(self.round_index, self.checks[position])
            yield TokenAppended(self.round_index, token_id, origin, first_output_index + position)
        yield self

    def _tree_steps(self, tree: TreeRecord, first_output_index: int) -> Iterator[EngineEvent]:
        """A tree round's checks in walk order, each accepted node's token after its check."""
        appended = iter(enumerate(zip(self.appended_ids, self.origins, strict=True)))
        on_path = set(tree.path)
        for node_id, check in zip(tree.walk, self.checks, strict=True):
            yield TokenChecked(self.round_index, check)
            if node_id in on_path:
                index, (token_id, origin) = next(appended)
                yield TokenAppended(self.round_index, token_id, origin, first_output_index + index)
        for index, (token_id, origin) in appended:
            yield TokenAppended(self.round_index, token_id, origin, first_output_index + index)


@dataclass(frozen=True)
class RoundRewound:
    """The decode went back to the start of `round_index` (a branch); later rounds are gone."""

    round_index: int
    n_generated: int  # output tokens kept (those of the rounds before)
    stats: StatsSnapshot  # the statistics as they were then
    config: DecodeConfig  # the settings the decode goes on with


@dataclass(frozen=True)
class DecodeFinished:
    """The decode ended."""

    reason: FinishReason
    prompt_ids: tuple[int, ...]
    output_ids: tuple[int, ...]  # generated tokens only
    stats: StatsSnapshot


EngineEvent = (
    RoundDrafted | TokenChecked | TokenAppended | RoundFinished | RoundRewound | DecodeFinished
)
