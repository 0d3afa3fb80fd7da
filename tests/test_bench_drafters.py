"""`spectui bench --drafters`: n-gram lookup and early exit timed beside the drafter model's
chain, at the same k and verifier, every one greedy-exact (so token-identical to plain)."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from rich.console import Console

from spectui.bench.report import render
from spectui.cli import main

QUICK = ["--quick", "--alphas", "none", "--seed-prompts", "0", "--repeats", "1", "--tree-method"]


@pytest.fixture(scope="module")
def result(tiny_pair: Any) -> dict[str, Any]:
    argv = ["bench", *QUICK, "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier]
    argv += ["--drafters", "ngram,early-exit:1", "--max-new-tokens", "16", "--json"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())


def test_each_drafting_method_is_a_row_beside_the_chain(result: dict[str, Any]) -> None:
    rows = {row["method"]: row for row in result["drafting"]}
    assert list(rows) == [
        "engine_greedy",
        "engine_tree",
        "engine_greedy_ngram",
        "engine_greedy_early_exit_1",
    ]
    assert rows["engine_greedy_ngram"]["label"] == "engine greedy, n-gram lookup (n 3→1)"
    for key, row in rows.items():
        assert row["identical_to_plain"], key
        assert row["tokens_per_round"] >= 1.0, key
        assert row["tokens_per_second"]["median"] > 0, key
    assert rows["engine_greedy"]["ratio_vs_chain"]["median"] == pytest.approx(1.0)
    methods = result["methods"]
    for key in rows:
        assert methods[key]["verifier_forwards_per_round"] == 1.0, key  # one pass a round
    assert methods["engine_greedy"]["drafter_forwards_per_round"] > 0
    for key in ("engine_greedy_ngram", "engine_greedy_early_exit_1"):
        assert methods[key]["drafter_forwards_per_round"] is None  # no drafter model to count
    assert result["settings"]["drafters"] == ["ngram", "early-exit:1"]


def test_the_report_has_the_side_by_side_table(result: dict[str, Any]) -> None:
    console = Console(width=160, record=True, color_system=None)
    console.print(render(result))
    text = console.export_text()
    assert "Drafting methods (greedy-exact, k=5, same verifier, one verifier pass" in text
    assert "chain: drafter " in text  # the drafter model's directory name, not its path
    assert "n-gram lookup (n 3→1)" in text and "early exit (1/2 layers of the verifier)" in text


def test_bench_refuses_a_drafting_method_as_its_drafter(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--drafter", "ngram"])
    assert exit_.value.code == 2
    assert "by --drafters ngram" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--drafters", "gpt2"])
    assert "'gpt2' is not a drafting method" in capsys.readouterr().err
