"""A bad `spectui run` argument is refused at once: before torch, naming the flag, with the
sub-command's usage (issue 23, item 7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "tests" / "data" / "trace-v1-soft.jsonl"

# Runs in a fresh interpreter: each argv through cli.main, then whether torch was imported.
PROBE = """
import contextlib, io, json, sys, time
from spectui.cli import main
argv = json.loads(sys.argv[1])
err = io.StringIO()
started = time.monotonic()
with contextlib.redirect_stderr(err):
    try:
        status = main(argv)
    except SystemExit as exit:
        status = exit.code
print(json.dumps({"status": status, "stderr": err.getvalue(), "seconds": time.monotonic() - started,
                  "torch": "torch" in sys.modules}))
"""


def refused(*argv: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(argv))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "--draft-span", "0"], ["--draft-span must be an integer 1..64, got 0"]),
        (["run", "--p-thresh", "2"], ["--p-thresh"]),
        (["run", "--prompts-file", "no-such-file.txt"], ["--prompts-file", "no-such-file.txt"]),
        (["run", "--trace", "/no/such/dir/t.jsonl"], ["--trace", "/no/such/dir"]),
    ],
    ids=["draft-span", "p-thresh", "prompts-file", "trace"],
)
def test_run_refuses_a_bad_argument_before_torch_with_its_usage(
    argv: list[str], words: list[str]
) -> None:
    answer = refused(*argv)
    stderr = str(answer["stderr"])
    assert answer["status"] == 2, answer
    assert not answer["torch"], "validated before torch is imported"
    assert stderr.startswith("usage: spectui run"), stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("spectui run: error: "), last
    assert all(word in last for word in words), last
    assert "draft_span" not in last, "the flag, not the internal field"


def test_a_trace_given_to_sweep_points_to_replay() -> None:
    answer = refused("--sweep", str(TRACE))
    assert answer["status"] == 2 and not answer["torch"], answer
    assert f"spectui replay {TRACE}" in str(answer["stderr"]), answer
