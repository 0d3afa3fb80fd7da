"""`spectui run`: the seed-style report and the JSON Lines contract."""

from __future__ import annotations

import json
import re

import pytest
import torch
from tiny_models import TinyPair

from spectui.cli import SEED_PROMPTS, main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def pair_args(pair: TinyPair) -> list[str]:
    return ["--drafter", pair.drafter, "--verifier", pair.verifier]


def test_json_lines_contract(tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys,
        "run",
        *pair_args(tiny_pair),
        "--json",
        "--policy",
        "both",
        "--prompt",
        "She walked into the",
        "--prompt",
        "Once upon",
        "--max-new-tokens",
        "12",
    )
    assert status == 0
    lines = [json.loads(line) for line in out.splitlines()]
    done = [line for line in lines if line["event"] == "done"]
    rounds = [line for line in lines if line["event"] == "round"]
    assert [(d["prompt"], d["policy"]) for d in done] == [
        ("She walked into the", "soft"),
        ("She walked into the", "greedy"),
        ("Once upon", "soft"),
        ("Once upon", "greedy"),
    ]
    for line in rounds:
        assert {"draft_ids", "checks", "appended_ids"} <= set(line)
        for check in line["checks"]:
            assert {
                "token_id",
                "q",
                "p",
                "rank",
                "top1_id",
                "p_top1",
                "margin",
                "gates",
                "accepted",
            } <= set(check)
            soft_gates = {"p_thresh", "topk", "margin", "max_accept"}
            assert set(check["gates"]) == soft_gates | {"relaxed_topk", "relaxed_delta"}
    for line in done:
        assert len(line["output_ids"]) == 12
        assert isinstance(line["text"], str)
        assert {"rounds", "verifier_forwards", "drafted", "accepted"} <= set(line["stats"])
        own_rounds = [
            r for r in rounds if r["prompt"] == line["prompt"] and r["policy"] == line["policy"]
        ]
        assert len(own_rounds) == line["stats"]["rounds"]
        assert sum((r["appended_ids"] for r in own_rounds), []) == line["output_ids"]
        _assert_figures_from_rounds(line["figures"], own_rounds)


def _assert_figures_from_rounds(figures: dict[str, float], rounds: list[dict]) -> None:
    """The JSON's named figures, recomputed by hand from the round records."""
    drafted = sum(len(r["draft_ids"]) for r in rounds)
    judged = sum(len(r["checks"]) for r in rounds)
    accepted = sum(r["n_accepted"] for r in rounds)
    appended = sum(len(r["appended_ids"]) for r in rounds)
    assert figures["draft_acceptance_rate"] == pytest.approx(accepted / drafted)
    assert figures["alpha"] == pytest.approx(accepted / judged)
    assert figures["tokens_per_round"] == pytest.approx(appended / len(rounds))
    assert figures["mean_acceptance_length"] == pytest.approx(1 + accepted / len(rounds))
    first = [r for r in rounds if r["draft_ids"]]
    assert figures["per_position_acceptance"][0] == pytest.approx(
        sum(bool(r["checks"]) and r["checks"][0]["accepted"] for r in first) / len(first)
    )


