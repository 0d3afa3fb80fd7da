"""Progress of loading, fed by the libraries' own progress hooks, as the CLI shows it.

transformers' weight-loading bar is driven by loading a local model directory for real;
huggingface_hub's download bar by its own `http_get` fetching from a local HTTP server
through the `tqdm_class` hook (the hub itself is unreachable here).
"""

from __future__ import annotations

import http.server
import io
import json
import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import constants
from huggingface_hub.file_download import http_get
from tiny_models import TinyPair

from spectui.commands.progress import CommandProgress
from spectui.engine import DecodeConfig
from spectui.engine.models.loading import load_pair
from spectui.engine.models.progress import Bar, LoadCancelled, reporting

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD, honouring `Range: bytes=N-` (a resumed download), in paced writes."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        start = 0
        wanted = self.headers.get("Range")
        if wanted and wanted.startswith("bytes="):
            start = int(wanted[len("bytes=") :].split("-")[0])
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for offset in range(0, len(body), 64 * 1024):
                self.wfile.write(body[offset : offset + 64 * 1024])
                self.wfile.flush()
                time.sleep(0.02)  # a network's pace: the bar reports (every 0.1 s) as it runs
        except (BrokenPipeError, ConnectionResetError):  # the client stopped (a cancel)
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/model.safetensors"
    server.shutdown()


def test_loading_a_local_model_reports_its_weights(tiny_pair: TinyPair) -> None:
    bars: list[Bar] = []
    stages: list[str] = []
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier)
    load_pair(config, progress=stages.append, bars=bars.append)
    for role in ("drafter", "verifier"):
        own = [bar for bar in bars if bar.stage == role]
        assert own, f"no progress from the {role}'s weight loading"
        assert own[0].done == 0 and not own[0].finished
        last = own[-1]
        assert last.finished and last.total is not None and last.done == last.total > 0
        assert last.unit_name == "weights" and not last.is_download
        assert f"{last.done:.0f}/{last.total:.0f} weights" in last.summary()
    assert any("loading verifier" in stage for stage in stages)


def test_a_download_reports_bytes_rate_and_time_left(file_server: str, tmp_path: Path) -> None:
    bars: list[Bar] = []
    with reporting(bars.append, "verifier") as bar_class, open(tmp_path / "part", "wb") as file:
        # hf_hub_download names the bar by the file's name, as here
        http_get(
            file_server,
            file,
            expected_size=len(PAYLOAD),
            displayed_filename="model.safetensors",
            tqdm_class=bar_class,
        )
    assert (tmp_path / "part").read_bytes() == PAYLOAD
    assert bars[0].is_download and bars[0].done == 0 and bars[0].total == len(PAYLOAD)
    assert bars[0].label == "model.safetensors"
    last = bars[-1]
    assert last.finished and last.done == len(PAYLOAD)
    assert last.rate is not None and last.rate > 0
    assert last.amount() == "1.0/1.0 MB"  # decimal megabytes, as huggingface_hub writes them
    middle = Bar("verifier", "model.safetensors", 250e6, 500e6, "B", elapsed=10.0)
    assert middle.summary() == (
        "verifier · model.safetensors · 250.0/500.0 MB · 25.0 MB/s · 10 s left"
    )


def test_a_cancelled_download_stops_and_resumes(
    file_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface_hub reads 10 MB per progress update; a 1 MiB file needs smaller reads to stop
    # part-way, as a real model's file does
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    cancel = threading.Event()
    partial = tmp_path / "model.safetensors.incomplete"

    def cancel_after_the_first_chunk(bar: Bar) -> None:
        if bar.done > 0:
            cancel.set()

    with (
        reporting(cancel_after_the_first_chunk, "verifier", cancel) as bar_class,
        open(partial, "wb") as file,
        pytest.raises(LoadCancelled),
    ):
        http_get(file_server, file, expected_size=len(PAYLOAD), tqdm_class=bar_class)
    kept = partial.stat().st_size
    assert 0 < kept < len(PAYLOAD)  # what arrived stays, as huggingface_hub leaves it
    bars: list[Bar] = []
    with reporting(bars.append, "verifier") as bar_class, open(partial, "ab") as file:
        http_get(
            file_server,
            file,
            resume_size=kept,
            expected_size=len(PAYLOAD),
            tqdm_class=bar_class,
        )
    assert partial.read_bytes() == PAYLOAD
    assert bars[0].done == kept  # the bar starts where the partial file ended


def test_plain_lines_without_a_terminal() -> None:
    stream = io.StringIO()
    with CommandProgress("spectui", stream) as progress:
        progress.say("loading verifier x")
        for done in range(0, 101):
            progress.bar(Bar("verifier", "Loading weights", done, 100, "it", elapsed=1.0))
        progress.bar(Bar("verifier", "Loading weights", 100, 100, "it", 1.0, finished=True))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "spectui: loading verifier x",
        "spectui: verifier · Loading weights · 0/100 weights",  # opened (then quiet for 5 s)
        "spectui: verifier · Loading weights · 100/100 weights · 100 weights/s · done",
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_bars_on_a_terminal() -> None:
    stream = Terminal()
    with CommandProgress("spectui", stream) as progress:
        assert progress.live
        progress.say("loading verifier x")
        progress.bar(Bar("verifier", "model.safetensors", 5e6, 10e6, "B", elapsed=1.0))
        progress.bar(Bar("verifier", "model.safetensors", 10e6, 10e6, "B", 2.0, finished=True))
    shown = stream.getvalue()
    assert "spectui: loading verifier x" in shown
    assert "verifier · model.safetensors" in shown
    assert "10.0/10.0 MB · 5.0 MB/s · done" in shown
    assert "━" in shown  # a drawn bar


def test_run_json_stdout_stays_json_with_a_terminal_on_stderr() -> None:
    """`spectui run --json` with stderr a terminal: bars go there, stdout is JSON Lines only."""
    controller, terminal = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "spectui.cli", "run", "--json", "--max-new-tokens", "8"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        timeout=120,
        env={**os.environ, "COLUMNS": "80", "LINES": "24"},
    )
    os.close(terminal)
    shown = b""
    try:
        while chunk := os.read(controller, 65536):
            shown += chunk
    except OSError:  # the terminal's writer is gone
        pass
    os.close(controller)
    assert done.returncode == 0
    lines = done.stdout.decode().splitlines()
    assert lines and all(json.loads(line)["event"] in ("round", "done") for line in lines)
    assert b"Loading weights" in shown and b"weights" in shown
