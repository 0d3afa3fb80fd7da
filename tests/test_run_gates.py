"""`spectui run --gates` in a pipe: every field whole, in each --gates-format, parsed back."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tiny_models import TinyPair

from spectui.commands.gate_table import write_gates
from spectui.engine.policy.registry import all_gates, policy_names
from spectui.engine.trace.reader import read_trace

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "She walked into the"


def run_piped(pair: TinyPair, tmp_path: Path, *extra: str) -> tuple[str, Any]:
    """`spectui run --gates` with stdout a pipe (this checkout's code), and its trace."""
    trace = tmp_path / f"t{len(list(tmp_path.iterdir()))}.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "spectui.cli", "run", "--drafter", pair.drafter,
         "--verifier", pair.verifier, "--policy", "greedy", "--max-new-tokens", "16",
         "--prompt", PROMPT, "--gates", "--trace", str(trace), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout, read_trace(trace)


def expected_rows(trace: Any) -> list[dict[str, str]]:
    """Every check of the trace as the table must write it."""
    rows = []
    for event in trace.rounds:
        for check in event.checks:
            row = {
                "prompt": "1",
                "round": str(event.round_index + 1),
                "#": str(check.position + 1),
                "token": json.dumps(trace.token_text(check.token_id), ensure_ascii=False),
                "q": f"{check.q:.4f}",
                "p": f"{check.p:.4f}",
                "rank": str(check.rank),
                "top-1": json.dumps(trace.token_text(check.top1_id), ensure_ascii=False),
                "p₁": f"{check.p_top1:.4f}",
                "Δ": f"{check.margin:.4f}",
            }
            row.update({gate.key: "✓" if check.gates[gate.key] else "✗" for gate in all_gates()})
            row.update({name: "✓" if check.verdicts[name] else "✗" for name in policy_names()})
            rows.append(row)
    return rows


def parse_aligned(out: str) -> list[dict[str, str]]:
    """The plain aligned table: column spans from its rule line of dashes."""
    lines = out.splitlines()
    rule_at = next(n for n, line in enumerate(lines) if line.startswith("------"))
    rule, header = lines[rule_at], lines[rule_at - 1]
    spans, start = [], 0
    for run in rule.split("  "):
        if run:
            spans.append((start, start + len(run)))
        start += len(run) + 2
    names = [header[a:b].strip() for a, b in spans]
    rows = []
    for line in lines[rule_at + 1 :]:
        if not line.strip():
            break
        rows.append({name: line[a:b].strip() for name, (a, b) in zip(names, spans, strict=True)})
    return rows


def test_piped_gates_table_writes_every_field_whole(tiny_pair: TinyPair, tmp_path: Path) -> None:
    out, trace = run_piped(tiny_pair, tmp_path)
    assert "…" not in out, out
    first = out.splitlines()[0]
    assert tiny_pair.drafter in first and tiny_pair.verifier in first, "the header never wraps"
    expected = expected_rows(trace)
    assert parse_aligned(out) == expected
    # In an 80-column terminal: what greedy-exact does not use gives way, whole columns only.
    shown = io.StringIO()
    write_gates(shown, [(1, event) for event in trace.rounds], "greedy", trace.token_text, width=80)
    text = shown.getvalue()
    table = text.split("\n\n")[0]
    assert all(len(line) <= 80 for line in table.splitlines()), table
    kept = parse_aligned(text)
    assert kept and set(kept[0]) >= {"prompt", "round", "#", "token", "top-1", "greedy"}
    assert "relaxed_delta" not in kept[0] and "too narrow for" in text
    assert [{k: row[k] for k in kept[0]} for row in expected] == kept


@pytest.mark.parametrize("form", ["tsv", "markdown"])
def test_gates_format_tsv_and_markdown_parse_back(
    tiny_pair: TinyPair, tmp_path: Path, form: str
) -> None:
    out, trace = run_piped(tiny_pair, tmp_path, "--gates-format", form)
    lines = out.splitlines()
    if form == "tsv":
        start = next(n for n, line in enumerate(lines) if line.startswith("prompt\tround\t"))
        block = []
        for line in lines[start:]:
            if not line:
                break
            block.append(line)
        parsed = list(csv.DictReader(block, delimiter="\t", quoting=csv.QUOTE_NONE))
    else:
        start = next(n for n, line in enumerate(lines) if line.startswith("| prompt | round |"))
        cells = [
            [cell.strip().replace("\\|", "|") for cell in line.strip()[1:-1].split(" | ")]
            for line in lines[start:]
            if line.startswith("|")
        ]
        parsed = [dict(zip(cells[0], row, strict=True)) for row in cells[2:]]
    assert parsed == expected_rows(trace)
