"""`spectui bench --verifier-url`: per-round latency with the verifier served vs loaded here."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("httpx", reason="the remote verifier needs httpx")

from vllm_servers import Servers  # noqa: E402

from spectui.cli import main  # noqa: E402

pytestmark = pytest.mark.vllm


def test_bench_reports_remote_against_local_rounds(vllm_servers: Servers, capsys: Any) -> None:
    argv = ["bench", "--verifier-url", vllm_servers.url, "--quick", "--max-new-tokens", "24"]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["same_output"] is True  # the same model, greedy-exact: the same text
    local, remote = result["sides"]["local"], result["sides"]["remote"]
    assert local["rounds"] == remote["rounds"] > 0
    assert local["median_round_ms"] > 0 and remote["median_round_ms"] > 0
    assert result["remote_over_local_round"] == pytest.approx(
        remote["median_round_ms"] / local["median_round_ms"]
    )
    rows = result["by_context"]
    assert rows and sum(row["remote_rounds"] for row in rows) == remote["rounds"]
    assert main(argv) == 0
    assert "remote / local, median round" in capsys.readouterr().out
