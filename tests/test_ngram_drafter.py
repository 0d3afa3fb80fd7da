"""The n-gram lookup drafter (`--drafter ngram`): its lookup, its point-mass q, rounds with no
drafts, greedy exactness and the lossless sampling χ² with its negative control."""

from __future__ import annotations

import json
import math
import random
import subprocess
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import next_probs, verifier_greedy
from test_speculative_sampling import (
    NEGATIVE_N_DECODES,
    VOCAB,
    NoTokenizer,
    chi_square,
    small_vocab_model,
)

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.config import ConfigError
from spectui.engine.drafters.methods import NgramLookup, draft_method
from spectui.engine.drafters.ngram import NgramDrafter, hf_lookup, lookup
from spectui.engine.events import RoundFinished, TokenOrigin
from spectui.engine.models.loading import ModelPair
from spectui.engine.seams import Proposal


def reference_lookup(tokens: list[int], min_n: int, max_n: int, k: int) -> tuple[int, ...]:
    """Every (n, start) where tokens[start:start+n] is the last n tokens and something follows;
    the largest n wins, then the earliest start (vLLM's choice)."""
    end = len(tokens)
    found = [
        (n, start)
        for n in range(min_n, max_n + 1)
        for start in range(end)
        if n <= end and start + n < end and tokens[start : start + n] == tokens[end - n :]
    ]
    if not found:
        return ()
    n, start = max(found, key=lambda match: (match[0], -match[1]))
    return tuple(tokens[start + n : start + n + k])


def test_lookup_takes_the_longest_then_the_earliest_match() -> None:
    #          0  1  2  3  4  5  6  7  8  9
    tokens = [7, 1, 2, 3, 9, 2, 3, 5, 1, 2, 3]
    # n = 3 ([1, 2, 3]) matches at 1, so 9, 2, 3 follow
    assert lookup(tokens, 1, 3, 3) == (9, 2, 3)
    assert lookup(tokens, 1, 2, 3) == (9, 2, 3)  # the earliest [2, 3] is at 2, as vLLM takes
    assert lookup(tokens, 1, 3, 1) == (9,)  # at most k
    assert lookup([4, 5, 6], 1, 3, 5) == ()  # the last token never occurred before
    assert lookup([4, 4, 4, 4], 2, 2, 5) == (4, 4)  # never past the end of the sequence
    assert lookup([1, 2, 1], 2, 3, 4) == ()  # no earlier [2, 1]: n = 1 is below min_n


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(st.integers(0, 3), min_size=1, max_size=30),
    sizes=st.tuples(st.integers(1, 4), st.integers(0, 3)),
    k=st.integers(1, 6),
)
def test_lookup_agrees_with_a_brute_force_reference(
    tokens: list[int], sizes: tuple[int, int], k: int
) -> None:
    min_n, extra = sizes
    assert lookup(tokens, min_n, min_n + extra, k) == reference_lookup(
        tokens, min_n, min_n + extra, k
    )


def test_each_draft_is_a_point_mass_and_stops_at_the_stop_token() -> None:
    drafter = NgramDrafter(1, 2, vocab_size=10)
    proposal = drafter.propose([3, 4, 8, 3, 4], 3, None, stop_id=None)
    assert proposal.ids == (8, 3, 4) and proposal.q == (1.0, 1.0, 1.0)
    assert proposal.rows is not None
    for token, row in zip(proposal.ids, proposal.rows, strict=True):
        assert row.shape == (10,) and float(row[token]) == 1.0 and float(row.sum()) == 1.0
    assert drafter.propose([3, 4, 8, 3, 4], 3, None, stop_id=8).ids == (8,)
    assert drafter.propose([1, 2, 3], 3, None, stop_id=None) == Proposal((), (), ())


def ngram_pair(pair: ModelPair, min_n: int = 1, max_n: int = 3) -> ModelPair:
    """`pair`'s verifier with the n-gram drafter (as `load_pair` makes it for --drafter ngram)."""
    return replace(pair, drafter=None, draft_method=NgramLookup(min_n, max_n))


