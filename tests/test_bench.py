"""`spectui bench`: it runs, its JSON is well-formed, and its baselines are what they claim.

Benchmarks are not timed tests: nothing here asserts a speed or a speedup, only counts,
identities and the shape of the output.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from typing import Any

import pytest

from spectui.cli import main

TOP_LEVEL_FIGURES = (
    "ratio_vs_hf_assisted",
    "ratio_vs_seed",
    "speedup_vs_plain",
    "predicted_speedup",
    "verifier_forwards_per_round",
    "alpha",
)
MAIN_METHODS = ("plain", "hf_assisted", "engine_greedy", "engine_soft", "seed")
# What a full run compares and --quick leaves out unless asked.
FULL_COMPARISONS = (
    "--alphas",
    "0,0.5,0.7,0.9,1",
    "--seed-prompts",
    "1",
    "--drafters",
    "ngram",
    "--tree-method",
)


def pair_args(pair: Any) -> list[str]:
    return ["--drafter", pair.drafter, "--verifier", pair.verifier]


@pytest.fixture(scope="module")
def quick_run(tiny_pair: Any) -> subprocess.CompletedProcess[str]:
    """`spectui bench --quick --json` on the tiny pair, with a full run's comparisons too (the
    oracle sweep, the seed, the tree, n-gram lookup), run once for the module."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "spectui.cli",
            "bench",
            "--quick",
            "--json",
            *pair_args(tiny_pair),
            *FULL_COMPARISONS,
        ],
        capture_output=True,
        text=True,
        timeout=600,  # a loaded two-core machine; the tree row added a method
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


