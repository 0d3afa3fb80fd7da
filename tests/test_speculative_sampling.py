"""Speculative sampling is lossless: its output is distributed exactly as the verifier's."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import pytest
import torch
from reference import next_probs
from transformers import GPT2Config, GPT2LMHeadModel

from spectui.engine import DecodeConfig, SpeculativeDecoder
from spectui.engine.events import RoundFinished
from spectui.engine.models.loading import ModelPair

VOCAB = 6
PROMPT = (1, 4)
N_DECODES = 2500
# The negative controls' samples: a biased sampler's statistic grows with N, and at 1000 decodes
# each control here and in test_tree_sampling.py is already 7-40x its critical value (measured
# with these seeds: chain soft-guarded 1066, tree soft-guarded 1419, tree without the residual
# 249, all against 33.1), so they fail as clearly as at N_DECODES at 40% of the cost. The
# lossless checks keep N_DECODES: their power against a small bias is what the sample buys.
NEGATIVE_N_DECODES = 1000


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


def sampled_outputs(
    pair: ModelPair, policy: str, sample_draft: bool, n: int = N_DECODES, **warps: Any
) -> Counter[tuple[int, ...]]:
    """`n` two-token decodes, one per seed; `warps`: temperature, top_k, top_p."""
    counts: Counter[tuple[int, ...]] = Counter()
    for seed in range(n):
        config = DecodeConfig(
            drafter="small-drafter",
            verifier="small-verifier",
            policy=policy,  # type: ignore[arg-type]
            sample_draft=sample_draft,
            draft_span=2,
            max_new_tokens=2,
            seed=seed,
            **warps,
        )
        counts[SpeculativeDecoder(pair, config, PROMPT).run().output_ids] += 1
    return counts


def chi_square(
    counts: Counter[tuple[int, ...]], expected: dict[tuple[int, int], float]
) -> tuple[float, float]:
    """Pearson's statistic (cells with expected count < 5 pooled) and its 0.1% critical value.

    An outcome the expected distribution rules out (p = 0, e.g. cut by top-k) that occurred
    makes the statistic infinite; those cells are otherwise left out.
    """
    total = sum(counts.values())
    if any(counts.get(key, 0) for key, p in expected.items() if p == 0.0):
        return math.inf, 0.0
    cells = [(counts.get(key, 0), p * total) for key, p in expected.items() if p > 0.0]
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
    counts = sampled_outputs(small_pair, "soft", True, n=NEGATIVE_N_DECODES)
    statistic, critical = chi_square(counts, expected)
    assert statistic > critical, (statistic, critical)


def test_sampling_check_records_its_coin(small_pair: ModelPair) -> None:
    config = DecodeConfig(
        drafter="d", verifier="v", policy="sample", sample_draft=True, max_new_tokens=6, seed=3
    )
    decoder = SpeculativeDecoder(small_pair, config, PROMPT)
    for event in decoder.events():
        if isinstance(event, RoundFinished):
            for check in event.checks:
                assert check.chance.accept_probability == pytest.approx(min(1.0, check.p / check.q))
                assert check.accepted == (check.chance.uniform < check.chance.accept_probability)
    again = SpeculativeDecoder(small_pair, config, PROMPT).run()
    assert again.output_ids == decoder.output_ids  # seeded: replays identically


# --- temperature, top-k and top-p ------------------------------------------------------------


def reference_warp(
    logits: list[float], temperature: float, top_k: int, top_p: float
) -> list[float]:
    """Temperature, then top-k, then top-p, written out over the vocabulary (HF's and vLLM's order).

    Top-k keeps every token at least as likely as the k-th; top-p keeps the most likely tokens
    while the mass before each is below top_p (the first always), then renormalises.
    """
    n = len(logits)
    if temperature == 0:
        best = max(range(n), key=lambda token: (logits[token], -token))
        return [1.0 if token == best else 0.0 for token in range(n)]
    scaled = [value / temperature for value in logits]
    kept = set(range(n))
    if top_k > 0:
        kth = sorted(scaled, reverse=True)[min(top_k, n) - 1]
        kept = {token for token in kept if scaled[token] >= kth}
    probs = _softmax_over(scaled, kept)
    if top_p < 1.0:
        mass_before, nucleus = 0.0, set()
        for token in sorted(kept, key=lambda token: -probs[token]):
            if nucleus and mass_before >= top_p:
                break
            nucleus.add(token)
            mass_before += probs[token]
        probs = _softmax_over(scaled, nucleus)
    return probs


def _softmax_over(scaled: list[float], kept: set[int]) -> list[float]:
    top = max(scaled[token] for token in kept)
    weights = [math.exp(scaled[t] - top) if t in kept else 0.0 for t in range(len(scaled))]
    total = sum(weights)
    return [weight / total for weight in weights]


@torch.no_grad()
def next_logits(model: torch.nn.Module, tokens: list[int]) -> list[float]:
    """The next-token logits after `tokens`, from a full forward (no cache)."""
    return [float(value) for value in model(torch.tensor([tokens])).logits[0, -1].float()]


WARPS = [  # two temperatures, with top-k and with top-p
    {"temperature": 0.7, "top_k": 3},
    {"temperature": 1.5, "top_p": 0.8},
]


def warped_two_token_distribution(pair: ModelPair, **warps: Any) -> dict[tuple[int, int], float]:
    settings = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, **warps}
    first = reference_warp(next_logits(pair.verifier, list(PROMPT)), **settings)
    second = {
        a: reference_warp(next_logits(pair.verifier, [*PROMPT, a]), **settings)
        for a in range(VOCAB)
    }
    return {(a, b): first[a] * second[a][b] for a in range(VOCAB) for b in range(VOCAB)}


@pytest.fixture(scope="module", params=range(len(WARPS)), ids=["T0.7-top_k3", "T1.5-top_p0.8"])
def warped_counts(
    request: pytest.FixtureRequest, small_pair: ModelPair
) -> tuple[dict[str, Any], Counter[tuple[int, ...]]]:
    """Speculative sampling's outputs with sampled drafts under one setting of WARPS."""
    warps = WARPS[request.param]
    return warps, sampled_outputs(small_pair, "sample", True, **warps)


