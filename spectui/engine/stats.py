"""Decode statistics: counts kept per round, and every figure derived from them by one formula.

The field quotes acceptance in two conventions, and both are here under names that cannot be
confused (the README's "definitions" table spells out each formula):

- *draft acceptance rate* = accepted / drafted: vLLM's "acceptance rate". Drafts after a
  round's first rejection are never judged, so this underestimates a per-token probability.
- *α per token* = accepted / judged: the probability that a judged draft is accepted, the α
  of Leviathan et al.'s formula.
- *τ* (tokens per round) = appended / rounds, the verifier's own token (correction or bonus)
  included; *accepted per round* = accepted / rounds leaves it out; vLLM's *mean acceptance
  length* = 1 + accepted / rounds (drafts), which equals τ only when every round appends
  exactly one token of the verifier's.
- token trees: *nodes per round* = drafted / rounds (a tree's verified nodes, a chain's k),
  the *accepted path length* is accepted per round, and *tokens per node* = appended /
  drafted; per-position counts are by depth (a tree's walk judges several siblings at one).
- per-position acceptance, *unconditional* (accepted at i / rounds that drafted i, vLLM's
  per-position rate) and *conditional* (accepted at i / judged at i: every earlier position
  was accepted, EAGLE's n-α).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RoundShape:
    """What bounds one round's tokens, for the expected-value model."""

    k: int  # draft tokens proposed
    cap: int | None  # the policy's most accepted drafts per round (soft's max_accept); None: k
    bonus: bool  # a fully accepted draft earns the verifier's bonus token (setting and room)

    @property
    def reachable(self) -> int:
        """Draft positions that can be accepted: k, or fewer under a cap."""
        return self.k if self.cap is None else min(self.k, self.cap)

    def expected_accepted(self, alpha: float) -> float:
        """E[accepted drafts] = α + α² + … + α^L, acceptance independent per position."""
        return sum(alpha**i for i in range(1, self.reachable + 1))

    def expected_tokens(self, alpha: float) -> float:
        """E[appended tokens]: the accepted drafts, plus a correction unless all k were accepted,
        plus the bonus token if all were and it is allowed.

        With no cap and a bonus this is Leviathan et al.'s (1 − α^(k+1)) / (1 − α).
        """
        all_accepted = alpha**self.k if self.reachable == self.k else 0.0
        verifier_token = (1.0 - all_accepted) + (all_accepted if self.bonus else 0.0)
        return self.expected_accepted(alpha) + verifier_token


@dataclass(frozen=True)
class ShapeCount:
    """How many rounds ran with one shape."""

    k: int
    cap: int | None
    bonus: bool
    rounds: int

    @property
    def shape(self) -> RoundShape:
        """The shape counted."""
        return RoundShape(self.k, self.cap, self.bonus)


