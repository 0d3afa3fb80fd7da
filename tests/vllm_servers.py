"""Real vLLM servers for the tests (scripts/vllm/serve.sh), started once per test session.

The `vllm_servers` fixture (tests/conftest.py) starts the plain server on the bundled
verifier and one started with --api-key, both at once (their start-ups share the CPU's
minute), or uses the one at $SPECTUI_VLLM_URL; tests that need them skip when the venv that
scripts/vllm/install.sh makes is missing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts" / "vllm"
VENV = Path(os.environ.get("SPECTUI_VLLM_VENV", "/opt/spectui-vllm"))
SERVED_NAME = str(BUNDLED_VERIFIER)  # vLLM names a model by the path it was given
API_KEY = "secret-xyz"
START_TIMEOUT_S = 300  # serve.sh waits 240 s itself; this bounds the script as a whole
# How the tests start vLLM, on top of serve.sh's own settings: eager PyTorch (no torch.compile
# trace and warm-up, 20-90 s of CPU per server: the tiny models need none of it) and the model
# worker inside the engine's process (two interpreters importing torch and vLLM, not three).
# The same server, API and float32 scores (the trace ran the same aten ops), and requests as
# fast; start-up drops from ~70 s to ~30 s per server alone on 2 cores.
FAST_START_ARGS = ("--enforce-eager", "--distributed-executor-backend", "uni")

# --- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    """One vLLM server serve.sh started (or was asked to start) on 127.0.0.1."""

    port: int
    run_dir: Path
    model: str = SERVED_NAME  # the directory served (vLLM names the model by it)
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, *extra: str) -> None:
        """Run serve.sh in the background: it returns once the server answers."""
        command = [
            "bash", str(SCRIPTS / "serve.sh"), self.model, str(self.port),
            *FAST_START_ARGS, *extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait(self) -> None:
        """Wait for serve.sh; fail with its output (the log's tail) if the server did not start."""
        assert self.process is not None
        try:
            output, _ = self.process.communicate(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        if self.process.returncode != 0:
            pytest.fail(f"the vLLM server on port {self.port} did not start:\n{output}")

    def stop(self) -> None:
        """Stop the server (stop.sh ends its whole process group)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        subprocess.run(
            ["bash", str(SCRIPTS / "stop.sh"), str(self.port)],
            env=self._env(),
            check=False,
            capture_output=True,
            timeout=60,
        )

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SPECTUI_VLLM_VENV": str(VENV),
            "SPECTUI_VLLM_RUN_DIR": str(self.run_dir),
        }


@dataclass(frozen=True)
class Servers:
    """The URLs the tests talk to: the plain server, and one started with --api-key."""

    url: str
    key_url: str | None
    drafter_url: str | None = None  # the bundled drafter served too


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The vLLM servers, started at once: their start-ups share the CPU's minute.

    The bundled verifier (plain, and with --api-key) and the bundled drafter.
    """
    given = os.environ.get("SPECTUI_VLLM_URL")
    has_venv = (VENV / "bin" / "python").exists()
    if not given and not has_venv:
        pytest.skip(
            f"no vLLM venv at {VENV}: run scripts/vllm/install.sh (or set SPECTUI_VLLM_URL)"
        )
    run_dir = tmp_path_factory.mktemp("vllm")
    started: list[Server] = []
    main = None if given else Server(free_port(), run_dir)
    keyed = Server(free_port(), run_dir) if has_venv else None
    drafter = Server(free_port(), run_dir, str(BUNDLED_DRAFTER)) if has_venv else None
    try:
        if main is not None:
            main.start()
            started.append(main)
        if keyed is not None:
            keyed.start("--api-key", API_KEY)
            started.append(keyed)
        if drafter is not None:
            drafter.start()
            started.append(drafter)
        for server in started:
            server.wait()
        url = given if given else main.url if main else ""
        yield Servers(
            url=url,
            key_url=keyed.url if keyed else None,
            drafter_url=drafter.url if drafter else None,
        )
    finally:
        for server in started:
            server.stop()


# --- servers that speculate (`spectui observe`) --------------------------------------------

NGRAM_CONFIG = {
    "method": "ngram",
    "num_speculative_tokens": 3,
    "prompt_lookup_max": 3,
    "prompt_lookup_min": 1,
}
DRAFT_MODEL_CONFIG = {
    "method": "draft_model",
    "model": str(BUNDLED_DRAFTER),
    "num_speculative_tokens": 4,
}
# The prompts observed (greedy, 40 tokens): one that repeats itself (n-gram lookup matches),
# one that nearly does, and one that does not.
PROMPTS = (
    "It is a truth universally acknowledged, that a single man in possession of a good "
    "fortune, must be in want of a wife. It is a truth",
    "She walked into the room, and she walked into the",
    "Once upon a time,",
)


def start_speculating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The bundled verifier served twice, speculating by n-gram lookup and by the bundled
    drafter, both started at once (their start-ups share the CPU's minute); their URLs."""
    if not (VENV / "bin" / "python").exists():
        pytest.skip(f"no vLLM venv at {VENV}: run scripts/vllm/install.sh")
    run_dir = tmp_path_factory.mktemp("vllm-speculating")
    servers = {"ngram": Server(free_port(), run_dir), "draft_model": Server(free_port(), run_dir)}
    configs = {"ngram": NGRAM_CONFIG, "draft_model": DRAFT_MODEL_CONFIG}
    try:
        for name, server in servers.items():
            server.start(
                "--speculative-config",
                json.dumps(configs[name]),
                "--per-request-spec-decode-metrics",
                "detailed",
            )
        for server in servers.values():
            server.wait()
        yield {name: server.url for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
