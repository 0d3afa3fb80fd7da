"""`spectui sweep`: the grid, every figure by hand, the frontier, resuming, the bundled pair."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tiny_models import TinyPair

from spectui.cli import main
from spectui.engine.config import DecodeConfig
from spectui.engine.cost.model import CostModel
from spectui.engine.stats import RoundShape, ShapeCount, StatsSnapshot
from spectui.engine.sweep.file import parse_sweep, read_sweep, row_key, row_record
from spectui.engine.sweep.grid import (
    PromptOutcome,
    Setting,
    SweepRow,
    equal_positions,
    first_divergence,
    frontier,
    pareto_front,
    parse_axis,
    plan_settings,
    predicted_speedup,
    prompt_outcome,
)
from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

BUNDLED_PROMPTS = ("She walked into the", "It is important to")
BUNDLED_VOCAB = 4096  # the bundled tokenizer's: a top-k gate this wide lets every token pass


def sweep_cli(*argv: str) -> tuple[int, str, str]:
    """Run `spectui sweep ARGV`; its exit status, stdout and stderr (argparse's exits too)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(["sweep", *argv])
        except SystemExit as exit_:
            status = int(exit_.code or 0)
    return status, out.getvalue(), err.getvalue()


def json_records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def rows_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["kind"] == "row"]


# --- each figure by hand ---------------------------------------------------------------------


def test_equal_positions_and_first_divergence_by_hand() -> None:
    reference = (1, 2, 3, 4)
    assert equal_positions((1, 2, 3, 4), reference) == 4
    assert equal_positions((1, 9, 3, 4), reference) == 3  # position-wise: 1, 3, 4 match
    assert equal_positions((2, 3, 4), reference) == 0  # no realignment: shifted is different
    assert equal_positions((1, 2), reference) == 2  # over the shorter
    assert first_divergence((1, 2, 3, 4), reference) is None
    assert first_divergence((1, 9, 3, 4), reference) == 2  # 1-based token number
    assert first_divergence((1, 2), reference) == 3  # where only the reference reaches
    assert first_divergence((), ()) is None


def test_prompt_outcome_counts_against_the_longer_output() -> None:
    outcome = prompt_outcome((1, 2, 7), (1, 2, 3, 4, 5), log_likelihood=-6.0, off_argmax=1)
    assert outcome == PromptOutcome(
        output_ids=(1, 2, 7),
        equal=2,
        compared=5,
        first_divergence=3,
        log_likelihood=-6.0,
        off_argmax=1,
    )


def stats(rounds: int = 2, accepted: int = 3, new_tokens: int = 5, k: int = 2) -> StatsSnapshot:
    return StatsSnapshot(
        rounds=rounds,
        drafted=rounds * k,
        judged=rounds * k,
        accepted=accepted,
        new_tokens=new_tokens,
        capped=0,
        drafted_at=(rounds,) * k,
        judged_at=(rounds,) * k,
        accepted_at=(2, 1),
        accepted_length_histogram=(0, 1, 1),
        round_shapes=(ShapeCount(k, None, False, rounds),),
        verifier_forwards=rounds + 1,
        drafter_forwards=rounds * k + 1,
        prefill_seconds=0.0,
        draft_seconds=0.5,
        verify_seconds=0.5,
    )


def row(outcomes: tuple[PromptOutcome, ...], speedup: float | None = 1.0) -> SweepRow:
    return SweepRow(Setting("soft", ()), {"policy": "soft"}, stats(), outcomes, speedup)


def test_row_figures_pool_the_prompts_by_hand() -> None:
    exact = PromptOutcome((1, 2, 3, 4), 4, 4, None, -2.0, 0)
    early = PromptOutcome((1, 9, 9, 9), 1, 4, 2, -6.0, 3)
    shorter = PromptOutcome((1, 2), 2, 4, 3, -1.0, 1)
    sweep_row = row((exact, early, shorter))
    assert sweep_row.equal_share == pytest.approx((4 + 1 + 2) / (4 + 4 + 4))
    assert sweep_row.diverged == 2
    # The exact output counts as diverging after its last token: 4 + 1.
    assert sweep_row.first_divergence == pytest.approx((5 + 2 + 3) / 3)
    assert sweep_row.mean_log_likelihood == pytest.approx((-2.0 - 6.0 - 1.0) / (4 + 4 + 2))
    assert sweep_row.off_argmax_share == pytest.approx((0 + 3 + 1) / (4 + 4 + 2))
    identical = row((exact, exact))
    assert identical.first_divergence is None and identical.equal_share == 1.0


