"""The drafters without a drafter model on the real default verifier, SmolLM2-135M-Instruct
(30 Llama layers): early exit borrows its weights and stays greedy-exact; n-gram too."""

from __future__ import annotations

from pathlib import Path

import pytest
from reference import verifier_greedy

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.drafters.early_exit import EarlyExitDrafter, exit_agreement
from spectui.engine.models.loading import ModelPair
from spectui.engine.prompts import SEED_PROMPTS
from spectui.models import REAL_PAIR, named_pair

pytestmark = pytest.mark.smollm2


@pytest.fixture(scope="module")
def verifier_only(smollm2_cache: Path) -> ModelPair:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTUI_CACHE", str(smollm2_cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        config = DecodeConfig(drafter="early-exit:8", verifier=named_pair(REAL_PAIR).verifier)
        return load_pair(config)


def test_early_exit_on_the_real_verifier_borrows_its_weights(verifier_only: ModelPair) -> None:
    assert verifier_only.drafter is None
    assert verifier_only.drafter_id == "early exit (8/30 layers of the verifier)"
    drafter = verifier_only.new_drafter()
    assert isinstance(drafter, EarlyExitDrafter)
    own = {p.data_ptr() for p in verifier_only.local("verifier").parameters()}
    assert all(p.data_ptr() in own for p in drafter.model.model.parameters())


@pytest.mark.parametrize("drafter", ["early-exit:8", "ngram"])
def test_greedy_exact_on_the_real_verifier_is_its_greedy_decode(
    verifier_only: ModelPair, drafter: str
) -> None:
    from dataclasses import replace

    from spectui.engine.drafters.methods import draft_method

    config = DecodeConfig(drafter=drafter, policy="greedy", max_new_tokens=24)
    pair = replace(verifier_only, draft_method=draft_method(config))
    for prompt in SEED_PROMPTS[:2]:
        decoder = SpeculativeDecoder(pair, config, prompt)
        decoder.run()
        assert list(decoder.output_ids) == verifier_greedy(pair, decoder.prompt_ids, 24)


def test_an_untrained_early_exit_rarely_agrees_and_more_layers_agree_more(
    verifier_only: ModelPair,
) -> None:
    """SmolLM2 is not a LayerSkip checkpoint: its first layers' argmax is seldom its own."""
    verifier = verifier_only.local("verifier")
    ids = verifier_only.tokenizer(SEED_PROMPTS[0]).input_ids
    config = DecodeConfig(drafter="ngram", policy="greedy", max_new_tokens=48)
    decoder = SpeculativeDecoder(verifier_only, config, SEED_PROMPTS[0])
    decoder.run()
    shares = exit_agreement(verifier, [*ids, *decoder.output_ids], [4, 28], start=len(ids))
    assert shares[4] < 0.5 and shares[4] < shares[28]