@dataclass(frozen=True)
class StatsSnapshot:
    """The counts after some number of rounds; every derived figure is a property of them."""

    rounds: int
    drafted: int  # draft tokens proposed
    judged: int  # draft tokens the verifier judged (a round stops judging at its first rejection)
    accepted: int  # draft tokens accepted
    new_tokens: int  # tokens appended: accepted drafts + corrections + bonus tokens
    capped: int  # rounds whose judging reached the policy's cap (that check refused by it)
    drafted_at: tuple[int, ...]  # [i]: rounds that drafted a token at position i
    judged_at: tuple[int, ...]  # [i]: rounds that judged position i
    accepted_at: tuple[int, ...]  # [i]: rounds that accepted position i
    accepted_length_histogram: tuple[int, ...]  # [n]: rounds that accepted exactly n drafts
    round_shapes: tuple[ShapeCount, ...]  # the rounds by (k, cap, bonus), first seen first
    verifier_forwards: int  # includes the prompt's prefill
    drafter_forwards: int  # includes the prompt's prefill
    prefill_seconds: float
    draft_seconds: float
    verify_seconds: float

    @property
    def draft_acceptance_rate(self) -> float:
        """accepted / drafted (vLLM's "acceptance rate")."""
        return _ratio(self.accepted, self.drafted)

    @property
    def alpha(self) -> float:
        """α per token: accepted / judged."""
        return _ratio(self.accepted, self.judged)

    @property
    def alpha_below_cap(self) -> float:
        """accepted / judged, leaving out the checks the policy's cap refused: the model's α."""
        return _ratio(self.accepted, self.judged - self.capped)

    @property
    def tokens_per_round(self) -> float:
        """τ: appended tokens / rounds (the verifier's correction or bonus token included)."""
        return _ratio(self.new_tokens, self.rounds)

    @property
    def accepted_per_round(self) -> float:
        """Accepted drafts / rounds (τ without the verifier's token)."""
        return _ratio(self.accepted, self.rounds)

    @property
    def mean_acceptance_length(self) -> float:
        """vLLM's mean acceptance length: 1 + accepted / rounds."""
        return 1.0 + self.accepted_per_round if self.rounds else 0.0

    @property
    def per_position_acceptance(self) -> tuple[float, ...]:
        """[i]: accepted at position i / rounds that drafted position i (unconditional)."""
        return tuple(_ratio(a, d) for a, d in zip(self.accepted_at, self.drafted_at, strict=True))

    @property
    def per_position_conditional(self) -> tuple[float, ...]:
        """[i]: accepted at position i / rounds that judged it (every earlier one accepted)."""
        return tuple(_ratio(a, j) for a, j in zip(self.accepted_at, self.judged_at, strict=True))

    @property
    def predicted_tokens_per_round(self) -> float:
        """The model's τ for this decode (shown as "expected τ"): each round's expected tokens
        at `alpha_below_cap`, averaged.

        Each round counts with its own k, cap and bonus, so a decode whose settings changed
        part-way is predicted from the rounds it actually ran. `expected_tokens_per_round(α,
        k)` is the formula for one k alone, with no cap and a bonus.
        """
        alpha = self.alpha_below_cap
        total = sum(
            count.rounds * count.shape.expected_tokens(alpha) for count in self.round_shapes
        )
        return _ratio(total, self.rounds)

    @property
    def nodes_per_round(self) -> float:
        """Draft tokens (a tree's nodes) the verifier scored per round: drafted / rounds."""
        return _ratio(self.drafted, self.rounds)

    @property
    def tokens_per_node(self) -> float:
        """Appended tokens per verified node, new_tokens / drafted: what a node of the
        verifier's block bought (a chain's is τ / k)."""
        return _ratio(self.new_tokens, self.drafted)

    @property
    def tokens_per_second(self) -> float:
        """New tokens / (draft + verify seconds); prefill excluded."""
        return _ratio(self.new_tokens, self.draft_seconds + self.verify_seconds)

    def figures(self) -> dict[str, Any]:
        """Every derived figure by its name (JSON output writes these beside the counts)."""
        return {JSON_NAMES.get(name, name): getattr(self, name) for name in FIGURES}


FIGURES = (
    "draft_acceptance_rate",
    "alpha",
    "alpha_below_cap",
    "tokens_per_round",
    "accepted_per_round",
    "mean_acceptance_length",
    "predicted_tokens_per_round",
    "per_position_acceptance",
    "per_position_conditional",
    "nodes_per_round",
    "tokens_per_node",
    "tokens_per_second",
)
# A figure whose name in JSON is not its property's: the name traces, sweep files and `spectui
# run --json` have always written it under.
JSON_NAMES = {"predicted_tokens_per_round": "expected_tokens_per_round"}


