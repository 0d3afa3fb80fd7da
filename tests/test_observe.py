"""`spectui observe` against a real vLLM server that speculates with n-gram lookup.

The server (the bundled verifier, `method: ngram`, k = 3, n 1..3, per-request metrics
`detailed`) and one drafting with the bundled drafter are started once for the session
(`speculating_servers`, tests/conftest.py: the app's tests observe them too). spectui's
reading of each request must be the server's counts, and its own n-gram drafter, rebuilding
every step, the server's steps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from vllm_servers import PROMPTS

from spectui.cli import main
from spectui.engine.observe.rebuild import first_divergence, rebuild
from spectui.engine.observe.steps import Step, StepReading, counted_reading, histogram
from spectui.engine.trace.reader import read_trace
from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

pytestmark = pytest.mark.vllm


@pytest.fixture
def ngram_server(speculating_servers: dict[str, str]) -> str:
    return speculating_servers["ngram"]


def observe_json(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> list[Any]:
    argv = ["observe", url, *(f"--prompt={p}" for p in PROMPTS), "--max-new-tokens", "40"]
    status = main([*argv, "--json", *extra])
    out = capsys.readouterr().out
    assert status == 0, out
    return [json.loads(line) for line in out.splitlines()]


def test_observe_json_is_the_servers_own_counts_for_every_request(
    ngram_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = observe_json(ngram_server, capsys)
    assert [record["prompt"] for record in records] == list(PROMPTS)
    for record in records:
        server = record["server"]
        assert set(server) >= {"per_step_accepted", "per_step_drafted", "num_spec_tokens"}
        drafting = [
            (a, d)
            for a, d in zip(record["per_step_accepted"], record["per_step_drafted"], strict=True)
            if d
        ]
        assert drafting == list(
            zip(server["per_step_accepted"], server["per_step_drafted"], strict=True)
        )
        figures = record["figures"]
        assert figures["accepted"] == server["num_accepted_draft_tokens"]
        assert figures["drafted"] == server["num_draft_tokens"]
        assert figures["drafting_steps"] == server["num_spec_steps"]
        assert figures["mean_acceptance_length"] == pytest.approx(server["mean_acceptance_length"])
        assert figures["draft_acceptance_rate"] == pytest.approx(server["draft_acceptance_rate"])
        # Every step after the prefill's token appends its accepted drafts and one more.
        assert (
            sum(record["tokens_per_step"]) + record["draftless_steps_unplaced"]
            == record["completion_tokens"] - 1
        )


def test_the_local_ngram_drafter_rebuilds_every_step_the_server_took(
    ngram_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = observe_json(ngram_server, capsys, "--drafter", "ngram")
    for record in records:
        assert record["divergence"] is None, record["divergence"]
        rebuilt = record["rebuilt"]
        server = record["server"]
        drafting = [step for step in rebuilt if step["drafted"]]
        assert [step["accepted"] for step in drafting] == server["per_step_accepted"]
        assert [step["drafted"] for step in drafting] == server["per_step_drafted"]
        steps = [Step(step["drafted"], step["accepted"]) for step in rebuilt]
        assert histogram(steps, server["num_spec_tokens"]) == server["acceptance_histogram"]
        assert record["draftless_steps_unplaced"] == 0  # each is placed: drafted 0


def test_table_prints_the_requests_instead_of_opening_the_app(
    ngram_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["observe", ngram_server, f"--prompt={PROMPTS[1]}", "--max-new-tokens", "12"]
    status = main([*argv, "--drafter", "ngram", "--table"])
    out = capsys.readouterr().out
    assert status == 0 and "Requests, the lowest τ first" in out
    assert "= the server's, every step" in out


LAST_STEP = "the last step, where spectui drafts at most the tokens left"


def test_the_engine_with_the_verifiers_copy_rebuilds_the_ngram_servers_steps_and_traces_them(
    ngram_server: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    local = ["--verifier", str(BUNDLED_VERIFIER), "--trace", str(tmp_path / "obs.jsonl")]
    records = observe_json(ngram_server, capsys, "--drafter", "ngram", *local)
    for number, record in enumerate(records, start=1):
        assert record["divergence"] is None, record["divergence"]
        assert record["note"] is None or LAST_STEP in record["note"]  # drafted counts only
        drafting = [step for step in record["rebuilt"] if step["drafted"]]
        assert [step["accepted"] for step in drafting] == record["server"]["per_step_accepted"]
        trace = read_trace(tmp_path / f"obs-{number}.jsonl")  # spectui replay opens it
        assert len(trace.rounds) == len(record["rebuilt"])


def test_the_draft_model_servers_steps_are_rebuilt_and_each_difference_named(
    speculating_servers: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """vLLM's draft_model method with the tiny pair. spectui's first round drafts right after
    the prompt where vLLM's prefill step drafts nothing: started after the server's first
    token, the engine's steps are the server's, the last one apart (k capped by the tokens
    left)."""
    local = ["--drafter", str(BUNDLED_DRAFTER), "--verifier", str(BUNDLED_VERIFIER)]
    records = observe_json(speculating_servers["draft_model"], capsys, *local)
    for record in records:
        assert record["divergence"] is None, record["divergence"]
        assert record["note"] is None or LAST_STEP in record["note"]
        ours = [step["accepted"] for step in record["rebuilt"]]
        end = -1 if record["note"] else None  # the last step's cap, named in the note
        assert ours[:end] == record["server"]["per_step_accepted"][:end]


def test_a_server_without_per_request_metrics_is_told_how_to_start(
    vllm_servers: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["observe", vllm_servers.url, "--prompt", "It is", "--max-new-tokens", "4"])
    err = capsys.readouterr().err
    assert status == 2
    assert "--per-request-spec-decode-metrics detailed" in err and "Traceback" not in err


def test_an_unreachable_server_is_one_paragraph(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["observe", "http://127.0.0.1:9/v1", "--prompt", "It is", "--timeout", "2"])
    err = capsys.readouterr().err
    assert status == 2 and "cannot reach the speculating server at http://127.0.0.1:9/v1" in err


def test_rebuilding_by_hand_on_a_scripted_case() -> None:
    """Prompt [1, 2, 3], output [1, 2, 9, 9, 1], n = 1, k = 2. Step at output 1: the sequence
    ends in 1, whose earliest occurrence is followed by [2, 3]; the output goes on 2, 9: one
    accepted. Step at output 3: nothing before ended in 9: no drafts. Step at output 4: 9 at
    5 is followed by 9 only (never past the end): [9] against the output's 1: none accepted."""
    from spectui.engine.drafters.ngram import lookup

    steps = rebuild([1, 2, 3], [1, 2, 9, 9, 1], 2, lambda tokens, k: lookup(tokens, 1, 1, k))
    assert [(step.position, step.drafts, step.accepted) for step in steps] == [
        (1, (2, 3), 1),
        (3, (), 0),
        (4, (9,), 0),
    ]
    reading = StepReading(tuple(step.step for step in steps))
    assert reading.per_step_accepted == [1, 0, 0] and reading.per_step_drafted == [2, 0, 1]
    assert reading.tokens_per_step == [2, 1, 1]
    figures = reading.figures()
    assert figures["tau"] == pytest.approx(4 / 3)  # 4 tokens in 3 steps
    assert figures["alpha_per_judged"] == pytest.approx(1 / 3)  # judged: 2 + 0 + 1
    assert figures["draft_acceptance_rate"] == pytest.approx(1 / 3)  # drafted: 2 + 0 + 1
    assert figures["mean_acceptance_length"] == pytest.approx(1.5)  # 1 + 1 / 2 drafting steps
    same = {"per_step_accepted": [1, 0], "per_step_drafted": [2, 1]}
    assert first_divergence(reading.steps, counted_reading(same, 5).steps) is None
    other = {"per_step_accepted": [1, 1], "per_step_drafted": [2, 1]}
    divergence = first_divergence(reading.steps, counted_reading(other, 5).steps)
    assert divergence is not None
    assert divergence.words() == (
        "drafting step 2: spectui rebuilt 0/1 accepted, the server reported 1/1 accepted"
    )
    # Without a rebuild the draftless step is only counted: 5 tokens - 1 - (2 + 1) = 1.
    assert counted_reading(same, 5).unplaced_draftless == 1
