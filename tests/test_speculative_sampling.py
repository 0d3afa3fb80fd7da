"""Speculative sampling is lossless: its output is distributed exactly as the verifier's."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pytest
import torch
from reference import next_probs
from transformers import GPT2Config, GPT2LMHeadModel

from spectui.engine import DecodeConfig, SpeculativeDecoder
from spectui.engine.loading import ModelPair

VOCAB = 6
PROMPT = (1, 4)
N_DECODES = 2500


@dataclass
class NoTokenizer:
    """The decoder only needs EOS/BOS ids here; ids are fed directly."""

    eos_token_id: int | None = None
    bos_token_id: int | None = None


def small_vocab_model(seed: int) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB, n_positions=16, n_embd=16, n_layer=1, n_head=2, initializer_range=0.6
    )
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def small_pair() -> ModelPair:
    return ModelPair(
        tokenizer=NoTokenizer(),
        drafter=small_vocab_model(1),
        verifier=small_vocab_model(2),
        device=torch.device("cpu"),
        dtype=torch.float32,
        drafter_id="small-drafter",
        verifier_id="small-verifier",
        context_length=16,
        load_seconds=0.0,
    )


def exact_two_token_distribution(pair: ModelPair) -> dict[tuple[int, int], float]:
    first = next_probs(pair.verifier, list(PROMPT))[0]
    return {
        (a, b): float(first[a]) * float(next_probs(pair.verifier, [*PROMPT, a])[0][b])
        for a in range(VOCAB)
        for b in range(VOCAB)
    }


def sampled_outputs(pair: ModelPair, policy: str, sample_draft: bool) -> Counter[tuple[int, ...]]:
    counts: Counter[tuple[int, ...]] = Counter()
    for seed in range(N_DECODES):
        config = DecodeConfig(
            drafter="small-drafter",
            verifier="small-verifier",
            policy=policy,  # type: ignore[arg-type]
            sample_draft=sample_draft,
            draft_span=2,
            max_new_tokens=2,
            seed=seed,
        )
        counts[SpeculativeDecoder(pair, config, PROMPT).run().output_ids] += 1
    return counts


def chi_square(
    counts: Counter[tuple[int, ...]], expected: dict[tuple[int, int], float]
) -> tuple[float, float]:
    """Pearson's statistic (cells with expected count < 5 pooled) and its 0.1% critical value."""
    total = sum(counts.values())
    cells = [(counts.get(key, 0), p * total) for key, p in expected.items()]
    big = [(o, e) for o, e in cells if e >= 5]
    small = [(o, e) for o, e in cells if e < 5]
    if small:
        big.append((sum(o for o, _ in small), sum(e for _, e in small)))
    statistic = sum((o - e) ** 2 / e for o, e in big)
    df = len(big) - 1
    z = 3.09  # the standard normal's 99.9% quantile; Wilson-Hilferty for chi-square's
    critical = df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3
    return statistic, critical


@pytest.mark.parametrize("sample_draft", [True, False])
def test_speculative_sampling_matches_the_verifier(
    small_pair: ModelPair, sample_draft: bool
) -> None:
    expected = exact_two_token_distribution(small_pair)
    counts = sampled_outputs(small_pair, "sample", sample_draft)
    statistic, critical = chi_square(counts, expected)
    assert statistic < critical, (statistic, critical)
    total_variation = 0.5 * sum(
        abs(counts.get(key, 0) / N_DECODES - p) for key, p in expected.items()
    )
    assert total_variation < 0.08


def test_the_check_detects_a_biased_policy(small_pair: ModelPair) -> None:
    """Negative control: soft-guarded with sampled drafts is not the verifier's distribution."""
    expected = exact_two_token_distribution(small_pair)
    statistic, critical = chi_square(sampled_outputs(small_pair, "soft", True), expected)
    assert statistic > critical


def test_sampling_check_records_its_coin(small_pair: ModelPair) -> None:
    config = DecodeConfig(
        drafter="d", verifier="v", policy="sample", sample_draft=True, max_new_tokens=6, seed=3
    )
    decoder = SpeculativeDecoder(small_pair, config, PROMPT)
    from spectui.engine.events import RoundFinished

    for event in decoder.events():
        if isinstance(event, RoundFinished):
            for check in event.checks:
                assert check.chance.accept_probability == pytest.approx(min(1.0, check.p / check.q))
                assert check.accepted == (check.chance.uniform < check.chance.accept_probability)
    again = SpeculativeDecoder(small_pair, config, PROMPT).run()
    assert again.output_ids == decoder.output_ids  # seeded: replays identically
