"""Prompt sets: reading prompts files, per-category statistics, --chat and several policies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tiny_models import TinyPair
from transformers import AutoTokenizer

from spectui.cli import SEED_PROMPTS, build_parser, main
from spectui.commands.prompt_options import prompt_set_from_args
from spectui.engine.prompts import Prompt, PromptFileError, chat_prompt, read_prompts

SPEC_BENCH_LINE = (
    '{"question_id": 81, "category": "writing", '
    '"turns": ["Compose an engaging travel blog post", "Rewrite it"]}'
)
CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def pair_args(pair: TinyPair) -> list[str]:
    return ["--drafter", pair.drafter, "--verifier", pair.verifier]


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


# --- reading the three formats ---------------------------------------------------------------


def test_plain_text_one_prompt_per_line_blank_lines_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "prompts.txt", "Once upon a time,", "", "   ", "The capital of France is "
    )
    assert read_prompts(path) == (
        Prompt("Once upon a time,", None, f"{path}:1"),
        Prompt("The capital of France is ", None, f"{path}:4"),  # its trailing space kept
    )


def test_json_lines_with_prompt_and_optional_category(tmp_path: Path) -> None:
    path = write(
        tmp_path / "prompts.jsonl",
        '{"prompt": "def fib(n):", "category": "code"}',
        '{"prompt": "She walked into the"}',
    )
    assert read_prompts(path) == (
        Prompt("def fib(n):", "code", f"{path}:1"),
        Prompt("She walked into the", None, f"{path}:2"),
    )


def test_spec_bench_question_file_gives_the_first_turn(tmp_path: Path) -> None:
    path = write(
        tmp_path / "question.jsonl",
        SPEC_BENCH_LINE,
        '{"question_id": 82, "category": "math", "turns": ["What is 2 + 2?"]}',
    )
    assert read_prompts(path) == (
        Prompt("Compose an engaging travel blog post", "writing", f"{path}:1"),
        Prompt("What is 2 + 2?", "math", f"{path}:2"),
    )


def test_a_txt_file_is_plain_text_even_when_a_line_looks_like_json(tmp_path: Path) -> None:
    path = write(tmp_path / "braces.txt", '{"prompt": "x"}')
    assert read_prompts(path)[0].text == '{"prompt": "x"}'


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"prompt": "unterminated', "not JSON"),
        ('{"question_id": 1, "category": "writing"}', 'neither "prompt"'),
        ('{"question_id": 1, "category": "writing", "turns": []}', '"turns" must be a non-empty'),
        ('{"prompt": 3}', '"prompt" must be a string'),
        ('["a list"]', "one object per line"),
        ('{"prompt": "x", "category": 7}', '"category" must be a string'),
    ],
)
def test_a_malformed_line_is_refused_with_file_and_line(
    tmp_path: Path, line: str, says: str
) -> None:
    path = write(tmp_path / "question.jsonl", SPEC_BENCH_LINE, "", line)
    with pytest.raises(PromptFileError, match=says) as refused:
        read_prompts(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:3: ")  # blank lines still count
    assert "\n" not in message


def test_missing_and_empty_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PromptFileError, match="cannot read the prompts file"):
        read_prompts(tmp_path / "absent.txt")
    with pytest.raises(PromptFileError, match="holds no prompts"):
        read_prompts(write(tmp_path / "blank.txt", "", "  "))


def test_prompt_and_prompts_file_together_given_ones_first(tmp_path: Path) -> None:
    path = write(tmp_path / "question.jsonl", SPEC_BENCH_LINE)
    args = build_parser().parse_args(
        ["run", "--prompt", "Once upon", "--prompts-file", str(path), "--prompt", "She"]
    )
    assert [(p.text, p.category) for p in prompt_set_from_args(args)] == [
        ("Once upon", None),
        ("She", None),
        ("Compose an engaging travel blog post", "writing"),
    ]
    none_given = build_parser().parse_args(["run"])
    assert [p.text for p in prompt_set_from_args(none_given)] == list(SEED_PROMPTS)


@pytest.mark.parametrize("command", [["run"], ["bench"], []])
def test_a_bad_prompts_file_is_a_usage_error_before_any_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = write(tmp_path / "bad.jsonl", '{"prompt": "fine"}', "{not json")
    status, out, err = run_cli(capsys, *command, "--prompts-file", str(path), "--pair", "seed")
    assert status == 2 and out == ""
    assert err.startswith(f"spectui: {path}:2: not JSON")
    assert "loading" not in err  # the seed pair (it needs the hub) was never asked for


# --- spectui run over a prompt set -----------------------------------------------------------


@pytest.fixture
def categorised(tmp_path: Path) -> Path:
    return write(
        tmp_path / "question.jsonl",
        '{"question_id": 1, "category": "story", "turns": ["Once upon a time,"]}',
        '{"question_id": 2, "category": "facts", "turns": ["The capital of France is"]}',
        '{"question_id": 3, "category": "story", "turns": ["She walked into the"]}',
    )


def test_run_json_done_records_carry_the_category(
    tiny_pair: TinyPair, categorised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(
        capsys,
        "run",
        *pair_args(tiny_pair),
        "--json",
        "--policy",
        "greedy",
        "--prompts-file",
        str(categorised),
        "--max-new-tokens",
        "8",
    )
    assert status == 0
    done = [line for line in json_lines(out) if line["event"] == "done"]
    assert [(d["prompt"], d["category"]) for d in done] == [
        ("Once upon a time,", "story"),
        ("The capital of France is", "facts"),
        ("She walked into the", "story"),
    ]


def test_run_prints_statistics_per_category_and_overall(
    tiny_pair: TinyPair, categorised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(
        capsys,
        "run",
        *pair_args(tiny_pair),
        "--policy",
        "soft",
        "--prompts-file",
        str(categorised),
        "--max-new-tokens",
        "8",
    )
    assert status == 0
    assert "soft-guarded: statistics over 3 prompt(s)" in out
    assert "soft-guarded: statistics per category" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 6}
    assert {"story", "facts", "all"} <= set(rows)
    assert [cell.strip() for cell in rows["story"].split("│")[2:4]][0] == "2"  # prompts
    assert [cell.strip() for cell in rows["all"].split("│")[2:4]][0] == "3"


def test_run_without_categories_prints_no_category_table(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(
        capsys, "run", *pair_args(tiny_pair), "--policy", "greedy", "--prompt", "Once upon"
    )
    assert status == 0 and "per category" not in out


# --- several policies ------------------------------------------------------------------------


def test_run_under_three_policies_gives_done_records_for_each(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(
        capsys,
        "run",
        *pair_args(tiny_pair),
        "--json",
        "--policy",
        "greedy,soft,sample",
        "--prompt",
        "Once upon",
        "--prompt",
        "She walked into the",
        "--max-new-tokens",
        "8",
    )
    assert status == 0
    lines = json_lines(out)
    done = [line for line in lines if line["event"] == "done"]
    assert [(d["prompt"], d["policy"]) for d in done] == [
        (prompt, policy)
        for prompt in ("Once upon", "She walked into the")
        for policy in ("greedy", "soft", "sample")
    ]
    assert all(len(d["output_ids"]) == 8 for d in done)
    for d in done:
        own = [r for r in lines if r["event"] == "round" and r["prompt"] == d["prompt"]]
        assert any(r["policy"] == d["policy"] for r in own)


@pytest.mark.parametrize(
    ("policies", "says"),
    [("greedy,bogus", "unknown policy 'bogus'"), ("soft,soft", "named twice"), ("", "unknown")],
)
def test_bad_policy_lists_are_usage_errors(
    capsys: pytest.CaptureFixture[str], policies: str, says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--policy", policies])
    assert exited.value.code == 2
    assert says in capsys.readouterr().err


def test_both_still_means_the_seed_pair_soft_then_greedy() -> None:
    assert build_parser().parse_args(["run", "--policy", "both"]).policies == ("soft", "greedy")


def test_the_app_compares_two_or_more_policies(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["--compare", "soft,sample"]).compare == ("soft", "sample")
    assert build_parser().parse_args([]).compare == ("greedy", "soft")
    with pytest.raises(SystemExit):
        main(["--compare", "greedy"])
    assert "at least 2 policies" in capsys.readouterr().err


# --- --chat ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chat_pair(tiny_pair: TinyPair, tmp_path_factory: pytest.TempPathFactory) -> TinyPair:
    """The tiny pair, its verifier's tokenizer given a chat template."""
    verifier = tmp_path_factory.mktemp("chat-pair") / "verifier"
    shutil.copytree(tiny_pair.verifier, verifier)
    tokenizer = AutoTokenizer.from_pretrained(verifier)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(verifier)
    return TinyPair(drafter=tiny_pair.drafter, verifier=str(verifier))


