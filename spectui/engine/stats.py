"""Decode statistics: a running tally per round, and frozen snapshots of it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StatsSnapshot:
    """Statistics after some number of rounds (derived figures included)."""

    rounds: int
    drafted: int  # draft tokens proposed
    accepted: int  # draft tokens accepted
    new_tokens: int  # tokens appended: accepted drafts + corrections + bonus tokens
    acceptance_rate: float  # accepted / drafted
    # Two conventions for "mean accepted length", both per round:
    mean_accepted: float  # accepted draft tokens only (excludes the verifier's own token)
    mean_tokens_per_round: float  # all appended tokens (includes correction/bonus token)
    per_position_acceptance: tuple[float, ...]  # [i]: accepted at draft position i / drafted there
    accepted_length_histogram: tuple[int, ...]  # [n]: rounds that accepted exactly n tokens
    verifier_forwards: int  # includes the prompt's prefill
    drafter_forwards: int  # includes the prompt's prefill
    prefill_seconds: float
    draft_seconds: float
    verify_seconds: float
    tokens_per_second: float  # new tokens / (draft + verify seconds); prefill excluded


@dataclass
class StatsTally:
    """Mutable counters the engine updates once per round."""

    rounds: int = 0
    drafted: int = 0
    accepted: int = 0
    new_tokens: int = 0
    drafted_at: list[int] = field(default_factory=list)
    accepted_at: list[int] = field(default_factory=list)
    histogram: list[int] = field(default_factory=list)
    verifier_forwards: int = 0
    drafter_forwards: int = 0
    prefill_seconds: float = 0.0
    draft_seconds: float = 0.0
    verify_seconds: float = 0.0

    def record_round(self, n_drafted: int, n_accepted: int, n_appended: int) -> None:
        """Count one finished round."""
        self.rounds += 1
        self.drafted += n_drafted
        self.accepted += n_accepted
        self.new_tokens += n_appended
        _grow(self.drafted_at, n_drafted)
        _grow(self.accepted_at, n_drafted)
        _grow(self.histogram, n_drafted + 1)
        for position in range(n_drafted):
            self.drafted_at[position] += 1
        for position in range(n_accepted):
            self.accepted_at[position] += 1
        self.histogram[n_accepted] += 1

    def snapshot(self) -> StatsSnapshot:
        """Freeze the current figures."""
        busy_seconds = self.draft_seconds + self.verify_seconds
        return StatsSnapshot(
            rounds=self.rounds,
            drafted=self.drafted,
            accepted=self.accepted,
            new_tokens=self.new_tokens,
            acceptance_rate=_ratio(self.accepted, self.drafted),
            mean_accepted=_ratio(self.accepted, self.rounds),
            mean_tokens_per_round=_ratio(self.new_tokens, self.rounds),
            per_position_acceptance=tuple(
                _ratio(a, d) for a, d in zip(self.accepted_at, self.drafted_at, strict=True)
            ),
            accepted_length_histogram=tuple(self.histogram),
            verifier_forwards=self.verifier_forwards,
            drafter_forwards=self.drafter_forwards,
            prefill_seconds=self.prefill_seconds,
            draft_seconds=self.draft_seconds,
            verify_seconds=self.verify_seconds,
            tokens_per_second=_ratio(self.new_tokens, busy_seconds),
        )


def expected_tokens_per_round(alpha: float, k: int) -> float:
    """Leviathan et al.'s expected tokens per round, (1 - a^(k+1)) / (1 - a), at acceptance a."""
    if alpha >= 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def _grow(counts: list[int], length: int) -> None:
    counts.extend([0] * (length - len(counts)))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