def test_load_pair_makes_the_ngram_drafter_without_a_drafter_model(tiny_pair: Any) -> None:
    config = DecodeConfig(
        drafter="ngram", verifier=tiny_pair.verifier, prompt_lookup_min=2, prompt_lookup_max=4
    )
    assert draft_method(config) == NgramLookup(2, 4)
    pair = load_pair(config)
    assert pair.drafter is None and pair.drafter_endpoint is None
    assert pair.draft_method == NgramLookup(2, 4)
    assert pair.drafter_id == "n-gram lookup (n 4→2)"
    assert pair.context_length == pair.verifier.config.n_positions  # the verifier's alone
    drafter = pair.new_drafter()
    assert isinstance(drafter, NgramDrafter) and (drafter.min_n, drafter.max_n) == (2, 4)
    assert drafter.vocab_size == len(pair.tokenizer)


PROMPTS = [
    "Once upon a time, there was a time,",
    "The capital of France is Paris. The capital of",
    "She walked into the room and looked around. She walked",
    "It is important to note that",
    "the garden was small and the paths were narrow and the garden",
]
NEW = 30  # the longest prompt and these fit the tiny verifier's 64 positions


@pytest.mark.parametrize("bonus", [False, True])
@pytest.mark.parametrize("draft_span", [1, 4])
def test_greedy_exact_with_ngram_drafts_is_the_verifiers_greedy_decode(
    tiny_loaded: Any, bonus: bool, draft_span: int
) -> None:
    pair = ngram_pair(tiny_loaded)
    config = DecodeConfig(
        drafter="ngram", policy="greedy", draft_span=draft_span, bonus=bonus, max_new_tokens=NEW
    )
    accepted = rejected = empty = 0
    for prompt in PROMPTS:
        decoder = SpeculativeDecoder(pair, config, prompt)
        rounds = [event for event in decoder.events() if isinstance(event, RoundFinished)]
        assert list(decoder.output_ids) == verifier_greedy(tiny_loaded, decoder.prompt_ids, NEW)
        accepted += sum(r.n_accepted for r in rounds)
        rejected += sum(any(not c.accepted for c in r.checks) for r in rounds)
        empty += sum(not r.draft_ids for r in rounds)
    assert accepted and rejected and empty  # every branch ran: accepted, rejected, no match


def test_a_round_without_drafts_appends_the_verifiers_token_and_counts_cleanly(
    tiny_loaded: Any,
) -> None:
    """No match: 0 drafts, one verifier pass, its greedy token (bonus off), finite figures."""
    pair = ngram_pair(tiny_loaded, min_n=3, max_n=3)
    config = DecodeConfig(drafter="ngram", policy="greedy", max_new_tokens=1, bonus=False)
    decoder = SpeculativeDecoder(pair, config, "It is important")  # no earlier trigram
    rounds = [event for event in decoder.events() if isinstance(event, RoundFinished)]
    assert len(rounds) == 1
    (only,) = rounds
    assert only.draft_ids == () and only.checks == () and only.n_accepted == 0
    assert only.origins == (TokenOrigin.BONUS,)
    expected = int(torch.argmax(next_probs(tiny_loaded.verifier, list(decoder.prompt_ids))))
    assert only.appended_ids == (expected,)
    stats = only.stats
    assert (stats.rounds, stats.drafted, stats.judged, stats.accepted) == (1, 0, 0, 0)
    assert stats.new_tokens == 1 and stats.tokens_per_round == 1.0
    assert stats.verifier_forwards == 2  # the prefill and the round's one pass
    assert stats.drafter_forwards == 0  # a lookup runs no model, at the prefill or after
    assert stats.predicted_tokens_per_round == 1.0  # a round of no drafts appends exactly one
    assert stats.draft_acceptance_rate == 0.0 and stats.alpha == 0.0
    assert stats.accepted_length_histogram == (1,)
    for name, value in stats.figures().items():
        values = value if isinstance(value, tuple) else (value,)
        assert all(math.isfinite(v) for v in values), name


