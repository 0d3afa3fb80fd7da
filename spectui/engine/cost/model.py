"""Leviathan et al.'s cost model as measured numbers: pure Python, read by sweeps and the app.

`spectui.engine.cost.sampler` measures it (with torch); a sweep file stores it, so a finished
sweep's view needs neither torch nor the models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import median, quantiles

from spectui.engine.stats import StatsSnapshot, expected_tokens_per_round


@dataclass(frozen=True)
class CostModel:
    """Measured step costs (seconds, median of interleaved repeats) at one context length."""

    k: int
    context_tokens: int  # tokens already cached when each step was timed
    drafter_step: float  # drafter, 1 new token, KV-cached
    verifier_step: float  # verifier, 1 new token, KV-cached
    verifier_block: float  # verifier, k+1 new tokens in one forward, KV-cached
    samples: int  # timed repeats of each
    # A token tree's verifier block: the last token and `tree_nodes` nodes in one forward
    # under a tree mask, KV-cached (0: not timed).
    tree_nodes: int = 0
    verifier_tree_block: float = 0.0
    # When and under what the steps were timed, so a figure built on them can say how old and
    # how noisy it is: wall-clock seconds (time.time()); the machine's 1-minute load average
    # and its cores then (None where the platform has none); the verifier step's spread,
    # interquartile range / median of its samples.
    taken_at: float = 0.0
    load: float | None = None
    cores: int = 1
    spread: float = 0.0

    @property
    def under_load(self) -> bool:
        """Timed while other work kept more than half the cores busy: its times are slower."""
        return self.load is not None and self.load > LOADED_SHARE * self.cores

    def provenance(self, now: float) -> str:
        """ "timed 2 min ago · ±4%", and " · under load 3.1 on 2 cores" where it was."""
        words = f"timed {age_words(now - self.taken_at)} · ±{self.spread:.0%}"
        if self.under_load:
            words += f" · under load {self.load:.1f} on {self.cores} cores"
        return words

    def stale(self, now: float, load: float | None, context_tokens: int) -> bool:
        """Whether to time it again: older than STALE_SECONDS, the machine's load moved by a
        core or more since, or the context is under half the one timed, by more than
        CONTEXT_SLACK tokens (a restart on a shorter prompt). A decode's own growth does not
        count: timing holds the engine's thread, and at fast-forward on a small pair two
        more timings cost half its speed (measured with benchmarks/app_latency.py)."""
        if now - self.taken_at > STALE_SECONDS:
            return True
        if load is not None and self.load is not None and abs(load - self.load) >= 1.0:
            return True
        timed = self.context_tokens
        return context_tokens < timed / 2 and timed - context_tokens > CONTEXT_SLACK

    @property
    def c(self) -> float:
        """Drafter step / verifier step."""
        return self.drafter_step / self.verifier_step

    @property
    def r_k(self) -> float:
        """Verifier on k+1 tokens / verifier on 1 token."""
        return self.verifier_block / self.verifier_step

    @property
    def r_tree(self) -> float | None:
        """Verifier on a tree of `tree_nodes` nodes (+1) / verifier on 1 token; None untimed."""
        return self.verifier_tree_block / self.verifier_step if self.tree_nodes else None

    def tree_round_cost(self, depth: int) -> float | None:
        """A tree round in verifier steps, depth·c + r_tree: the drafter runs one forward per
        depth (its frontier batched, costed as one step) and the verifier one tree block."""
        r_tree = self.r_tree
        return None if r_tree is None else depth * self.c + r_tree

    @property
    def round_cost(self) -> float:
        """One round in verifier steps: k·c + r_k."""
        return self.k * self.c + self.r_k

    def predicted_speedup(self, alpha: float) -> float:
        """S = (1 − α^(k+1)) / ((1 − α)(k·c + r_k)) over plain decoding."""
        return expected_tokens_per_round(alpha, self.k) / self.round_cost


LOADED_SHARE = 0.5  # load average per core above which timings are said to be taken under load
STALE_SECONDS = 300.0  # a cost model older than this is timed again (the machine drifts)
CONTEXT_SLACK = 64  # tokens of context by which a timing may be off before it is redone


def age_words(seconds: float) -> str:
    """ "just now", "40 s ago", "3 min ago", "2 h ago"."""
    if seconds < 5:
        return "just now"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def cost_at(costs: Mapping[int, CostModel], k: int) -> tuple[CostModel, bool]:
    """The cost model at span `k`, and whether it was derived rather than timed at `k`.

    A span never timed (a last round cut short by max_new_tokens, say) takes the nearest
    timed span K's per-token costs (`timed_span_for`): the same drafter and verifier steps,
    so the same c, and the verifier's block linear in the tokens it feeds beyond the one a
    plain step feeds, r_k = 1 + (r_K − 1)·k/K.
    """
    if k in costs:
        return costs[k], False
    base = costs[timed_span_for(costs, k)]
    per_token = (base.verifier_block - base.verifier_step) / base.k
    return replace(base, k=k, verifier_block=base.verifier_step + per_token * k), True


def timed_span_for(costs: Mapping[int, CostModel], k: int) -> int:
    """The timed span `k`'s costs come from: `k` itself, else the nearest (a tie: the larger)."""
    return min(costs, key=lambda timed: (abs(timed - k), -timed))


def derived_spans(stats: StatsSnapshot, costs: Mapping[int, CostModel]) -> tuple[int, ...]:
    """The spans the rounds used whose cost `cost_at` derives (none was timed at them)."""
    if not costs:
        return ()
    return tuple(sorted({shape.k for shape in stats.round_shapes} - set(costs)))


def predicted_speedup(stats: StatsSnapshot, costs: Mapping[int, CostModel]) -> float | None:
    """The cost model's speedup for the rounds run: expected τ / mean (k·c + r_k).

    Each round costs k·c + r_k verifier steps at its own k, so rounds run at several spans
    average their costs as `predicted_tokens_per_round` averages their expectations; a span
    never timed has its cost derived (`cost_at`). None before a round, or with no cost model.
    """
    if stats.rounds == 0 or not costs:
        return None
    cost = sum(count.rounds * cost_at(costs, count.k)[0].round_cost for count in stats.round_shapes)
    return stats.predicted_tokens_per_round / (cost / stats.rounds)


def measured_speedup(stats: StatsSnapshot, verifier_step: float) -> float | None:
    """New tokens per verifier-step of time: tok/s × (one verifier step, seconds).

    Plain decoding makes one token per verifier step, so this is the decode's speed over
    plain decoding's, with the step timed as the cost model times it. Prefill is excluded,
    as in tok/s. None before any timed round.
    """
    seconds = stats.draft_seconds + stats.verify_seconds
    if stats.new_tokens == 0 or seconds <= 0:
        return None
    return stats.new_tokens * verifier_step / seconds


def load_average() -> float | None:
    """The machine's 1-minute load average (None where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def relative_spread(samples: Sequence[float]) -> float:
    """Interquartile range / median: how far apart the timed repeats lie (0 for < 2)."""
    if len(samples) < 2:
        return 0.0
    lower, _, upper = quantiles(samples, n=4, method="inclusive")
    return (upper - lower) / median(samples)