def test_predicted_speedup_is_expected_tau_over_the_round_cost_by_hand() -> None:
    snapshot = stats(rounds=2, accepted=3, k=2)  # α = 3/4, k = 2, no cap, no bonus
    alpha = 3 / 4
    expected_tau = alpha + alpha**2 + (1 - alpha**2)  # E[accepted] + the correction's chance
    assert snapshot.predicted_tokens_per_round == pytest.approx(expected_tau)
    assert RoundShape(2, None, False).expected_tokens(alpha) == pytest.approx(expected_tau)
    cost = CostModel(k=2, context_tokens=8, drafter_step=0.1, verifier_step=0.4,
                        verifier_block=0.6, samples=3)  # fmt: skip
    assert cost.round_cost == pytest.approx(2 * 0.25 + 1.5)  # k·c + r_k
    assert predicted_speedup(snapshot, cost.round_cost) == pytest.approx(expected_tau / 2.0)


def test_pareto_front_by_hand() -> None:
    points = [(1.0, 1.0), (2.0, 0.5), (1.5, 0.4), (2.0, 0.5), (0.5, 1.0), (3.0, 0.1)]
    # (1.5, 0.4) is beaten by (2.0, 0.5); (0.5, 1.0) by (1.0, 1.0); the equal pair both stay.
    assert pareto_front(points) == (True, True, False, True, False, True)
    assert pareto_front([]) == ()
    exact = PromptOutcome((1,), 1, 1, None, -1.0, 0)
    wrong = PromptOutcome((2,), 0, 1, 1, -3.0, 1)
    assert frontier([row((exact,), 1.0), row((wrong,), 2.0), row((wrong,), 1.5)]) == (
        True,
        True,
        False,
    )


# --- the grid ----------------------------------------------------------------------------------


def test_the_grid_is_the_product_within_each_policy() -> None:
    axes = [parse_axis("p_thresh=0.02,0.05"), parse_axis("margin-gate=0.1,0.2,0.4")]
    settings = plan_settings(DecodeConfig(), axes, ["soft", "greedy"])
    soft = [s for s in settings if s.policy == "soft"]
    assert len(soft) == 6 and soft[0].label == "soft p_thresh=0.02 margin_gate=0.1"
    assert [s.label for s in settings if s.policy == "greedy"] == ["greedy"]  # reads neither
    assert soft[5].config(DecodeConfig()).margin_gate == 0.4
    spans = plan_settings(DecodeConfig(), [parse_axis("draft_span=2,3")], ["greedy"])
    assert [s.label for s in spans] == ["greedy draft_span=2", "greedy draft_span=3"]


@pytest.mark.parametrize(
    ("grid", "policy", "message"),
    [
        ("foo=1,2", "soft", "--grid foo: not a setting a sweep can vary"),
        ("seed=1,2", "soft", "--grid seed: not a setting a sweep can vary"),
        ("topk_gate=2,0.5", "soft", "top-k gate must be an integer ≥ 1, got '0.5'"),
        ("p_thresh=0.1,high", "soft", "p threshold must be a number 0..1, got 'high'"),
        ("p_thresh=0.1,1.5", "soft", "--grid p_thresh: p threshold must be a number 0..1, got 1.5"),
        ("draft_span=0", "soft", "draft span k must be an integer 1..64, got 0"),
        ("p_thresh", "soft", "--grid takes NAME=V1,V2"),
        ("p_thresh=0.1,0.1", "soft", "lists 0.1 more than once"),
        ("p_thresh=0.1,0.2", "greedy", "greedy-exact does not read p threshold"),
    ],
)
def test_a_malformed_grid_is_refused_with_exit_2(grid: str, policy: str, message: str) -> None:
    status, out, err = sweep_cli("--grid", grid, "--policies", policy, "--out", "/nonexistent/x")
    assert status == 2 and out == ""
    assert message in err