def test_ngram_rounds_that_draft_count_no_drafter_forwards(tiny_loaded: Any) -> None:
    pair = ngram_pair(tiny_loaded, min_n=1, max_n=2)
    config = DecodeConfig(drafter="ngram", policy="greedy", max_new_tokens=24)
    done = SpeculativeDecoder(pair, config, "a b a b a b a b").run()
    assert done.stats.drafted > 0, "the repeated prompt gives the lookup matches"
    assert done.stats.drafter_forwards == 0
    assert done.stats.verifier_forwards == 1 + done.stats.rounds


def test_run_with_the_ngram_drafter_reports_empty_rounds(tiny_pair: Any, capsys: Any) -> None:
    from spectui.cli import main

    argv = ["run", "--drafter", "ngram", "--verifier", tiny_pair.verifier, "--json"]
    assert main([*argv, "--prompt", "It is", "--max-new-tokens", "12", "--policy", "soft"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rounds = [line for line in lines if line["event"] == "round"]
    done = [line for line in lines if line["event"] == "done"]
    assert rounds and rounds[0]["draft_ids"] == []  # "It is": nothing to look up yet
    assert len(done) == 1 and len(done[0]["output_ids"]) == 12


# --- speculative sampling stays lossless -----------------------------------------------------

PROMPT = (1, 4, 2, 1, 4)  # (1, 4) occurred: the lookup proposes 2, 1, and more later
N_DECODES = 2500


@pytest.fixture(scope="module")
def small_ngram_pair() -> ModelPair:
    return ModelPair(
        tokenizer=NoTokenizer(),
        drafter=None,
        verifier=small_vocab_model(2),
        device=torch.device("cpu"),
        dtype=torch.float32,
        drafter_id="ngram",
        verifier_id="small-verifier",
        context_length=16,
        load_seconds=0.0,
        vocab_size=VOCAB,
        draft_method=NgramLookup(1, 2),
    )


def exact_two_token_distribution(pair: ModelPair) -> dict[tuple[int, int], float]:
    first = next_probs(pair.verifier, list(PROMPT))[0]
    return {
        (a, b): float(first[a]) * float(next_probs(pair.verifier, [*PROMPT, a])[0][b])
        for a in range(VOCAB)
        for b in range(VOCAB)
    }


class OverclaimingDrafter(NgramDrafter):
    """The negative control: the same drafts, claiming q = 0.5 where they are a point mass."""

    def propose(self, *args: Any, **kwargs: Any) -> Proposal:
        proposal = super().propose(*args, **kwargs)
        return replace(proposal, q=tuple(0.5 for _ in proposal.q))


def sampled_outputs(
    pair: ModelPair, sample_draft: bool, overclaim: bool = False, n: int = N_DECODES
) -> Counter[tuple[int, ...]]:
    counts: Counter[tuple[int, ...]] = Counter()
    drafts = 0
    for seed in range(n):
        config = DecodeConfig(
            drafter="ngram",
            policy="sample",
            sample_draft=sample_draft,
            draft_span=2,
            max_new_tokens=2,
            seed=seed,
        )
        drafter = OverclaimingDrafter(1, 2, VOCAB) if overclaim else None
        decoder = SpeculativeDecoder(pair, config, PROMPT, drafter=drafter)
        done = decoder.run()
        drafts += done.stats.drafted
        counts[done.output_ids] += 1
    assert drafts >= n * 2  # every decode judged n-gram drafts
    return counts


@pytest.mark.parametrize("sample_draft", [False, True])
def test_speculative_sampling_with_ngram_drafts_matches_the_verifier(
    small_ngram_pair: ModelPair, sample_draft: bool
) -> None:
    expected = exact_two_token_distribution(small_ngram_pair)
    counts = sampled_outputs(small_ngram_pair, sample_draft)
    statistic, critical = chi_square(counts, expected)
    assert statistic < critical, (statistic, critical)


def test_the_check_detects_drafts_whose_q_is_not_the_point_mass(
    small_ngram_pair: ModelPair,
) -> None:
    """Negative control: q = 0.5 for a token drafted with certainty accepts it with 2p, biased.

    With sampled drafts the ratio reads the drafter's q (greedy drafts count as q = 1 whatever
    the drafter says), so that is where the n-gram drafter's q = 1 is what keeps it lossless.
    """
    expected = exact_two_token_distribution(small_ngram_pair)
    # NEGATIVE_N_DECODES (test_speculative_sampling.py): 615 against 42.4 with these seeds.
    counts = sampled_outputs(small_ngram_pair, True, overclaim=True, n=NEGATIVE_N_DECODES)
    statistic, critical = chi_square(counts, expected)
    assert statistic > critical, (statistic, critical)


# --- settings --------------------------------------------------------------------------------


def test_the_ngram_settings_are_validated_by_their_names() -> None:
    with pytest.raises(ConfigError, match=r"prompt_lookup_min \(4\) must be at most"):
        DecodeConfig(drafter="ngram", prompt_lookup_min=4, prompt_lookup_max=3)
    with pytest.raises(ConfigError, match="prompt_lookup_min must be an integer ≥ 1"):
        DecodeConfig(drafter="ngram", prompt_lookup_min=0)
    with pytest.raises(ConfigError, match="leave out --drafter-url"):
        DecodeConfig(drafter="ngram", drafter_url="http://127.0.0.1:1/v1")
    DecodeConfig(drafter="ngram", verifier_url="http://127.0.0.1:1/v1")  # a served verifier: fine


def test_cli_refuses_bad_ngram_sizes_with_status_2(capsys: Any) -> None:
    from spectui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "--drafter", "ngram", "--prompt-lookup-min", "5", "--prompt-lookup-max", "2"])
    assert exit_.value.code == 2
    assert "prompt_lookup_min (5) must be at most prompt_lookup_max (2)" in capsys.readouterr().err