def test_warps_match_a_plain_reference() -> None:
    from spectui.engine.warps import Warp

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 30, generator=generator) * 3  # [6, 30]
    for temperature, top_k, top_p in [
        (1.0, 0, 1.0), (0.7, 0, 1.0), (1.5, 5, 1.0), (1.0, 0, 0.8), (0.5, 10, 0.9),
        (2.0, 40, 0.5), (0.0, 0, 1.0), (1.0, 0, 0.0), (1.3, 1, 1.0),
    ]:  # fmt: skip
        warped = Warp(temperature, top_k, top_p).probabilities(logits)
        for row, got in zip(logits, warped, strict=True):
            expected = reference_warp(row.tolist(), temperature, top_k, top_p)
            assert got.tolist() == pytest.approx(expected, abs=1e-6), (temperature, top_k, top_p)


def test_sampling_under_warps_matches_the_warped_verifier(
    small_pair: ModelPair, warped_counts: tuple[dict[str, Any], Counter[tuple[int, ...]]]
) -> None:
    warps, counts = warped_counts
    expected = warped_two_token_distribution(small_pair, **warps)
    statistic, critical = chi_square(counts, expected)
    assert statistic < critical, (warps, statistic, critical)


def test_the_check_detects_sampling_the_unwarped_verifier(
    small_pair: ModelPair, warped_counts: tuple[dict[str, Any], Counter[tuple[int, ...]]]
) -> None:
    """Negative control: the same outputs are not distributed as the verifier left unwarped."""
    warps, counts = warped_counts
    statistic, critical = chi_square(counts, exact_two_token_distribution(small_pair))
    assert statistic > critical, (warps, statistic, critical)