def test_chat_wraps_each_prompt_in_the_template(
    chat_pair: TinyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "chat.jsonl"
    status, out, _ = run_cli(
        capsys,
        "run",
        *pair_args(chat_pair),
        "--json",
        "--chat",
        "--system",
        "Be brief.",
        "--policy",
        "greedy",
        "--prompt",
        "Once upon",
        "--max-new-tokens",
        "6",
        "--trace",
        str(trace),
    )
    assert status == 0
    tokenizer = AutoTokenizer.from_pretrained(chat_pair.verifier)
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Once upon"}]
    expected_ids = tokenizer.apply_chat_template(
        turns, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    (done,) = [line for line in json_lines(out) if line["event"] == "done"]
    assert done["prompt"] == "Once upon"  # the prompt as given; its ids are the template's
    assert done["prompt_ids"] == list(expected_ids)
    assert len(done["output_ids"]) == 6
    header = json.loads(trace.read_text(encoding="utf-8").splitlines()[0])
    assert header["prompt"] == "<system>Be brief.<user>Once upon<assistant>"
    assert header["prompt_ids"] == list(expected_ids)


def test_chat_prompt_without_a_system_turn(chat_pair: TinyPair) -> None:
    tokenizer = AutoTokenizer.from_pretrained(chat_pair.verifier)
    wrapped = chat_prompt(tokenizer, "Hello")
    assert wrapped.text == "<user>Hello<assistant>"
    assert wrapped.ids == tuple(tokenizer("<user>Hello<assistant>").input_ids)


def test_chat_on_a_tokenizer_without_a_template_is_refused(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(capsys, "run", *pair_args(tiny_pair), "--chat", "--json")
    assert status == 2 and out == ""
    *stages, message = err.splitlines()  # the loading stages, then one paragraph
    assert f"the tokenizer {tiny_pair.verifier} (" in message and "no chat template" in message
    assert all(stage.startswith("spectui: ") for stage in stages)


# --- spectui bench over a prompt set ---------------------------------------------------------


def test_bench_reports_acceptance_per_category(
    tiny_pair: TinyPair, categorised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [
        "bench",
        *pair_args(tiny_pair),
        "--quick",
        "--repeats",
        "1",
        "--max-new-tokens",
        "8",
        "--alphas",
        "none",
        "--seed-prompts",
        "0",
        "--prompts-file",
        str(categorised),
    ]
    status, out, _ = run_cli(capsys, *common, "--n-prompts", "3", "--json")
    assert status == 0
    result = json.loads(out)
    per_category = result["per_category"]
    assert list(per_category) == ["story", "facts"]
    for methods in per_category.values():
        assert set(methods) == {"engine_greedy", "engine_soft"}
    assert per_category["story"]["engine_greedy"]["runs"] == 2
    assert 0.0 <= per_category["facts"]["engine_soft"]["draft_acceptance_rate"] <= 1.0
    status, out, _ = run_cli(capsys, *common, "--n-prompts", "3")
    assert status == 0 and "Acceptance per prompt category" in out
