"""Relaxed acceptance (TensorRT-LLM) and typical acceptance (Medusa) against plain references.

Each reference is written out here from the published rule, looping over the vocabulary in
plain Python, and shares nothing with spectui's policy modules: the engine's verdict must equal
it on random distributions and on the tiny pair's own positions, over random settings.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import torch
from reference import next_probs

from spectui.cli import main
from spectui.engine import DecodeConfig, SpeculativeDecoder
from spectui.engine.events import RoundDrafted, RoundFinished, TokenOrigin
from spectui.engine.policy.registry import gate_check, tokens_kept
from spectui.engine.remote.wire import entropy_lower_bound
from spectui.engine.seams import measure_draft

N_SETTINGS = 20


def relaxed_reference(p: list[float], draft: int, top_n: int, delta: float) -> bool:
    """TensorRT-LLM's kernel: walk the top-N best first, stop below p_top1 − δ, match the draft."""
    best_first = sorted(range(len(p)), key=lambda token: -p[token])
    threshold = p[best_first[0]] - delta
    for position, token in enumerate(best_first[:top_n]):
        if position > 0 and p[token] < threshold:
            return False
        if token == draft:
            return True
    return False


def entropy_reference(p: list[float]) -> float:
    """−Σ p ln p in nats, 0 ln 0 = 0."""
    total = 0.0
    for x in p:
        if x > 0.0:
            total -= x * math.log(x)
    return total


def typical_reference(p: list[float], draft: int, epsilon: float, alpha: float) -> bool:
    """Medusa's evaluate_posterior for one candidate: p(x) > min(ε, α·exp(−H))."""
    return p[draft] > min(epsilon, alpha * math.exp(-entropy_reference(p)))


def random_settings(rng: random.Random) -> dict[str, Any]:
    return {
        "relaxed_topk": rng.randint(1, 15),
        "relaxed_delta": rng.uniform(0.0, 1.0),
        "typical_threshold": rng.uniform(0.0, 0.4),
        "typical_alpha": rng.uniform(0.0, 1.0),
    }


def random_rows(rng: random.Random, n_rows: int, vocab: int) -> torch.Tensor:
    """Distributions from flat to peaked: logits of random spread."""
    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    spread = torch.tensor([[rng.uniform(0.3, 6.0)] for _ in range(n_rows)])
    return torch.softmax(torch.randn(n_rows, vocab, generator=generator) * spread, dim=-1)


def engine_verdicts(row: torch.Tensor, draft: int, config: DecodeConfig) -> dict[str, bool]:
    measures = measure_draft(row.unsqueeze(0), [draft], tokens_kept(config))[0]
    return gate_check(measures, 0.5, 0, 0, config).verdicts


def test_both_policies_match_their_references_on_random_distributions() -> None:
    rng = random.Random(7)
    seen: dict[str, set[bool]] = {"relaxed": set(), "typical": set()}
    for _ in range(N_SETTINGS):
        settings = random_settings(rng)
        config = DecodeConfig(**settings)
        rows = random_rows(rng, 12, 40)
        for row in rows:
            p = row.tolist()
            best_first = sorted(range(len(p)), key=lambda token: -p[token])
            draft = best_first[min(int(rng.expovariate(0.4)), len(p) - 1)]  # mostly near the top
            verdicts = engine_verdicts(row, draft, config)
            relaxed = relaxed_reference(
                p, draft, settings["relaxed_topk"], settings["relaxed_delta"]
            )
            typical = typical_reference(
                p, draft, settings["typical_threshold"], settings["typical_alpha"]
            )
            assert verdicts["relaxed"] == relaxed, (settings, draft)
            assert verdicts["typical"] == typical, (settings, draft)
            seen["relaxed"].add(relaxed)
            seen["typical"].add(typical)
    assert seen == {"relaxed": {True, False}, "typical": {True, False}}  # both ways, each


def test_the_entropy_is_the_whole_distributions() -> None:
    rng = random.Random(3)
    rows = random_rows(rng, 8, 300)
    measures = measure_draft(rows, [0] * len(rows), 10)
    for row, measure in zip(rows, measures, strict=True):
        assert math.isclose(measure.entropy, entropy_reference(row.tolist()), rel_tol=1e-9)


