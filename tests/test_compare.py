"""The policy comparison, against decodes run on their own and a token-by-token verifier."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
import torch
from reference import next_probs

from spectui.engine import ConfigError, DecodeConfig, SpeculativeDecoder
from spectui.engine.compare import compare_policies, differing_positions, score_output

NEW_TOKENS = 24


def _config(pair: Any, **values: Any) -> DecodeConfig:
    return DecodeConfig(drafter=pair.drafter_id, verifier=pair.verifier_id, **values)


def direct_score(pair: Any, prompt_ids: tuple[int, ...], output: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """Log-likelihood and off-argmax positions, one full verifier forward per token."""
    tokens, total, off = list(prompt_ids), 0.0, []
    for position, token in enumerate(output):
        probs = next_probs(pair.verifier, tokens)[0]  # [vocab]
        total += math.log(float(probs[token]))
        if int(torch.argmax(probs)) != token:
            off.append(position)
        tokens.append(token)
    return total, tuple(off)


@pytest.mark.parametrize("prompt", ["Once upon a time,", "The capital of France is"])
def test_comparison_matches_separate_decodes_and_a_direct_score(
    tiny_loaded: Any, prompt: str
) -> None:
    config = _config(tiny_loaded, policy="sample", p_thresh=0.01, margin_gate=0.5, bonus=True)
    result = compare_policies(tiny_loaded, config, prompt, max_new_tokens=NEW_TOKENS)
    assert result.policies == ("greedy", "soft")  # the default: exact reference vs lossy
    for side, policy in zip(result.sides, ("greedy", "soft"), strict=True):
        settings = replace(config, policy=policy, max_new_tokens=NEW_TOKENS)
        alone = SpeculativeDecoder(tiny_loaded, settings, prompt).run()
        assert side.policy == policy
        assert side.output_ids == alone.output_ids
        assert len(side.output_ids) == NEW_TOKENS
        log_likelihood, off = direct_score(tiny_loaded, result.prompt_ids, side.output_ids)
        assert side.log_likelihood == pytest.approx(log_likelihood, rel=1e-4, abs=1e-4)
        assert side.mean_log_likelihood == pytest.approx(log_likelihood / NEW_TOKENS, rel=1e-4)
        assert side.off_argmax == off
    greedy, soft = result.side("greedy"), result.side("soft")
    assert result.reference is greedy
    assert greedy.off_argmax == ()  # greedy-exact is the verifier's own greedy decode
    expected = [
        i for i, (a, b) in enumerate(zip(greedy.output_ids, soft.output_ids, strict=True)) if a != b
    ]
    assert result.differing == ((), tuple(expected))
    assert list(result.differing_anywhere) == expected
    assert result.first_divergence == (expected[0] if expected else None)


def test_soft_costs_something_on_the_tiny_pair(tiny_loaded: Any) -> None:
    """Loose gates make soft-guarded leave the verifier's argmax and lose likelihood."""
    config = _config(tiny_loaded, policy="soft", p_thresh=0.0, topk_gate=50, margin_gate=1.0)
    result = compare_policies(tiny_loaded, config, "Once upon a time,", max_new_tokens=NEW_TOKENS)
    assert result.first_divergence is not None
    assert len(result.side("soft").off_argmax) > 0
    assert result.side("soft").log_likelihood < result.reference.log_likelihood


def test_differing_positions_counts_where_only_one_output_reaches() -> None:
    assert differing_positions((1, 2, 3), (1, 2, 3)) == ()
    assert differing_positions((1, 2, 3), (1, 5, 3, 4)) == (1, 3)
    assert differing_positions((), (7,)) == (0,)


def test_score_of_an_empty_output(tiny_loaded: Any) -> None:
    assert score_output(tiny_loaded, (1, 2), ()) == (0.0, ())


def test_three_policies_each_against_the_reference(tiny_loaded: Any) -> None:
    """Any policies compare: each side is its own decode, its divergences from the first's."""
    config = _config(tiny_loaded, p_thresh=0.0, topk_gate=50, margin_gate=1.0, seed=3)
    policies = ("greedy", "soft", "sample")
    result = compare_policies(tiny_loaded, config, "Once upon a time,", NEW_TOKENS, policies)
    assert result.policies == policies
    reference = result.reference.output_ids
    for side, differing in zip(result.sides, result.differing, strict=True):
        settings = replace(config, policy=side.policy, max_new_tokens=NEW_TOKENS)
        alone = SpeculativeDecoder(tiny_loaded, settings, "Once upon a time,").run()
        assert side.output_ids == alone.output_ids
        assert side.stats.rounds == alone.stats.rounds
        assert differing == differing_positions(reference, side.output_ids)
    assert result.differing[0] == ()
    union = sorted(set(result.differing[1]) | set(result.differing[2]))
    assert list(result.differing_anywhere) == union
    assert result.first_divergence == (union[0] if union else None)
    with pytest.raises(KeyError):
        result.side("nonexistent")


@pytest.mark.parametrize("policies", [("greedy",), ("soft", "soft")])
def test_a_comparison_needs_two_different_policies(
    tiny_loaded: Any, policies: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError, match="two or more different policies"):
        compare_policies(tiny_loaded, _config(tiny_loaded), "Once", NEW_TOKENS, policies)