# --- the bundled pair ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_sweep() -> list[dict[str, Any]]:
    """greedy, and soft over p_thresh with every other gate open: 2 prompts × 16 tokens."""
    prompts = [arg for text in BUNDLED_PROMPTS for arg in ("--prompt", text)]
    status, out, err = sweep_cli(
        *prompts,
        "--json",
        "--max-new-tokens",
        "16",
        "--policies",
        "greedy,soft",
        "--grid",
        "p_thresh=0.0,0.05,0.2,0.5",
        "--topk-gate",
        str(BUNDLED_VOCAB),
        "--margin-gate",
        "1",
        "--max-accept",
        "5",
        "--cost-seconds",
        "0",
    )
    assert status == 0, err
    return json_records(out)


def test_bundled_json_has_one_row_per_setting(bundled_sweep: list[dict[str, Any]]) -> None:
    kinds = [record["kind"] for record in bundled_sweep]
    assert kinds == ["sweep", "cost", "row", "row", "row", "row", "row", "summary"]
    labels = [record["label"] for record in rows_of(bundled_sweep)]
    assert labels == [
        "greedy",
        "soft p_thresh=0",
        "soft p_thresh=0.05",
        "soft p_thresh=0.2",
        "soft p_thresh=0.5",
    ]
    summary = bundled_sweep[-1]
    assert summary["settings"] == 5 and set(summary["frontier"]) <= set(labels)
    for record in rows_of(bundled_sweep):
        assert record["figures"]["predicted_speedup"] > 0
        assert len(record["outcomes"]) == len(BUNDLED_PROMPTS)


def test_raising_p_thresh_never_raises_acceptance(bundled_sweep: list[dict[str, Any]]) -> None:
    soft = [record for record in rows_of(bundled_sweep) if record["setting"]["policy"] == "soft"]
    thresholds = [record["tunables"]["p_thresh"] for record in soft]
    assert thresholds == sorted(thresholds)
    for name in ("draft_acceptance_rate", "alpha"):
        rates = [record["figures"][name] for record in soft]
        assert all(a >= b for a, b in zip(rates, rates[1:], strict=False)), (name, rates)