def test_a_drafting_method_keeps_the_default_pairs_verifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--drafter ngram` names no model: the verifier is still the default pair's."""
    from spectui.cli import build_parser
    from spectui.commands.options import config_from_args

    monkeypatch.setenv("SPECTUI_PAIR", "seed")
    config = config_from_args(build_parser().parse_args(["run", "--drafter", "ngram"]))
    assert (config.drafter, config.verifier) == ("ngram", "gpt2-medium")
    config = config_from_args(build_parser().parse_args(["run", "--drafter", "./ngram"]))
    assert config.drafter == "./ngram"  # a directory is a model, not the draft method


def test_sweep_takes_the_ngram_drafter(tiny_pair: Any, capsys: Any) -> None:
    """A sweep decodes with it (no drafter model: no cost model, no predicted speedup)."""
    from spectui.cli import main

    argv = ["sweep", "--drafter", "ngram", "--verifier", tiny_pair.verifier, "--json"]
    argv += ["--max-new-tokens", "12", "--policies", "greedy,soft", "--cost-seconds", "0"]
    argv += ["--prompt", PROMPTS[1], "--prompt", PROMPTS[2]]
    assert main(argv) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["kind"] == "sweep" and records[0]["config"]["drafter"] == "ngram"
    assert "cost" not in [record["kind"] for record in records]
    rows = {record["label"]: record for record in records if record["kind"] == "row"}
    assert set(rows) == {"greedy", "soft"}
    assert rows["greedy"]["figures"]["equal_share"] == 1.0  # greedy-exact: the verifier's text
    assert rows["greedy"]["figures"]["predicted_speedup"] is None


def test_a_trace_with_rounds_of_no_drafts_reads_back(tiny_pair: Any, tmp_path: Any) -> None:
    from spectui.cli import main
    from spectui.engine.trace.reader import read_trace

    path = tmp_path / "ngram.jsonl"
    argv = ["run", "--drafter", "ngram", "--verifier", tiny_pair.verifier, "--policy", "greedy"]
    assert main([*argv, "--prompt", "It is", "--max-new-tokens", "12", "--trace", str(path)]) == 0
    trace = read_trace(path)
    assert trace.header.config.drafter == "ngram"
    rounds = [event for event in trace.events() if isinstance(event, RoundFinished)]
    assert rounds and not rounds[0].draft_ids and rounds[0].origins == (TokenOrigin.BONUS,)
    assert sum(len(r.appended_ids) for r in rounds) == 12


def random_cases(count: int, seed: int) -> list[tuple[list[int], int, int, int]]:
    """(tokens, min_n, max_n, k) over a small alphabet, so matches of every length occur."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        tokens = [rng.randrange(4) for _ in range(rng.randint(1, 40))]
        min_n = rng.randint(1, 4)
        cases.append((tokens, min_n, min_n + rng.randint(0, 3), rng.randint(1, 6)))
    return cases


VLLM_PROPOSER = """
import json, sys
import numpy as np
from vllm.v1.spec_decode.ngram_proposer import _find_longest_matched_ngram_and_propose_tokens
print(json.dumps([
    _find_longest_matched_ngram_and_propose_tokens(
        np.array(tokens, dtype=np.int32), min_n, max_n, 1 << 20, k
    ).tolist()
    for tokens, min_n, max_n, k in json.load(sys.stdin)
]))
"""


@pytest.mark.vllm
def test_lookup_proposes_what_vllms_own_ngram_proposer_proposes() -> None:
    """vLLM's function itself (numba, in the vLLM venv) on 400 random sequences."""
    from vllm_servers import VENV

    python = VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no vLLM venv at {VENV} (scripts/vllm/install.sh makes it)")
    cases = random_cases(400, seed=7)
    done = subprocess.run(
        [str(python), "-c", VLLM_PROPOSER],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    vllm = json.loads(done.stdout.splitlines()[-1])
    ours = [list(lookup(tokens, min_n, max_n, k)) for tokens, min_n, max_n, k in cases]
    assert ours == vllm


def test_hf_lookup_proposes_what_transformers_prompt_lookup_proposes() -> None:
    from transformers.generation.candidate_generator import PromptLookupCandidateGenerator

    stop = 3
    for tokens, _, max_n, k in random_cases(300, seed=11):
        generator = PromptLookupCandidateGenerator(
            eos_token_id=torch.tensor([stop]),
            num_output_tokens=k,
            max_matching_ngram_size=max_n,
            max_length=1 << 20,
        )
        candidates, _ = generator.get_candidates(torch.tensor([tokens]))
        theirs = tuple(candidates[0, len(tokens) :].tolist())
        assert hf_lookup(tokens, max_n, k, stop) == theirs, (tokens, max_n, k)


def test_the_two_rules_differ_where_the_engines_do() -> None:
    tokens = [5, 1, 9, 8, 2, 5]  # no earlier [2, 5]; an earlier 5
    assert lookup(tokens, 2, 3, 4) == ()  # vLLM stops at prompt_lookup_min = 2
    assert hf_lookup(tokens, 3, 4) == (1, 9, 8, 2)  # HF goes down to n = 1
    assert lookup([5, 3, 1, 5], 1, 2, 3) == (3, 1, 5)  # vLLM drafts through an end of text
    assert hf_lookup([5, 3, 1, 5], 2, 3, stop_id=3) == ()  # HF cuts before it
    vllm = NgramDrafter(1, 2, vocab_size=10).propose([5, 3, 1, 5], 3, None, stop_id=3)
    assert vllm.ids == (3,)  # spectui ends the draft at it: the decode ends there
    hf = NgramDrafter(1, 2, vocab_size=10, rule="hf").propose([5, 1, 9, 5], 3, None, stop_id=3)
    assert hf.ids == (1, 9, 5)


def test_ngram_colon_hf_names_hugging_faces_rule(tiny_pair: Any) -> None:
    config = DecodeConfig(drafter="ngram:hf", verifier=tiny_pair.verifier, prompt_lookup_max=3)
    method = draft_method(config)
    assert method == NgramLookup(1, 3, "hf")
    assert method.label == "n-gram lookup, HF's (n 3→1)"
    drafter = load_pair(config).new_drafter()
    assert isinstance(drafter, NgramDrafter) and drafter.rule == "hf"
