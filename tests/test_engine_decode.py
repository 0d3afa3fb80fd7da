"""Engine exactness: against the verifier's own greedy decoding and the seed's algorithm."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import forward_counts, next_probs, reference_decode, verifier_greedy

from spectui.engine import SpeculativeDecoder
from spectui.engine.events import (
    DecodeFinished,
    FinishReason,
    RoundDrafted,
    RoundFinished,
    TokenAppended,
    TokenChecked,
    TokenOrigin,
)

PROMPTS = [
    "She walked into the",
    "Once upon a time,",
    "The capital of France is",
    "It is important to",
    "This is a simple",
    "In the beginning,",
    "The garden was",
    "A quiet village by the sea",
    "Paris, a city of",
    "The weather changed",
    "How a sentence can",
    "the paths were narrow and",
    "Books and bridges",
    "She looked around.",
    "There was",
    "It was a",
    "Once",
    "The",
    "example of how",
    "quickly, quietly, and then",
    "beginning of the end",
    "x",
]
NEW_TOKENS = 20


@pytest.fixture(scope="module")
def greedy_targets(tiny_loaded) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    targets = {}
    for prompt in PROMPTS:
        ids = SpeculativeDecoder(tiny_loaded, _config_for(tiny_loaded), prompt).prompt_ids
        targets[prompt] = verifier_greedy(tiny_loaded, ids, NEW_TOKENS)
    return targets


def _config_for(pair, **values):  # type: ignore[no-untyped-def]
    from spectui.engine import DecodeConfig

    return DecodeConfig(drafter=pair.drafter_id, verifier=pair.verifier_id, **values)


@pytest.mark.parametrize("bonus", [False, True])
@pytest.mark.parametrize("draft_span", [1, 3, 5, 8])
def test_greedy_exact_equals_verifier_generate(tiny_loaded, greedy_targets, draft_span, bonus):  # type: ignore[no-untyped-def]
    config = _config_for(
        tiny_loaded,
        policy="greedy",
        draft_span=draft_span,
        bonus=bonus,
        max_new_tokens=NEW_TOKENS,
    )
    for prompt in PROMPTS:
        done = SpeculativeDecoder(tiny_loaded, config, prompt).run()
        assert list(done.output_ids) == greedy_targets[prompt], prompt


def test_greedy_exact_is_not_trivially_accepting(tiny_loaded):  # type: ignore[no-untyped-def]
    """The tiny pair must exercise both branches, or the exactness tests prove little."""
    config = _config_for(tiny_loaded, policy="greedy", max_new_tokens=NEW_TOKENS)
    rates = [
        SpeculativeDecoder(tiny_loaded, config, p).run().stats.draft_acceptance_rate
        for p in PROMPTS
    ]
    assert 0.1 < sum(rates) / len(rates) < 0.9


def test_greedy_exact_to_the_context_limit(tiny_loaded):  # type: ignore[no-untyped-def]
    config = _config_for(tiny_loaded, policy="greedy", bonus=True, max_new_tokens=500)
    decoder = SpeculativeDecoder(tiny_loaded, config, "She walked into the")
    done = decoder.run()
    assert done.reason is FinishReason.CONTEXT_LIMIT
    assert len(decoder.tokens) == tiny_loaded.context_length
    expected = verifier_greedy(
        tiny_loaded, done.prompt_ids, tiny_loaded.context_length - len(done.prompt_ids)
    )
    assert list(done.output_ids) == expected


configs = st.fixed_dictionaries(
    {
        "policy": st.sampled_from(["greedy", "soft"]),
        "draft_span": st.integers(1, 8),
        "p_thresh": st.floats(0.0, 0.2),
        "topk_gate": st.integers(1, 12),
        "margin_gate": st.floats(0.0, 0.5),
        "max_accept": st.integers(0, 8),
        "bonus": st.booleans(),
        "max_new_tokens": st.one_of(st.none(), st.integers(1, 24)),
    }
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=configs, prompt=st.sampled_from(PROMPTS))
def test_engine_matches_seed_reference(tiny_loaded, values, prompt):  # type: ignore[no-untyped-def]
    config = _config_for(tiny_loaded, **values)
    decoder = SpeculativeDecoder(tiny_loaded, config, prompt)
    rounds = [e for e in decoder.events() if isinstance(e, RoundFinished)]
    expected = reference_decode(tiny_loaded, config, decoder.prompt_ids)
    assert list(decoder.output_ids) == expected.output_ids
    assert [r.n_accepted for r in rounds] == expected.accepted_lengths


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_sampled_drafts_match_reference(tiny_loaded, seed):  # type: ignore[no-untyped-def]
    config = _config_for(
        tiny_loaded, policy="soft", sample_draft=True, seed=seed, max_new_tokens=16
    )
    for prompt in PROMPTS[:6]:
        decoder = SpeculativeDecoder(tiny_loaded, config, prompt)
        done = decoder.run()
        assert (
            list(done.output_ids)
            == reference_decode(tiny_loaded, config, done.prompt_ids).output_ids
        )


def test_one_verifier_forward_per_round(tiny_loaded):  # type: ignore[no-untyped-def]
    with forward_counts(tiny_loaded) as calls:
        config = _config_for(tiny_loaded, policy="soft", bonus=True, max_new_tokens=40)
        done = SpeculativeDecoder(tiny_loaded, config, "She walked into the").run()
    assert done.stats.rounds > 5
    assert calls["verifier"] == 1 + done.stats.rounds  # prefill + one per round
    assert calls["verifier"] == done.stats.verifier_forwards
    assert calls["drafter"] == 1 + done.stats.drafted
    assert calls["drafter"] == done.stats.drafter_forwards


def test_gate_quantities_equal_direct_softmax(tiny_loaded):  # type: ignore[no-untyped-def]
    config = _config_for(tiny_loaded, policy="soft", max_new_tokens=30)
    decoder = SpeculativeDecoder(tiny_loaded, config, "Once upon a time,")
    tokens = list(decoder.prompt_ids)
    n_checked = 0
    for event in decoder.events():
        if not isinstance(event, RoundFinished):
            continue
        prefix = list(tokens)
        for check in event.checks:
            context = prefix + list(event.draft_ids[: check.position])
            p = next_probs(tiny_loaded.verifier, context)[0]
            q = next_probs(tiny_loaded.drafter, context)[0]
            top_p, top_id = torch.max(p, dim=-1)
            assert check.p == pytest.approx(float(p[check.token_id]), abs=1e-5)
            assert check.q == pytest.approx(float(q[check.token_id]), abs=1e-5)
            assert check.p_top1 == pytest.approx(float(top_p), abs=1e-5)
            assert check.top1_id == int(top_id)
            assert check.margin == pytest.approx(float(top_p - p[check.token_id]), abs=1e-5)
            assert check.rank == int((p > p[check.token_id]).sum()) + 1
            alt_ids = [token for token, _ in check.alternatives]
            assert alt_ids == torch.topk(p, len(alt_ids)).indices.tolist()
            n_checked += 1
        tokens += list(event.appended_ids)
    assert n_checked > 10


def test_event_order_and_stats_add_up(tiny_loaded):  # type: ignore[no-untyped-def]
    config = _config_for(tiny_loaded, policy="soft", bonus=True, max_new_tokens=40)
    decoder = SpeculativeDecoder(tiny_loaded, config, "The garden was")
    events = list(decoder.events())
    assert isinstance(events[-1], DecodeFinished)
    appended = [e.token_id for e in events if isinstance(e, TokenAppended)]
    assert tuple(appended) == events[-1].output_ids == decoder.output_ids
    round_events: list[object] = []
    for event in events[:-1]:
        round_events.append(event)
        if isinstance(event, RoundFinished):
            assert isinstance(round_events[0], RoundDrafted)
            checks = [e for e in round_events if isinstance(e, TokenChecked)]
            appends = [e for e in round_events if isinstance(e, TokenAppended)]
            assert [c.check for c in checks] == list(event.checks)
            assert [a.origin for a in appends] == list(event.origins)
            assert event.n_accepted == sum(o is TokenOrigin.DRAFT for o in event.origins)
            assert all(c.check.accepted for c in checks[: event.n_accepted])
            round_events = []
    stats = events[-1].stats
    assert stats.accepted <= stats.drafted
    assert stats.new_tokens == len(decoder.output_ids) == 40
    assert sum(stats.accepted_length_histogram) == stats.rounds
    assert stats.draft_acceptance_rate == pytest.approx(stats.accepted / stats.drafted)
    assert stats.tokens_per_round == pytest.approx(stats.new_tokens / stats.rounds)
    assert stats.per_position_acceptance[0] == pytest.approx(
        1 - stats.accepted_length_histogram[0] / stats.rounds
    )


def test_single_round_by_default(tiny_loaded):  # type: ignore[no-untyped-def]
    done = SpeculativeDecoder(tiny_loaded, _config_for(tiny_loaded), "She walked into the").run()
    assert done.reason is FinishReason.SINGLE_ROUND
    assert done.stats.rounds == 1
    assert 1 <= len(done.output_ids) <= 5


def test_retune_applies_from_the_next_round(tiny_loaded):  # type: ignore[no-untyped-def]
    config = _config_for(tiny_loaded, policy="greedy", max_new_tokens=30)
    decoder = SpeculativeDecoder(tiny_loaded, config, "It is important to")
    drafted = []
    for event in decoder.events():
        if isinstance(event, TokenChecked) and event.round_index == 0 and event.check.position == 0:
            decoder.retune(policy="soft", draft_span=2)  # mid-round: must not touch round 0
        if isinstance(event, RoundDrafted):
            drafted.append((event.config.policy, event.config.draft_span, len(event.draft_ids)))
    assert drafted[0] == ("greedy", 5, 5)
    assert all(policy == "soft" and span == 2 for policy, span, _ in drafted[1:])


def test_eos_ends_the_decode_like_generate(tiny_loaded, greedy_targets):  # type: ignore[no-untyped-def]
    prompt = PROMPTS[1]
    target = greedy_targets[prompt]
    eos_id = target[len(target) // 2]
    tokenizer = tiny_loaded.tokenizer
    saved = tokenizer.eos_token
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(eos_id)
    try:
        for bonus in (False, True):
            config = _config_for(
                tiny_loaded, policy="greedy", bonus=bonus, max_new_tokens=NEW_TOKENS
            )
            done = SpeculativeDecoder(tiny_loaded, config, prompt).run()
            assert done.reason is FinishReason.EOS
            assert list(done.output_ids) == target[: target.index(eos_id) + 1]
            soft = SpeculativeDecoder(tiny_loaded, config.retuned(policy="soft"), prompt).run()
            expected = reference_decode(tiny_loaded, config.retuned(policy="soft"), soft.prompt_ids)
            assert list(soft.output_ids) == expected.output_ids
    finally:
        tokenizer.eos_token = saved