@pytest.fixture(scope="module")
def quick_json(quick_run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Its JSON, parsed."""
    return json.loads(quick_run.stdout)  # the whole of stdout is one JSON object


def test_progress_on_stderr_not_a_terminal(quick_run: subprocess.CompletedProcess[str]) -> None:
    """Plain lines: the weights loading, then the runs counted with the time left."""
    lines = quick_run.stderr.splitlines()
    runs = [line for line in lines if "bench · method × prompt × repeat · " in line]
    total = re.search(r"· 0/(\d+) runs$", runs[0])
    assert total is not None, runs[0]
    assert re.search(rf"· {total[1]}/{total[1]} runs · .* · done · repeat \d+/\d+ · ", runs[-1])
    assert any(re.search(r"· \d+ s left · repeat ", line) for line in runs[1:-1])
    assert any("verifier · Loading weights" in line and "done" in line for line in lines)


def test_quick_json_has_the_headline_figures(quick_json: dict[str, Any]) -> None:
    for key in TOP_LEVEL_FIGURES:
        assert isinstance(quick_json[key], float) and math.isfinite(quick_json[key]), key
    assert quick_json["verifier_forwards_per_round"] == 1.0
    assert set(quick_json["machine"]) >= {"cpu", "cpu_count", "platform", "load_average_before"}
    assert set(quick_json["versions"]) == {"python", "torch", "transformers"}
    settings = quick_json["settings"]
    assert settings["threads"] == 1
    assert settings["k"] == 5
    assert settings["new_tokens"] == 32
    assert settings["eos"] == "disabled"


def test_quick_json_methods_are_complete_and_exact(quick_json: dict[str, Any]) -> None:
    methods = quick_json["methods"]
    assert set(MAIN_METHODS) <= set(methods)
    for key, summary in methods.items():
        spread = summary["tokens_per_second"]
        assert 0 < spread["min"] <= spread["median"] <= spread["max"], key
        if key != "plain_default_kernel":  # a copy of the verifier: its forwards are not counted
            assert summary["verifier_forwards_per_token"] > 0, key
    # Greedy-exact methods reproduce the verifier's greedy decode token for token.
    for key in ("hf_assisted", "engine_greedy", "seed"):
        assert methods[key]["identical_to_plain"], key
    # The same algorithm at the same k does the same work: HF is configured honestly.
    engine, hf = methods["engine_greedy"], methods["hf_assisted"]
    assert hf["tokens_per_round"] == pytest.approx(engine["tokens_per_round"])
    # (HF drafts one token fewer than the engine when a round reaches the length limit.)
    assert hf["draft_acceptance_rate"] == pytest.approx(engine["draft_acceptance_rate"], rel=0.1)
    assert hf["verifier_forwards_per_round"] == 1.0
    assert hf["drafter_forwards_per_round"] > 4  # k=5, minus the shorter last rounds
    # The seed re-runs the verifier once per judged draft token, over the whole sequence.
    assert methods["seed"]["verifier_input_tokens_per_token"] > 5


def test_quick_json_compares_chain_and_tree_at_one_verifier_pass_per_round(
    quick_json: dict[str, Any],
) -> None:
    rows = {row["key"]: row for row in quick_json["drafting"]}
    assert set(rows) == {"engine_greedy", "engine_tree", "engine_greedy_ngram"}  # + --drafters
    chain, tree = rows["engine_greedy"], rows["engine_tree"]
    assert chain["drafting"] == "chain k=5"
    assert tree["drafting"] == "tree top-2 · depth 5 · ≤ 5 nodes"  # the chain's verifier budget
    for row in (chain, tree):
        assert row["verifier_forwards_per_round"] == 1.0
        assert row["identical_to_plain"]  # greedy-exact either way
        assert row["tokens_per_round"] > 1.0
        assert row["tokens_per_second"]["median"] > 0
    assert 4 < chain["nodes_per_round"] <= 5
    assert 4 < tree["nodes_per_round"] <= 5
    summary = quick_json["methods"]["engine_tree"]
    assert tree["tokens_per_round"] == summary["tokens_per_round"]
    assert summary["label"] == "engine greedy, tree top-2 · depth 5 · ≤ 5 nodes"
    cost = quick_json["cost_model"]
    assert cost["tree_nodes"] == 5 and cost["verifier_tree_block_ms"] > 0
    assert cost["r_tree"] == pytest.approx(
        cost["verifier_tree_block_ms"] / cost["verifier_step_ms"]
    )


def test_quick_json_oracle_sweep(quick_json: dict[str, Any]) -> None:
    rows = {row["alpha"]: row for row in quick_json["oracle"]}
    assert sorted(rows) == [0.0, 0.5, 0.7, 0.9, 1.0]
    assert rows[0.0]["measured_alpha"] == 0.0
    assert rows[0.0]["tokens_per_round"] == 1.0
    assert rows[1.0]["measured_alpha"] == 1.0
    for row in rows.values():
        assert row["identical_to_plain"]
        assert row["predicted_speedup"] > 0
        assert math.isfinite(row["gap"])
    cost = quick_json["cost_model"]
    assert cost["c"] > 0 and cost["r_k"] > 0


def test_quick_json_names_its_kernel_and_commit_and_times_every_block_size(
    quick_json: dict[str, Any],
) -> None:
    settings = quick_json["settings"]
    assert settings["kernels"] == "spectui panels" and settings["kernels_asked"] == "fast"
    assert settings["commit"] is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", settings["commit"])
    blocks = quick_json["kernels"]["blocks"]
    labels = [(block["kernel"], block["dtype"], block["threads"]) for block in blocks]
    assert labels[0] == ("panel", "float32", 1)  # the pair's own kernel first
    assert ("onednn", "float32", 1) in labels
    assert ("default", "float32", 1) in labels
    assert {dtype for _, dtype, _ in labels} == {"float32"}, "quick: the exact kernels only"
    for block in blocks:
        assert len(block["milliseconds"]) == 8 and all(ms > 0 for ms in block["milliseconds"])
        for rows, r in enumerate(block["r"], start=1):  # r_M is the block over the single row
            assert r == pytest.approx(block["milliseconds"][rows - 1] / block["milliseconds"][0])
        assert block["exact"] == (block["dtype"] == "float32")
    floor = quick_json["kernels"]["floor"][0]
    assert floor["weight_bytes"] > 0.5 * 4 * quick_json["settings"]["verifier_parameters"]
    assert floor["floor_ms"] == pytest.approx(
        floor["weight_bytes"] / (floor["read_gb_per_s"] * 1e9) * 1e3
    )
    for row in quick_json["kernels"]["block_vs_step"]:
        assert row["block"] == 6 and row["positions"] == 32  # k + 1 rows, the new tokens
        if row["dtype"] == "float32":  # exact: a block picks what a step picks
            assert row["block_differs_from_step"] == 0 and row["step_differs_from_pair"] == 0
    plain = quick_json["methods"]["plain_default_kernel"]
    assert plain["identical_to_plain"]  # the same float32 text on either kernel
    assert quick_json["kernels"]["plain_vs_default_kernel"]["median"] > 0


def test_quick_json_predicts_and_measures_each_span_and_names_the_best(
    quick_json: dict[str, Any],
) -> None:
    rows = {row["k"]: row for row in quick_json["spans"]}
    assert sorted(rows) == [3, 5]  # --quick's span and --draft-span
    c = quick_json["cost_model"]["c"]
    own = quick_json["kernels"]["blocks"][0]["r"]
    for k, row in rows.items():
        assert row["identical_to_plain"]
        assert row["r"] == own[k]  # r_(k+1): the block of k drafts and the last token
        tau = (1 - row["alpha"] ** (k + 1)) / (1 - row["alpha"])  # bonus on
        assert row["predicted_speedup"] == pytest.approx(tau / (k * c + own[k]))
    best = max(rows.values(), key=lambda row: row["measured_speedup"]["median"])
    assert quick_json["best_k"] == best["k"]
    predicted = quick_json["kernels"]["predicted_by_k"]
    assert [row["k"] for row in predicted] == list(range(1, 8))


def test_human_report(tiny_pair: Any, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "bench",
            "--quick",
            *pair_args(tiny_pair),
            "--alphas",
            "0.5",
            "--repeats",
            "1",
            "--max-new-tokens",
            "12",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    for text in (
        "machine",
        "torch",
        "transformers",
        "threads 1",
        "k=5",
        "12 new tokens",
        "Speed",
        "Work",
        "Cost model",
        "Oracle drafter",
        "HF assisted",
        "Draft span k (greedy-exact chain): best k =",
        "Verifier block cost by kernel",
        "torch default (MKL) float32",
        "not run: --seed-prompts 0",
    ):
        assert text in out, text
    assert "…" not in out  # not a terminal: laid out wide, no cell cut


def test_bad_alphas_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--alphas", "0.5,2"])
    assert "every α must be in 0..1" in capsys.readouterr().err


def test_command_module_does_not_import_torch() -> None:
    code = (
        "import sys, spectui.commands.bench; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_oracle_drafter_controls_acceptance(tiny_loaded: Any) -> None:
    from spectui.bench.baselines import plain_generate
    from spectui.bench.oracle import engine_decode, oracle_decoder
    from spectui.engine import DecodeConfig
    from spectui.engine.decode import encode_prompt

    pair = tiny_loaded
    config = DecodeConfig(
        drafter=pair.drafter_id,
        verifier=pair.verifier_id,
        policy="greedy",
        bonus=True,
        max_new_tokens=24,
        stop_at_eos=False,
    )
    prompt = encode_prompt(pair, "Once upon a time,")
    target = plain_generate(pair, prompt, 24).output_ids
    for alpha in (0.0, 0.6, 1.0):
        decoded = engine_decode(
            oracle_decoder(pair, config, prompt, target=target, alpha=alpha, seed=1)
        )
        assert decoded.output_ids == target  # greedy-exact stays lossless whatever is drafted
        assert decoded.checked
        if alpha == 0.0:
            assert decoded.accepted == 0
        if alpha == 1.0:
            assert decoded.accepted == decoded.checked == decoded.drafted


def test_seed_algorithm_matches_plain_greedy(tiny_loaded: Any) -> None:
    from spectui.bench.baselines import plain_generate, seed_decode
    from spectui.engine.decode import encode_prompt

    prompt = encode_prompt(tiny_loaded, "The capital of France is")
    seed = seed_decode(tiny_loaded, prompt, k=4, new_tokens=20)
    assert seed.output_ids == plain_generate(tiny_loaded, prompt, 20).output_ids
    assert seed.rounds and seed.drafted and seed.checked


def test_cost_model_formula() -> None:
    from spectui.engine.cost.sampler import CostModel, alpha_estimate

    cost = CostModel(
        k=4, context_tokens=10, drafter_step=0.1, verifier_step=1.0, verifier_block=1.2, samples=5
    )
    assert cost.c == pytest.approx(0.1)
    assert cost.r_k == pytest.approx(1.2)
    assert cost.predicted_speedup(0.0) == pytest.approx(1 / 1.6)
    assert cost.predicted_speedup(1.0) == pytest.approx(5 / 1.6)
    assert cost.predicted_speedup(0.5) == pytest.approx((1 - 0.5**5) / 0.5 / 1.6)
    assert alpha_estimate(3, 4) == 0.75
    assert alpha_estimate(0, 0) == 0.0


def test_synthetic_pair_builds_and_decodes() -> None:
    from spectui.bench.baselines import plain_generate
    from spectui.bench.synthetic import build_synthetic_pair
    from spectui.engine.decode import encode_prompt

    pair = build_synthetic_pair("bundled-size", drafter_kind="perturbed")
    assert pair.context_length == 256
    assert pair.drafter.config.n_layer == pair.verifier.config.n_layer == 6
    prompt = encode_prompt(pair, "She walked into the")
    assert len(plain_generate(pair, prompt, 4).output_ids) == 4


def test_bundled_size_preset_has_the_shipped_shapes() -> None:
    from transformers import AutoConfig

    from spectui.bench.synthetic_pairs import SYNTHETIC_PAIRS
    from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

    spec = SYNTHETIC_PAIRS["bundled-size"]
    for shapes, shipped_dir in ((spec.drafter, BUNDLED_DRAFTER), (spec.verifier, BUNDLED_VERIFIER)):
        shipped = AutoConfig.from_pretrained(shipped_dir)
        assert {key: getattr(shipped, key) for key in shapes} == shapes
    assert spec.vocab_size == shipped.vocab_size
    assert spec.n_positions == shipped.n_positions
