"""Rewind and branch: returning to round n and switching policy equals switching there live."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from reference import forward_counts

from spectui.engine import DecodeConfig, SpeculativeDecoder
from spectui.engine.events import DecodeFinished, EngineEvent, FinishReason, RoundFinished
from spectui.engine.stats import StatsTally

PROMPT = "Once upon a time,"


def _config(pair: Any, **values: Any) -> DecodeConfig:
    values.setdefault("max_new_tokens", 30)
    return DecodeConfig(drafter=pair.drafter_id, verifier=pair.verifier_id, **values)


def _timeless(event: Any) -> Any:
    """An event (or tally) with wall-clock figures zeroed (everything else must match)."""
    if isinstance(event, StatsTally):
        return replace(event, prefill_seconds=0.0, draft_seconds=0.0, verify_seconds=0.0)
    stats = getattr(event, "stats", None)
    if stats is None:
        return event
    clockless = replace(stats, prefill_seconds=0.0, draft_seconds=0.0, verify_seconds=0.0)
    return replace(event, stats=clockless)


def fresh_switch(
    pair: Any, config: DecodeConfig, at_round: int, **changes: Any
) -> tuple[SpeculativeDecoder, list[EngineEvent]]:
    """A decode that retunes live just before round `at_round`; its events from that round on."""
    decoder = SpeculativeDecoder(pair, config, PROMPT)
    if at_round == 0:
        decoder.retune(**changes)
    events = []
    for event in decoder.events():
        if getattr(event, "round_index", at_round) >= at_round:
            events.append(_timeless(event))
        if isinstance(event, RoundFinished) and event.round_index == at_round - 1:
            decoder.retune(**changes)
    return decoder, events


def branched(
    pair: Any, config: DecodeConfig, at_round: int, **changes: Any
) -> tuple[SpeculativeDecoder, list[EngineEvent], tuple[int, ...]]:
    """A decode run to the end, rewound to `at_round`, retuned and run again."""
    decoder = SpeculativeDecoder(pair, config, PROMPT)
    original = decoder.run().output_ids
    assert len(decoder.checkpoints) > at_round, "the decode is too short for this test"
    decoder.rewind(at_round)
    if changes:
        decoder.retune(**changes)
    return decoder, [_timeless(event) for event in decoder.events()], original


CASES = [  # (settings, the switch, the round it happens at)
    pytest.param({"policy": "greedy"}, {"policy": "soft"}, 0, id="greedy-to-soft-at-0"),
    pytest.param({"policy": "greedy"}, {"policy": "soft"}, 3, id="greedy-to-soft-at-3"),
    pytest.param({"policy": "soft"}, {"policy": "greedy"}, 1, id="soft-to-greedy-at-1"),
    pytest.param({"policy": "soft"}, {"policy": "greedy"}, 3, id="soft-to-greedy-at-3"),
    pytest.param({"policy": "greedy"}, {"policy": "sample"}, 2, id="greedy-to-sample-at-2"),
    pytest.param({"policy": "sample"}, {"policy": "soft"}, 1, id="sample-to-soft-at-1"),
    pytest.param(
        {"policy": "sample", "sample_draft": True},
        {"policy": "greedy"},
        3,
        id="sample-sampled-drafts-to-greedy-at-3",
    ),
    pytest.param(
        {"policy": "soft", "sample_draft": True},
        {"policy": "sample", "p_thresh": 0.2},
        2,
        id="soft-sampled-drafts-to-sample-at-2",
    ),
]


@pytest.mark.parametrize(("start", "changes", "at_round"), CASES)
def test_branch_equals_a_fresh_decode_that_switches_there(
    tiny_loaded: Any, start: dict[str, Any], changes: dict[str, Any], at_round: int
) -> None:
    config = _config(tiny_loaded, **start)
    fresh, fresh_events = fresh_switch(tiny_loaded, config, at_round, **changes)
    branch, branch_events, _ = branched(tiny_loaded, config, at_round, **changes)
    assert branch.tokens == fresh.tokens
    assert branch_events == fresh_events  # drafts, every gate check, appended tokens, stats
    _assert_same_marks(branch, fresh)


def _assert_same_marks(a: SpeculativeDecoder, b: SpeculativeDecoder) -> None:
    """Both decoders' checkpoints agree on everything but wall-clock time."""
    assert len(a.checkpoints) == len(b.checkpoints)
    for mark_a, mark_b in zip(a.checkpoints, b.checkpoints, strict=True):
        assert (mark_a.round_index, mark_a.n_tokens, mark_a.cached_lengths, mark_a.config) == (
            mark_b.round_index,
            mark_b.n_tokens,
            mark_b.cached_lengths,
            mark_b.config,
        )
        assert _timeless(mark_a.tally) == _timeless(mark_b.tally)
        assert mark_a.sampler_state.equal(mark_b.sampler_state)
        assert mark_a.chance_state.equal(mark_b.chance_state)


