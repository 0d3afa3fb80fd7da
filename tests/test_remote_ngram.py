"""`--drafter ngram` with the verifier on a real vLLM server: the same decode as here.

The session's server on the bundled verifier, shared with the other -m vllm tests (or
$SPECTUI_VLLM_URL's): the lookup runs here over the token ids, the server scores each round,
rounds with no n-gram match send the sequence alone and take the server's next token.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("httpx", reason="the remote verifier needs httpx")

from vllm_servers import Servers  # noqa: E402

from spectui.cli import main  # noqa: E402

pytestmark = pytest.mark.vllm
PROMPTS = [
    "Once upon a time, there was a time,",
    "It is",
    "The capital of France is Paris. The capital of",
    "She walked into the room and looked around. She walked",
]


@pytest.fixture(scope="module")
def verifier_url(vllm_servers: Servers) -> str:
    """The session's plain server on the bundled verifier (tests/vllm_servers.py)."""
    return vllm_servers.url


def run_json(capsys: Any, *argv: str) -> list[dict[str, Any]]:
    status = main(["run", *argv, "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return [json.loads(line) for line in captured.out.splitlines()]


def by_prompt(lines: list[dict[str, Any]], event: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if line["event"] == event:
            grouped.setdefault(line["prompt"], []).append(line)
    return grouped


@pytest.mark.parametrize("policy", ["greedy", "soft"])
def test_ngram_drafts_verified_by_the_server_decode_as_here(
    verifier_url: str, capsys: Any, policy: str
) -> None:
    common = ["--drafter", "ngram", "--policy", policy, "--max-new-tokens", "24"]
    common += [arg for prompt in PROMPTS for arg in ("--prompt", prompt)]
    local = run_json(capsys, *common)
    served = run_json(capsys, "--verifier-url", verifier_url, *common)
    done_here, done_there = by_prompt(local, "done"), by_prompt(served, "done")
    assert len(done_here) == len(PROMPTS)
    assert {p: d[0]["output_ids"] for p, d in done_there.items()} == {
        p: d[0]["output_ids"] for p, d in done_here.items()
    }
    rounds_here, rounds_there = by_prompt(local, "round"), by_prompt(served, "round")
    for prompt in PROMPTS:
        here = [(r["draft_ids"], r["appended_ids"]) for r in rounds_here[prompt]]
        there = [(r["draft_ids"], r["appended_ids"]) for r in rounds_there[prompt]]
        assert there == here, prompt  # the same drafts, the same tokens, round by round
    drafts = [r["draft_ids"] for rounds in rounds_there.values() for r in rounds]
    assert any(not d for d in drafts) and any(d for d in drafts)  # both kinds of round ran