def test_warped_checks_show_the_p_and_q_their_test_used(small_pair: ModelPair) -> None:
    """p and q of a check are the warped ones, and the coin's ratio is theirs."""
    config = DecodeConfig(
        drafter="d", verifier="v", policy="sample", sample_draft=True, max_new_tokens=8,
        temperature=1.5, top_p=0.8, seed=4,
    )  # fmt: skip
    decoder = SpeculativeDecoder(small_pair, config, PROMPT)
    tokens = list(PROMPT)
    settings = {"temperature": 1.5, "top_k": 0, "top_p": 0.8}
    for event in decoder.events():
        if not isinstance(event, RoundFinished):
            continue
        for check in event.checks:
            context = tokens + list(event.draft_ids[: check.position])
            p = reference_warp(next_logits(small_pair.verifier, context), **settings)
            q = reference_warp(next_logits(small_pair.drafter, context), **settings)
            assert check.p == pytest.approx(p[check.token_id], abs=1e-5)
            assert check.q == pytest.approx(q[check.token_id], abs=1e-5)
            assert check.chance.accept_probability == pytest.approx(min(1.0, check.p / check.q))
        tokens.extend(event.appended_ids)


@pytest.mark.parametrize("sample_draft", [True, False])
def test_temperature_zero_is_greedy_exact(tiny_loaded: Any, sample_draft: bool) -> None:
    """T = 0: accept iff the draft is the argmax, append the argmax: greedy-exact's output."""
    base = DecodeConfig(
        drafter=tiny_loaded.drafter_id, verifier=tiny_loaded.verifier_id, max_new_tokens=40
    )
    greedy = SpeculativeDecoder(tiny_loaded, replace(base, policy="greedy"), "Once upon a time,")
    expected = greedy.run().output_ids
    for warps in ({"temperature": 0.0}, {"temperature": 0.0, "top_k": 3, "top_p": 0.5}):
        config = replace(base, policy="sample", sample_draft=sample_draft, **warps)
        decoder = SpeculativeDecoder(tiny_loaded, config, "Once upon a time,")
        for event in decoder.events():
            if isinstance(event, RoundFinished):
                for check in event.checks:
                    assert check.accepted == (check.token_id == check.top1_id)
        assert decoder.output_ids == expected


def test_warps_are_cli_options_and_recorded_per_round(tiny_pair: Any, capsys: Any) -> None:
    from spectui.cli import main

    argv = ["run", "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier]
    warps = ["--temperature", "0.7", "--top-k", "20", "--top-p", "0.9"]
    assert main([*argv, "--policy", "sample", "--sample-draft", *warps, "--json"]) == 0
    rounds = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    settings = [line["settings"] for line in rounds if line["event"] == "round"]
    assert settings and all(
        (s["temperature"], s["top_k"], s["top_p"]) == (0.7, 20, 0.9) for s in settings
    )


@pytest.mark.parametrize("served", ["verifier_url", "drafter_url"])
def test_served_models_refuse_the_warps(served: str) -> None:
    from spectui.engine.config import ConfigError

    for warps in ({"temperature": 0.5}, {"top_k": 5}, {"top_p": 0.9}):
        with pytest.raises(ConfigError, match="temperature, top_k and top_p"):
            DecodeConfig(**{served: "http://127.0.0.1:1/v1"}, **warps)
    DecodeConfig(**{served: "http://127.0.0.1:1/v1"})  # unwarped: as before


def test_a_served_seam_driven_directly_refuses_the_warps_too() -> None:
    from spectui.engine.remote.wire import RemoteSamplingError, refuse_warp
    from spectui.engine.warps import NO_WARP, Warp

    refuse_warp(NO_WARP, "verifier")
    with pytest.raises(RemoteSamplingError, match="cannot apply T 0.5 · top-k 3"):
        refuse_warp(Warp(0.5, 3), "verifier")