def test_a_branch_can_change_the_output(tiny_loaded: Any) -> None:
    """The cases above are not vacuous: switching policy changes what is generated."""
    changed = []
    for start, other in (("greedy", "soft"), ("soft", "greedy"), ("greedy", "sample")):
        branch, _, original = branched(
            tiny_loaded, _config(tiny_loaded, policy=start), 1, policy=other
        )
        changed.append(branch.output_ids != original)
    assert any(changed)


@pytest.mark.parametrize("policy", ["greedy", "soft", "sample"])
def test_rewinding_without_a_change_replays_the_same_decode(tiny_loaded: Any, policy: str) -> None:
    """Same tokens, same coins: the generators' states travel with the checkpoint."""
    config = _config(tiny_loaded, policy=policy, sample_draft=policy == "sample")
    decoder = SpeculativeDecoder(tiny_loaded, config, PROMPT)
    first = [_timeless(event) for event in decoder.events()]
    for at_round in (2, 0):
        decoder.rewind(at_round)
        again = [_timeless(event) for event in decoder.events()]
        assert again == [e for e in first if getattr(e, "round_index", at_round) >= at_round]


def test_one_verifier_forward_per_round_after_a_rewind(tiny_loaded: Any) -> None:
    decoder = SpeculativeDecoder(
        tiny_loaded, _config(tiny_loaded, policy="soft", bonus=True), PROMPT
    )
    decoder.run()
    rounds_before = decoder.tally.rounds
    decoder.rewind(2)
    decoder.retune(policy="greedy")
    with forward_counts(tiny_loaded) as calls:
        done = decoder.run()
    assert rounds_before > 2 and done.stats.rounds > 2
    assert calls["verifier"] == done.stats.rounds - 2  # no second prefill, one per round
    assert calls["drafter"] == done.stats.drafted - decoder.checkpoints[2].tally.drafted


def test_finished_and_finish_reason_follow_the_decode(tiny_loaded: Any) -> None:
    decoder = SpeculativeDecoder(tiny_loaded, _config(tiny_loaded), PROMPT)
    assert not decoder.finished and decoder.finish_reason is None
    done = decoder.run()
    assert isinstance(done, DecodeFinished)
    assert decoder.finished and decoder.finish_reason is done.reason
    assert done.reason is FinishReason.MAX_TOKENS
    decoder.rewind(1)
    assert not decoder.finished and decoder.round_index == 1
    single = SpeculativeDecoder(tiny_loaded, _config(tiny_loaded, max_new_tokens=None), PROMPT)
    single.run()
    assert single.finish_reason is FinishReason.SINGLE_ROUND


def test_rewind_restores_tokens_stats_and_settings(tiny_loaded: Any) -> None:
    decoder = SpeculativeDecoder(tiny_loaded, _config(tiny_loaded, policy="greedy"), PROMPT)
    seen: list[tuple[int, ...]] = []
    for event in decoder.events():
        if isinstance(event, RoundFinished):
            seen.append(tuple(decoder.tokens))
            if event.round_index == 0:
                decoder.retune(policy="soft", draft_span=3)
    decoder.rewind(2)
    assert tuple(decoder.tokens) == seen[1]
    assert decoder.tally.rounds == 2 and decoder.config.policy == "soft"
    assert decoder.config.draft_span == 3
    decoder.rewind(0)
    assert decoder.output_ids == () and decoder.tally.rounds == 0
    assert decoder.config.policy == "greedy" and decoder.config.draft_span == 5


def test_rewind_refuses_a_round_that_never_started(tiny_loaded: Any) -> None:
    decoder = SpeculativeDecoder(tiny_loaded, _config(tiny_loaded), PROMPT)
    with pytest.raises(ValueError, match="round_index must be"):
        decoder.rewind(0)
    decoder.run()
    with pytest.raises(ValueError, match="round_index must be"):
        decoder.rewind(len(decoder.checkpoints))