def test_the_tiny_pairs_own_positions_match_the_references(tiny_loaded: Any) -> None:
    """Decodes under each policy: every check of every round against the verifier's own rows."""
    rng = random.Random(11)
    checked = 0
    for number in range(N_SETTINGS):
        settings = random_settings(rng)
        policy = ("relaxed", "typical")[number % 2]
        config = DecodeConfig(
            drafter=tiny_loaded.drafter_id,
            verifier=tiny_loaded.verifier_id,
            policy=policy,
            max_new_tokens=12,
            **settings,
        )
        decoder = SpeculativeDecoder(tiny_loaded, config, "Once upon a time,")
        tokens = list(decoder.prompt_ids)
        drafts: tuple[int, ...] = ()
        for event in decoder.events():
            if isinstance(event, RoundDrafted):
                drafts = event.draft_ids
            if not isinstance(event, RoundFinished):
                continue
            for check in event.checks:
                context = tokens + list(drafts[: check.position])
                p = next_probs(tiny_loaded.verifier, context)[0].tolist()
                draft = check.token_id
                relaxed = relaxed_reference(
                    p, draft, settings["relaxed_topk"], settings["relaxed_delta"]
                )
                typical = typical_reference(
                    p, draft, settings["typical_threshold"], settings["typical_alpha"]
                )
                assert check.verdicts["relaxed"] == relaxed, (settings, check)
                assert check.verdicts["typical"] == typical, (settings, check)
                assert math.isclose(check.entropy, entropy_reference(p), rel_tol=1e-4)
                checked += 1
            _assert_corrections_are_the_argmax(event)
            tokens.extend(event.appended_ids)
        assert decoder.output_ids == tuple(tokens[len(decoder.prompt_ids) :])
    assert checked > 4 * N_SETTINGS


def _assert_corrections_are_the_argmax(event: RoundFinished) -> None:
    """Both policies append the verifier's argmax where they reject, as TensorRT-LLM and Medusa."""
    for check, token, origin in zip(event.checks, event.appended_ids, event.origins, strict=False):
        assert check.accepted == (origin is TokenOrigin.DRAFT)
        if origin is TokenOrigin.CORRECTION:
            assert token == check.top1_id


def test_a_served_verifiers_entropy_is_a_lower_bound() -> None:
    """Top-N and the rest as one bucket: never above H, H itself when nothing is left out."""
    rng = random.Random(5)
    for row in random_rows(rng, 20, 200):
        p = sorted(row.tolist(), reverse=True)
        whole = entropy_reference(p)
        # float32 rows sum to 1 within ~1e-7: that rest is its own (tiny) bucket
        assert math.isclose(entropy_lower_bound(p), whole, abs_tol=1e-5)
        for top_n in (1, 5, 20):
            bound = entropy_lower_bound(p[:top_n])
            assert bound <= whole + 1e-9
            # so typical's bar min(ε, α·e^−H) is at least the true one: its accepts are true
            assert min(0.09, 0.3 * math.exp(-bound)) >= min(0.09, 0.3 * math.exp(-whole))


def test_the_new_policies_are_in_the_run_commands_json(tiny_pair: Any, capsys: Any) -> None:
    argv = ["run", "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier]
    for policy, knobs in (
        ("relaxed", ["--relaxed-topk", "3", "--relaxed-delta", "0.3"]),
        ("typical", ["--typical-threshold", "0.2", "--typical-alpha", "0.5"]),
    ):
        assert main([*argv, "--policy", policy, *knobs, "--max-new-tokens", "8", "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        rounds = [line for line in lines if line["event"] == "round"]
        assert rounds and all(line["policy"] == policy for line in rounds)
        for check in rounds[0]["checks"]:
            assert {"relaxed", "typical"} <= set(check["verdicts"])
            assert check["accepted"] == check["verdicts"][policy]
            assert check["entropy"] > 0
        if policy == "relaxed":
            gates = rounds[0]["checks"][0]["gates"]
            assert set(gates) >= {"relaxed_topk", "relaxed_delta"}
        assert lines[-1]["event"] == "done" and lines[-1]["policy"] == policy