def drafter_greedy(prompt: str, tokens: int) -> list[int]:
    """The drafter's own greedy continuation, by Hugging Face's `generate`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(BUNDLED_VERIFIER))
    model = AutoModelForCausalLM.from_pretrained(str(BUNDLED_DRAFTER)).eval()
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=tokens,
            do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
    return [int(token) for token in out[0, ids.shape[1] :]]


def test_every_gate_open_is_the_drafters_greedy_text(bundled_sweep: list[dict[str, Any]]) -> None:
    open_gates = next(r for r in rows_of(bundled_sweep) if r["label"] == "soft p_thresh=0")
    assert open_gates["figures"]["alpha"] == 1.0
    for prompt, outcome in zip(BUNDLED_PROMPTS, open_gates["outcomes"], strict=True):
        assert outcome["output_ids"] == drafter_greedy(prompt, 16)


def test_greedy_exact_is_the_verifier_greedy_decode(bundled_sweep: list[dict[str, Any]]) -> None:
    greedy = next(r for r in rows_of(bundled_sweep) if r["label"] == "greedy")
    assert greedy["figures"]["equal_share"] == 1.0
    assert greedy["figures"]["first_divergence"] is None
    references = bundled_sweep[0]["references"]
    assert [o["output_ids"] for o in greedy["outcomes"]] == references


# --- files: resuming, refusing another sweep ---------------------------------------------------


GRIDS = ("p_thresh=0.02,0.05,0.1", "margin_gate=0.1,0.4")


def tiny_args(
    pair: TinyPair, out: Path, tokens: int = 6, grids: tuple[str, ...] = GRIDS
) -> list[str]:
    return [
        "--drafter",
        pair.drafter,
        "--verifier",
        pair.verifier,
        "--prompt",
        "Once upon a time,",
        "--prompt",
        "She walked into the",
        "--max-new-tokens",
        str(tokens),
        *(arg for grid in grids for arg in ("--grid", grid)),
        "--cost-seconds",
        "0",
        "--out",
        str(out),
    ]


class CountingDecodes:
    """Counts `decode_prompt` calls; raises KeyboardInterrupt (ctrl+c) before call `stop_at`."""

    def __init__(self, stop_at: int | None = None) -> None:
        from spectui.engine.sweep import runner as sweep_runner

        self.real = sweep_runner.decode_prompt
        self.calls = 0
        self.stop_at = stop_at

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        if self.stop_at is not None and self.calls == self.stop_at:
            raise KeyboardInterrupt
        return self.real(*args)


def test_a_stopped_sweep_resumes_without_redoing_finished_settings(
    tiny_pair: TinyPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sweep.jsonl"
    stopped = CountingDecodes(stop_at=2 * 2 + 2)  # ctrl+c in the third setting's 2nd prompt
    monkeypatch.setattr("spectui.engine.sweep.runner.decode_prompt", stopped)
    status, _, err = sweep_cli(*tiny_args(tiny_pair, out))
    assert status == 130 and "run again to resume" in err
    assert len(read_sweep(out).rows) == 2

    resumed = CountingDecodes()
    monkeypatch.setattr("spectui.engine.sweep.runner.decode_prompt", resumed)
    status, out_text, err = sweep_cli(*tiny_args(tiny_pair, out))
    assert status == 0, err
    assert resumed.calls == (6 - 2) * 2  # only the four unfinished settings, on both prompts
    sweep = read_sweep(out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    keys = [row_key(line["tunables"]) for line in lines if line["kind"] == "row"]
    assert len(keys) == len(set(keys)) == 6 == len(sweep.rows)
    assert sum(line["kind"] == "sweep" for line in lines) == 1
    assert "soft p_thresh=0.1 margin_gate=0.4" in out_text  # the table shows every setting

    again = CountingDecodes()
    monkeypatch.setattr("spectui.engine.sweep.runner.decode_prompt", again)
    assert sweep_cli(*tiny_args(tiny_pair, out))[0] == 0
    assert again.calls == 0 and len(read_sweep(out).rows) == 6


def test_a_file_of_another_sweep_is_refused(tiny_pair: TinyPair, tmp_path: Path) -> None:
    out = tmp_path / "sweep.jsonl"
    assert sweep_cli(*tiny_args(tiny_pair, out, tokens=4, grids=("p_thresh=0.05",)))[0] == 0
    status, _, err = sweep_cli(*tiny_args(tiny_pair, out, tokens=5))
    assert status == 2
    assert "holds another sweep (it differs in max_new_tokens)" in err
    other = tmp_path / "other.jsonl"
    other.write_text('{"prompt": "not a sweep"}\n')
    status, _, err = sweep_cli(*tiny_args(tiny_pair, other))
    assert status == 2 and "is not a spectui sweep file" in err


def test_an_unfinished_last_line_is_dropped(tiny_pair: TinyPair, tmp_path: Path) -> None:
    out = tmp_path / "sweep.jsonl"
    args = tiny_args(tiny_pair, out, tokens=4)
    assert sweep_cli(*args, "--csv", str(tmp_path / "sweep.csv"))[0] == 0
    whole = read_sweep(out)
    text = out.read_text()
    cut = text[: text.rindex("\n", 0, len(text) - 1) + 1] + row_line_start(text)
    out.write_text(cut)  # the last row half-written, as a kill mid-write leaves it
    assert len(parse_sweep(cut.splitlines(keepends=True), "cut").rows) == 5
    assert sweep_cli(*args)[0] == 0
    assert [r.label for r in read_sweep(out).rows] == [r.label for r in whole.rows]
    assert out.read_text().count("\n") == text.count("\n")
    csv_lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert csv_lines[0].startswith("setting,policy,p_thresh,margin_gate,draft_acceptance_rate")
    assert len(csv_lines) == 1 + 6


def row_line_start(text: str) -> str:
    last = text.splitlines()[-1]
    return last[: len(last) // 2]


def test_a_row_reads_back_as_written(tiny_pair: TinyPair, tmp_path: Path) -> None:
    out = tmp_path / "sweep.jsonl"
    assert sweep_cli(*tiny_args(tiny_pair, out, tokens=4))[0] == 0
    sweep = read_sweep(out)
    for sweep_row in sweep.rows:
        assert json.loads(json.dumps(row_record(sweep_row)))["tunables"] == sweep_row.tunables
        config = sweep.config_of(sweep_row)
        assert config.p_thresh == dict(sweep_row.setting.values)["p_thresh"]
        assert config.max_new_tokens == 4 and config.drafter == tiny_pair.drafter


def test_the_pure_modules_load_neither_torch_nor_textual() -> None:
    code = (
        "import sys, spectui.engine.sweep.grid, spectui.engine.sweep.file,"
        " spectui.engine.sweep.report;"
        "sys.exit(('torch' in sys.modules) + 2 * ('textual' in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