def test_default_is_one_round_over_the_seed_prompts(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(capsys, "run", *pair_args(tiny_pair), "--json")
    assert status == 0
    done = [json.loads(line) for line in out.splitlines() if '"event": "done"' in line]
    assert [d["prompt"] for d in done if d["policy"] == "soft"] == list(SEED_PROMPTS)
    assert all(d["stats"]["rounds"] == 1 and d["reason"] == "single_round" for d in done)


def test_human_report(tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys,
        "run",
        *pair_args(tiny_pair),
        "--prompt",
        "She walked into the",
        "--gates",
        "--policy",
        "greedy",
    )
    assert status == 0
    assert "greedy-exact" in out and "soft-guarded" not in out
    assert "She walked into the" in out
    assert "draft acceptance rate (accepted / drafted)" in out
    assert "α per token (accepted / judged)" in out
    gate_header = next(line for line in out.splitlines() if line.startswith("prompt  round"))
    assert "p_thresh" in gate_header and "greedy" in gate_header.split()


def test_too_long_prompt_is_an_error_line(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(
        capsys,
        "run",
        *pair_args(tiny_pair),
        "--json",
        "--policy",
        "soft",
        "--prompt",
        "word " * 200,
        "--prompt",
        "fine",
    )
    assert status == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["event"] == "error" and "shorten it" in lines[0]["message"]
    assert lines[-1]["event"] == "done" and lines[-1]["prompt"] == "fine"


def test_json_rounds_are_numbered_from_1_and_carry_their_texts(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the app and the gate tables number them; each id has its token's text beside it."""
    status, out, _ = run_cli(
        capsys, "run", *pair_args(tiny_pair), "--json", "--policy", "greedy",
        "--prompt", "She walked into the", "--max-new-tokens", "12",
    )  # fmt: skip
    assert status == 0
    lines = [json.loads(line) for line in out.splitlines()]
    rounds = [line for line in lines if line["event"] == "round"]
    assert [line["round"] for line in rounds] == list(range(1, len(rounds) + 1))
    done = lines[-1]
    texts = [text for line in rounds for text in line["appended_texts"]]
    assert "".join(texts) == done["text"]
    for line in rounds:
        assert len(line["draft_texts"]) == len(line["draft_ids"])
        assert len(line["appended_texts"]) == len(line["appended_ids"])
        for check in line["checks"]:
            assert check["token_text"] == line["draft_texts"][check["position"]]
            assert isinstance(check["top1_text"], str)


def test_each_prompt_samples_with_its_own_seed_and_any_one_is_reproducible(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prompt n decodes with seed --seed + n − 1: the same prompt twice gives two samples, and
    the second alone with --seed + 1 gives its sample again."""
    common = [*pair_args(tiny_pair), "--json", "--policy", "sample", "--max-new-tokens", "16"]
    status, out, _ = run_cli(
        capsys, "run", *common, "--seed", "7", "--prompt", "Once upon", "--prompt", "Once upon"
    )
    assert status == 0
    done = [json.loads(line) for line in out.splitlines() if '"event": "done"' in line]
    assert [d["seed"] for d in done] == [7, 8]
    assert done[0]["output_ids"] != done[1]["output_ids"], "two samples, not one twice"
    _, again, _ = run_cli(capsys, "run", *common, "--seed", "8", "--prompt", "Once upon")
    alone = [json.loads(line) for line in again.splitlines() if '"event": "done"' in line]
    assert alone[0]["output_ids"] == done[1]["output_ids"] and alone[0]["seed"] == 8


def test_an_empty_prompt_says_what_the_decode_starts_from(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "run",
            "--drafter",
            tiny_pair.drafter,
            "--verifier",
            tiny_pair.verifier,
            "--prompt",
            "",
            "--max-new-tokens",
            "4",
        ]
    )
    err = capsys.readouterr().err
    assert status == 0
    assert "The prompt is empty: the decode starts from the token '<|endoftext|>' (id 0" in err


def test_progress_lines_on_stderr_when_it_is_no_terminal_and_none_with_quiet(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", *pair_args(tiny_pair), "--prompt", "It is", "--policy", "greedy"]
    assert main([*argv, "--max-new-tokens", "150", "--draft-span", "2", "--json"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "decode 1/1" in line]
    assert lines[0] == 'spectui: decode 1/1 · prompt 1 · greedy: decoding "It is"'
    assert re.fullmatch(
        r"spectui: decode 1/1 · prompt 1 · greedy: round 25, \d+ tokens, \d+ s", lines[1]
    )
    assert re.fullmatch(
        r"spectui: decode 1/1 · prompt 1 · greedy: done, \d+ tokens in \d+ rounds, [\d.]+ s",
        lines[-1],
    )
    assert main([*argv, "--max-new-tokens", "4", "--quiet"]) == 0
    assert "decode 1/1" not in capsys.readouterr().err


def test_the_report_names_the_precision_and_kernel_and_says_when_it_is_not_exact(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    def first_line(*extra: str) -> str:
        status, out, _ = run_cli(
            capsys, "run", *pair_args(tiny_pair), "--prompt", "She", "--device", "cpu", *extra
        )
        assert status == 0
        return out.splitlines()[0]

    assert "device cpu float32 on spectui panels  k=" in first_line()
    assert "float32 on torch default (MKL)  k=" in first_line("--kernels", "default")
    assert "bfloat16 on spectui panels, not exact  k=" in first_line("--dtype", "bfloat16")
    threads = torch.get_num_threads()
    try:  # the panels run on one thread: on two, fast is oneDNN
        assert "float32 on oneDNN prepacked  k=" in first_line("--threads", "2")
    finally:
        torch.set_num_threads(threads)
