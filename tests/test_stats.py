"""Every statistic on the scripted decode (tests/scripted.py), computed by hand here."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripted import scripted_decode

from spectui.engine.events import RoundFinished
from spectui.engine.stats import RoundShape, StatsSnapshot, combined, expected_tokens_per_round


@pytest.fixture(scope="module")
def rounds() -> list[RoundFinished]:
    return scripted_decode()


@pytest.fixture(scope="module")
def stats(rounds: list[RoundFinished]) -> StatsSnapshot:
    return rounds[-1].stats


def test_the_script_ran_as_planned(rounds: list[RoundFinished]) -> None:
    assert [len(r.draft_ids) for r in rounds] == [5, 5, 3, 3, 4]
    assert [len(r.checks) for r in rounds] == [2, 5, 3, 1, 3]
    assert [r.n_accepted for r in rounds] == [1, 5, 3, 0, 2]
    assert [len(r.appended_ids) for r in rounds] == [2, 6, 3, 1, 3]
    assert not rounds[-1].checks[2].gates["max_accept"]  # the cap refused draft #3


def test_counts(stats: StatsSnapshot) -> None:
    assert (stats.rounds, stats.drafted, stats.judged, stats.accepted) == (5, 20, 14, 11)
    assert stats.new_tokens == 15
    assert stats.capped == 1


def test_both_acceptance_conventions(stats: StatsSnapshot) -> None:
    assert stats.draft_acceptance_rate == pytest.approx(11 / 20)  # accepted / drafted
    assert stats.alpha == pytest.approx(11 / 14)  # accepted / judged
    assert stats.alpha_below_cap == pytest.approx(11 / 13)  # the cap's refusal left out


def test_tokens_per_round_and_acceptance_length(stats: StatsSnapshot) -> None:
    assert stats.tokens_per_round == pytest.approx(15 / 5)  # τ, the verifier's tokens in
    assert stats.accepted_per_round == pytest.approx(11 / 5)
    assert stats.mean_acceptance_length == pytest.approx(1 + 11 / 5)  # vLLM's


def test_per_position(stats: StatsSnapshot) -> None:
    # drafted at position 0..4: every round drafted 0-2; rounds 1, 2, 5 drafted 3; 1, 2 drafted 4
    assert stats.drafted_at == (5, 5, 5, 3, 2)
    assert stats.judged_at == (5, 4, 3, 1, 1)
    assert stats.accepted_at == (4, 3, 2, 1, 1)
    assert stats.per_position_acceptance == pytest.approx((4 / 5, 3 / 5, 2 / 5, 1 / 3, 1 / 2))
    assert stats.per_position_conditional == pytest.approx((4 / 5, 3 / 4, 2 / 3, 1, 1))
    assert stats.accepted_length_histogram == (1, 1, 1, 1, 0, 1)


def test_expectation_from_each_rounds_own_shape(stats: StatsSnapshot) -> None:
    a = 11 / 13
    k5_with_bonus = (1 - a**6) / (1 - a)  # Leviathan et al.
    k3_without_bonus = a + a**2 + a**3 + (1 - a**3)  # accepted drafts + a correction unless all
    capped_at_2 = a + a**2 + 1  # at most two accepted; the cap's check always appends one
    expected = (2 * k5_with_bonus + 2 * k3_without_bonus + capped_at_2) / 5
    assert stats.predicted_tokens_per_round == pytest.approx(expected)
    assert {(c.k, c.cap, c.bonus): c.rounds for c in stats.round_shapes} == {
        (5, None, True): 2,
        (3, None, False): 2,
        (4, 2, True): 1,
    }


def test_round_shape_limits() -> None:
    assert RoundShape(5, None, bonus=False).expected_tokens(1.0) == pytest.approx(5)  # not 6
    assert RoundShape(5, None, bonus=True).expected_tokens(1.0) == pytest.approx(6)
    assert RoundShape(5, 2, bonus=True).expected_tokens(1.0) == pytest.approx(3)
    assert RoundShape(5, None, bonus=True).expected_tokens(0.0) == pytest.approx(1)
    assert expected_tokens_per_round(0.5, 3) == pytest.approx((1 - 0.5**4) / 0.5)


def test_combined_adds_counts_not_figures(stats: StatsSnapshot) -> None:
    both = combined([stats, stats])
    assert (both.rounds, both.judged, both.accepted) == (10, 28, 22)
    assert both.alpha == pytest.approx(stats.alpha)
    assert both.per_position_conditional == pytest.approx(stats.per_position_conditional)
    assert both.predicted_tokens_per_round == pytest.approx(stats.predicted_tokens_per_round)


def test_json_figures_are_the_properties(stats: StatsSnapshot) -> None:
    figures = stats.figures()
    assert figures["alpha"] == stats.alpha
    assert figures["draft_acceptance_rate"] == stats.draft_acceptance_rate
    assert figures["mean_acceptance_length"] == stats.mean_acceptance_length


def test_json_writes_the_predicted_tau_under_the_name_files_have_always_used(
    stats: StatsSnapshot,
) -> None:
    """`predicted_tokens_per_round` (the formula of the rounds run, not the module's one-k
    `expected_tokens_per_round`) goes into traces and `--json` as expected_tokens_per_round."""
    figures = stats.figures()
    assert figures["expected_tokens_per_round"] == stats.predicted_tokens_per_round
    assert "predicted_tokens_per_round" not in figures
    assert stats.predicted_tokens_per_round != expected_tokens_per_round(stats.alpha, 5)


def test_a_version_1_trace_is_recounted(tmp_path: Path) -> None:
    """Old traces stored figures, not judged counts: the reader recounts them from the rounds."""
    from spectui.engine.trace.reader import read_trace

    data = Path(__file__).parent / "data"
    for path in sorted(data.glob("trace-v1-*.jsonl")):
        trace = read_trace(path)
        for number, event in enumerate(trace.rounds, start=1):
            assert event.stats.rounds == number
            assert event.stats.judged == sum(len(r.checks) for r in trace.rounds[:number])
            assert event.stats.accepted == sum(r.n_accepted for r in trace.rounds[:number])
        if trace.rounds:
            assert trace.rounds[-1].stats.verifier_forwards > 0  # kept from the stored stats
