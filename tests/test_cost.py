"""The cost model's speedups on the scripted decode (tests/scripted.py), computed by hand."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from scripted import scripted_decode

from spectui.engine.cost.model import (
    CostModel,
    cost_at,
    derived_spans,
    measured_speedup,
    predicted_speedup,
    relative_spread,
)
from spectui.engine.stats import StatsSnapshot


def cost(k: int, verifier_block: float) -> CostModel:
    """A drafter step of 1 s and a verifier step of 4 s: c = 0.25 at every span."""
    return CostModel(
        k=k,
        context_tokens=8,
        drafter_step=1.0,
        verifier_step=4.0,
        verifier_block=verifier_block,
        samples=3,
    )


COSTS = {5: cost(5, 6.0), 3: cost(3, 5.0), 4: cost(4, 6.0)}  # r_5 1.5, r_3 1.25, r_4 1.5


@pytest.fixture(scope="module")
def stats() -> StatsSnapshot:
    return scripted_decode()[-1].stats


def test_the_cost_model_record() -> None:
    k5 = COSTS[5]
    assert (k5.c, k5.r_k, k5.round_cost) == (0.25, 1.5, 5 * 0.25 + 1.5)


def test_predicted_speedup_averages_each_rounds_own_cost(stats: StatsSnapshot) -> None:
    # Rounds: two at k=5 (2.75 verifier steps each), two at k=3 (3·0.25 + 1.25 = 2.0), one
    # at k=4 (4·0.25 + 1.5 = 2.5): 12 steps over 5 rounds.
    mean_round_cost = (2 * 2.75 + 2 * 2.0 + 2.5) / 5
    expected = stats.predicted_tokens_per_round / mean_round_cost
    assert predicted_speedup(stats, COSTS) == pytest.approx(expected)


def test_a_single_span_is_the_sweeps_formula(stats: StatsSnapshot) -> None:
    one_span = {k: COSTS[5] for k in (3, 4, 5)}  # every round costs 2.75
    assert predicted_speedup(stats, one_span) == pytest.approx(
        stats.predicted_tokens_per_round / 2.75
    )


def test_a_span_never_timed_is_derived_from_the_nearest_timed_ones_per_token_costs(
    stats: StatsSnapshot,
) -> None:
    """k = 4 was never timed: the nearest timed span (a tie between 3 and 5: the larger, 5)
    gives c = 0.25 and the verifier's cost per token fed, (r_5 − 1)/5 = 0.1, so
    r_4 = 1 + 4·0.1 = 1.4 and a k = 4 round costs 4·0.25 + 1.4 = 2.4 verifier steps."""
    timed = {5: COSTS[5], 3: COSTS[3]}
    derived, was_derived = cost_at(timed, 4)
    assert was_derived and not cost_at(timed, 5)[1]
    assert (derived.k, derived.c, derived.r_k) == (4, 0.25, pytest.approx(1.4))
    mean_round_cost = (2 * 2.75 + 2 * 2.0 + 2.4) / 5
    expected = stats.predicted_tokens_per_round / mean_round_cost
    assert predicted_speedup(stats, timed) == pytest.approx(expected)
    assert derived_spans(stats, timed) == (4,)
    assert predicted_speedup(stats, {}) is None  # nothing timed (a served model): no prediction


def test_measured_speedup_is_tokens_per_verifier_step_of_time(stats: StatsSnapshot) -> None:
    timed = replace(stats, prefill_seconds=99.0, draft_seconds=1.0, verify_seconds=2.0)
    # 15 tokens in 3 s of drafting and verifying; plain decoding: one per 4 s verifier step.
    assert timed.new_tokens == 15
    assert measured_speedup(timed, 4.0) == pytest.approx(15 * 4.0 / 3.0)
    assert measured_speedup(replace(timed, draft_seconds=0.0, verify_seconds=0.0), 4.0) is None


def test_the_tree_block_is_timed_under_a_tree_mask(tiny_loaded: Any) -> None:
    from spectui.engine.cost.sampler import CostSampler, _timing_tree

    # a complete binary tree of 4 nodes after 10 cached tokens (nodes 2, 3 under node 0)
    sees, positions = _timing_tree(10, 4, 2)
    assert [sorted(slots) for _, slots in sees] == [[], [11], [12], [11, 13], [11, 14]]
    assert {prefix for prefix, _ in sees[1:]} == {11} and sees[0][0] == 11
    assert positions == [10, 11, 11, 12, 12]  # base + depth
    sampler = CostSampler(tiny_loaded, list(range(1, 30)), k=3, tree_nodes=6, tree_topk=2)
    cost = sampler.model()
    assert cost.tree_nodes == 6 and cost.verifier_tree_block > 0
    assert cost.r_tree == pytest.approx(cost.verifier_tree_block / cost.verifier_step)
    assert cost.tree_round_cost(3) == pytest.approx(
        3 * cost.c + cost.verifier_tree_block / cost.verifier_step
    )
    assert CostModel(3, 10, 1.0, 2.0, 3.0, 1).r_tree is None  # untimed


TAKEN = 1_000_000.0  # a wall-clock second the cost models below were timed at


def timed(load: float | None, context: int = 100) -> CostModel:
    return replace(
        cost(5, 6.0), taken_at=TAKEN, load=load, cores=2, spread=0.04, context_tokens=context
    )


def test_a_cost_model_says_how_old_how_noisy_and_under_what_load() -> None:
    assert timed(0.3).provenance(TAKEN + 130) == "timed 2 min ago · ±4%"
    assert timed(1.0).provenance(TAKEN + 2) == "timed just now · ±4%"  # half the cores: idle
    assert timed(3.1).provenance(TAKEN + 40) == "timed 40 s ago · ±4% · under load 3.1 on 2 cores"
    assert timed(None).provenance(TAKEN + 7200) == "timed 2 h ago · ±4%"


@pytest.mark.parametrize(
    ("seconds_later", "load_now", "context_now", "stale"),
    [
        (60, 0.4, 110, False),  # fresh, same load, about the same context
        (301, 0.4, 100, True),  # older than five minutes
        (60, 1.5, 100, True),  # the load moved by a core or more
        (60, None, 100, False),  # no load average here: age and context decide
        (60, 0.4, 400, False),  # the decode grew: not timed again (it would hold the engine)
        (60, 0.4, 40, False),  # under half, but by fewer than 64 tokens
        (60, 0.4, 30, True),  # a restart on a shorter context: under half, by over 64 tokens
    ],
)
def test_a_cost_model_goes_stale(
    seconds_later: float, load_now: float | None, context_now: int, stale: bool
) -> None:
    model = timed(0.4, context=100)
    assert model.stale(TAKEN + seconds_later, load_now, context_now) is stale


def test_the_spread_is_the_interquartile_range_over_the_median() -> None:
    # quartiles (inclusive) of 1, 2, 3, 4, 5 are 2 and 4; the median 3
    assert relative_spread([5.0, 1.0, 3.0, 2.0, 4.0]) == pytest.approx(2 / 3)
    assert relative_spread([2.0]) == 0.0


def test_the_app_times_a_span_again_once_stale_and_not_before(tiny_loaded: Any) -> None:
    """A restart on the same pair kept its spans' cost models for good: a figure timed under
    load, or minutes ago, divided every later decode's time (1.31× "measured" speedup on a
    round that accepted nothing)."""
    from spectui.app.costs import CostTimer
    from spectui.engine.config import DecodeConfig
    from spectui.engine.trace.source import LiveSource

    source = LiveSource(tiny_loaded, DecodeConfig(draft_span=3, max_new_tokens=4), "Once upon")
    posted: list[Any] = []
    now = [TAKEN]
    known = {3: replace(timed(0.4), k=3, context_tokens=6)}
    timer = CostTimer(posted.append, 1, known, 0.0, clock=lambda: now[0], load=lambda: 0.4)
    now[0] = TAKEN + 60
    timer.ensure(source)
    assert posted == [], "fresh: not timed again"
    now[0] = TAKEN + 400
    timer.ensure(source)
    assert len(posted) == 1 and posted[0].cost.k == 3 and posted[0].cost.taken_at > TAKEN
    timer.ensure(source)
    assert len(posted) == 1, "the new timing is fresh"