@dataclass
class StatsTally:
    """Mutable counters the engine updates once per round."""

    rounds: int = 0
    drafted: int = 0
    judged: int = 0
    accepted: int = 0
    new_tokens: int = 0
    capped: int = 0
    drafted_at: list[int] = field(default_factory=list)
    judged_at: list[int] = field(default_factory=list)
    accepted_at: list[int] = field(default_factory=list)
    histogram: list[int] = field(default_factory=list)
    shapes: dict[RoundShape, int] = field(default_factory=dict)
    verifier_forwards: int = 0
    drafter_forwards: int = 0
    prefill_seconds: float = 0.0
    draft_seconds: float = 0.0
    verify_seconds: float = 0.0

    def record_round(
        self,
        shape: RoundShape,
        n_judged: int,
        n_accepted: int,
        n_appended: int,
        *,
        n_drafted: int | None = None,
        depths_judged: int | None = None,
    ) -> None:
        """Count one finished round: its shape, and how many drafts were judged and accepted.

        A token tree's round also says how many nodes were verified (`n_drafted`; a chain's
        is its k, which is a tree's depth) and at how many depths its walk judged a node
        (a chain's judged positions): the per-position counts are by depth.
        """
        n_drafted = shape.k if n_drafted is None else n_drafted
        depths_judged = n_judged if depths_judged is None else depths_judged
        self.rounds += 1
        self.drafted += n_drafted
        self.judged += n_judged
        self.accepted += n_accepted
        self.new_tokens += n_appended
        self.capped += shape.cap is not None and depths_judged > shape.cap
        for counts, n in (
            (self.drafted_at, shape.k),
            (self.judged_at, depths_judged),
            (self.accepted_at, n_accepted),
        ):
            _count_positions(counts, n, shape.k)
        _grow(self.histogram, shape.k + 1)
        self.histogram[n_accepted] += 1
        self.shapes[shape] = self.shapes.get(shape, 0) + 1

    def add(self, snapshot: StatsSnapshot) -> None:
        """Add another decode's counts (a total over several prompts)."""
        self.rounds += snapshot.rounds
        self.drafted += snapshot.drafted
        self.judged += snapshot.judged
        self.accepted += snapshot.accepted
        self.new_tokens += snapshot.new_tokens
        self.capped += snapshot.capped
        for mine, theirs in (
            (self.drafted_at, snapshot.drafted_at),
            (self.judged_at, snapshot.judged_at),
            (self.accepted_at, snapshot.accepted_at),
            (self.histogram, snapshot.accepted_length_histogram),
        ):
            _grow(mine, len(theirs))
            for i, n in enumerate(theirs):
                mine[i] += n
        for count in snapshot.round_shapes:
            self.shapes[count.shape] = self.shapes.get(count.shape, 0) + count.rounds
        self.verifier_forwards += snapshot.verifier_forwards
        self.drafter_forwards += snapshot.drafter_forwards
        self.prefill_seconds += snapshot.prefill_seconds
        self.draft_seconds += snapshot.draft_seconds
        self.verify_seconds += snapshot.verify_seconds

    def snapshot(self) -> StatsSnapshot:
        """Freeze the current counts."""
        return StatsSnapshot(
            rounds=self.rounds,
            drafted=self.drafted,
            judged=self.judged,
            accepted=self.accepted,
            new_tokens=self.new_tokens,
            capped=self.capped,
            drafted_at=tuple(self.drafted_at),
            judged_at=tuple(self.judged_at),
            accepted_at=tuple(self.accepted_at),
            accepted_length_histogram=tuple(self.histogram),
            round_shapes=tuple(
                ShapeCount(shape.k, shape.cap, shape.bonus, rounds)
                for shape, rounds in self.shapes.items()
            ),
            verifier_forwards=self.verifier_forwards,
            drafter_forwards=self.drafter_forwards,
            prefill_seconds=self.prefill_seconds,
            draft_seconds=self.draft_seconds,
            verify_seconds=self.verify_seconds,
        )


def combined(snapshots: Iterable[StatsSnapshot]) -> StatsSnapshot:
    """The counts of several decodes added up (their figures then derive from the totals)."""
    tally = StatsTally()
    for snapshot in snapshots:
        tally.add(snapshot)
    return tally.snapshot()


def expected_tokens_per_round(alpha: float, k: int) -> float:
    """Leviathan et al.'s expected tokens per round, (1 - a^(k+1)) / (1 - a), at acceptance a.

    One k, no cap, a bonus: a decode's own figure, from the rounds it ran with their own k, cap
    and bonus, is `StatsSnapshot.predicted_tokens_per_round`.
    """
    return RoundShape(k, cap=None, bonus=True).expected_tokens(alpha)


def _count_positions(counts: list[int], n: int, k: int) -> None:
    _grow(counts, k)
    for position in range(n):
        counts[position] += 1


def _grow(counts: list[int], length: int) -> None:
    counts.extend([0] * (length - len(counts)))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
