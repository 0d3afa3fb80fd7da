"""Whole decodes through a verifier served by a real vLLM server, against the local verifier.

The server serves the bundled verifier (tests/vllm_servers.py); the bundled drafter runs
here. Greedy-exact must give the local decode token for token, soft-guarded the same verdicts
with every gate check's p within 1e-4, and each fault a one-paragraph message.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx", reason="the remote verifier needs httpx")

import torch  # noqa: E402
from vllm_servers import API_KEY, Servers, free_port  # noqa: E402

from spectui.cli import SEED_PROMPTS, main  # noqa: E402
from spectui.engine import DecodeConfig, load_pair  # noqa: E402
from spectui.engine.models.local import LocalVerifier  # noqa: E402
from spectui.engine.remote.seams import RemoteVerifier  # noqa: E402
from spectui.models import BUNDLED_DRAFTER  # noqa: E402

pytestmark = pytest.mark.vllm
TOKENS = "64"


def run_json(capsys: Any, *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    """`spectui run ... --json` in this process: status, the JSON lines, stderr."""
    status = main(["run", *argv, "--json"])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def prompt_args() -> list[str]:
    return [arg for prompt in SEED_PROMPTS for arg in ("--prompt", prompt)]


def done_lines(lines: list[dict[str, Any]]) -> dict[str, tuple[int, ...]]:
    return {line["prompt"]: tuple(line["output_ids"]) for line in lines if line["event"] == "done"}


@pytest.fixture(scope="module")
def servers(vllm_servers: Servers) -> Servers:
    return vllm_servers


def test_greedy_exact_through_the_server_is_the_local_decode(servers: Servers, capsys: Any) -> None:
    common = ["--policy", "greedy", "--max-new-tokens", TOKENS, *prompt_args()]
    status, local, _ = run_json(capsys, *common)
    assert status == 0
    status, remote, err = run_json(capsys, "--verifier-url", servers.url, *common)
    assert status == 0, err
    assert done_lines(remote) == done_lines(local)
    assert len(done_lines(local)) == len(SEED_PROMPTS)


def test_both_models_on_servers_decode_as_both_here(servers: Servers, capsys: Any) -> None:
    assert servers.drafter_url is not None
    common = ["--policy", "greedy", "--max-new-tokens", "32", *prompt_args()[:4]]
    _, local, _ = run_json(capsys, *common)
    served = ["--verifier-url", servers.url, "--drafter-url", servers.drafter_url]
    status, remote, err = run_json(capsys, *served, *common)
    assert status == 0, err
    assert done_lines(remote) == done_lines(local) and len(done_lines(local)) == 2


def test_speculative_sampling_agrees_with_the_local_decode_up_to_its_first_correction(
    servers: Servers, capsys: Any
) -> None:
    """The acceptance coins are spectui's own and p is the same: the same verdicts, in order,
    up to the first rejection (whose residual draw is the server's)."""
    common = ["--policy", "sample", "--seed", "11", "--max-new-tokens", "48", *prompt_args()]
    _, local, _ = run_json(capsys, *common)
    status, remote, err = run_json(capsys, "--verifier-url", servers.url, *common)
    assert status == 0, err
    compared = 0
    for prompt in SEED_PROMPTS:
        here = [
            c
            for line in local
            if line.get("prompt") == prompt and line["event"] == "round"
            for c in line["checks"]
        ]
        there = [
            c
            for line in remote
            if line.get("prompt") == prompt and line["event"] == "round"
            for c in line["checks"]
        ]
        for a, b in zip(here, there, strict=False):
            assert a["chance"]["uniform"] == b["chance"]["uniform"]
            assert abs(a["p"] - b["p"]) < 1e-4 and a["accepted"] == b["accepted"]
            compared += 1
            if not a["accepted"]:
                break
    assert compared >= len(SEED_PROMPTS)


def test_soft_guarded_through_the_server_judges_as_the_local_verifier(
    servers: Servers, capsys: Any
) -> None:
    common = ["--policy", "soft", "--max-new-tokens", TOKENS, *prompt_args()]
    _, local, _ = run_json(capsys, *common)
    status, remote, err = run_json(capsys, "--verifier-url", servers.url, *common)
    assert status == 0, err
    pairs = [
        (here, there)
        for a, b in zip(local, remote, strict=True)
        if a["event"] == "round"
        for here, there in zip(a["checks"], b["checks"], strict=True)
    ]
    assert len(pairs) > 100
    worst = max(abs(here["p"] - there["p"]) for here, there in pairs)

    # Typical acceptance's H is a lower bound through the server (its top-N and the rest as
    # one bucket): its bar can only be higher there, so what the server accepts, local does.
    def exact_verdicts(check: dict[str, Any]) -> dict[str, bool]:
        return {name: v for name, v in check["verdicts"].items() if name != "typical"}

    exact = [
        (h["p"], t["p"], h["margin"]) for h, t in pairs if exact_verdicts(h) != exact_verdicts(t)
    ]
    assert worst < 1e-4, worst
    assert exact == [], exact  # a verdict flip would need a p within 1e-4 of a gate
    for here, there in pairs:
        assert here["verdicts"]["typical"] or not there["verdicts"]["typical"]
        assert here["entropy"] >= there["entropy"] - 1e-4
    assert done_lines(remote) == done_lines(local)


def test_residual_draws_follow_the_local_residual(servers: Servers) -> None:
    """Speculative sampling's correction: draws from p with the draft removed, as local p says."""
    pair = load_pair(DecodeConfig())
    tokens = pair.tokenizer("Once upon a time, there was a").input_ids
    local = LocalVerifier(pair.verifier, pair.device)
    local.prefill(tokens[:-1])
    draft = local.score(tokens, [], 10).rows[0]  # [vocab]: p after the context
    rejected = int(torch.argmax(draft))
    residual = draft.clone()
    residual[rejected] = 0.0
    residual /= residual.sum()
    generator = torch.Generator().manual_seed(5)
    with RemoteVerifier(servers.url) as remote:
        scored = remote.score(tokens, [rejected], 10)
        draws = Counter(scored.sample(0, generator, rejected) for _ in range(300))
    assert rejected not in draws
    top = torch.topk(residual, 5).indices.tolist()
    cells = [(draws[token], float(residual[token])) for token in top]
    cells.append((300 - sum(n for n, _ in cells), 1.0 - sum(p for _, p in cells)))
    chi2 = sum((n - 300 * p) ** 2 / (300 * p) for n, p in cells)
    assert chi2 < 20.5, (chi2, cells)  # 5 degrees of freedom: p < 0.001 by chance


def test_a_trace_of_a_remote_decode_names_the_server_and_replays(
    servers: Servers, tmp_path: Path, capsys: Any
) -> None:
    from spectui.engine.trace.reader import read_trace

    path = tmp_path / "remote.jsonl"
    argv = ["--verifier-url", servers.url, "--max-new-tokens", "16", "--prompt", SEED_PROMPTS[0]]
    status, _, err = run_json(capsys, *argv, "--policy", "soft", "--trace", str(path))
    assert status == 0, err
    trace = read_trace(path)
    assert trace.header.config.verifier_url == servers.url
    assert trace.header.config.verifier_model  # the served model's name, as the server gave it
    assert trace.done is not None and len(trace.done.output_ids) == 16


# --- faults, each a one-paragraph message and exit status 2 -----------------------------------


def fails(capsys: Any, *argv: str) -> str:
    status, lines, err = run_json(capsys, *argv, "--max-new-tokens", "4", "--prompt", "Hi")
    assert status == 2 and not lines, (status, lines, err)
    *stages, message = err.splitlines()  # the loading stages on stderr, then the one paragraph
    assert all(stage.startswith("spectui: ") for stage in stages), err
    assert message.startswith("spectui: ") and "Traceback" not in err, err
    return message


def test_a_stopped_server_is_named(capsys: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert "cannot reach the verifier server" in fails(capsys, "--verifier-url", url)


def test_a_wrong_model_name_lists_the_served_ones(servers: Servers, capsys: Any) -> None:
    err = fails(capsys, "--verifier-url", servers.url, "--verifier-model", "no-such-model")
    assert "no-such-model" in err and "verifier" in err


def test_a_drafter_whose_tokenizer_differs_is_refused(
    servers: Servers, tiny_pair: Any, capsys: Any
) -> None:
    err = fails(capsys, "--verifier-url", servers.url, "--drafter", tiny_pair.drafter)
    assert "tokenizer differs" in err


def test_a_top_k_gate_past_max_logprobs_is_explained(servers: Servers, capsys: Any) -> None:
    err = fails(capsys, "--verifier-url", servers.url, "--policy", "soft", "--topk-gate", "60")
    assert "--max-logprobs" in err


def test_a_request_that_times_out_is_explained(capsys: Any) -> None:
    """A server that accepts the connection and never answers: --timeout ends the wait."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with _quietly():
            while True:
                held.append(silent.accept()[0])  # read nothing, answer nothing

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
    try:
        err = fails(capsys, "--verifier-url", url, "--timeout", "0.5")
    finally:
        with _quietly():
            silent.shutdown(socket.SHUT_RDWR)
        silent.close()
        for sock in held:
            sock.close()
    assert "timeout" in err.lower() or "timed out" in err.lower() or "did not answer" in err


def test_sampled_drafts_with_a_served_verifier_are_refused_at_once(
    servers: Servers, capsys: Any
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--verifier-url", servers.url, "--sample-draft", "--prompt", "Hi"])
    assert "whole distribution" in capsys.readouterr().err


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_a_missing_or_wrong_key_is_refused(
    servers: Servers, capsys: Any, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    assert servers.key_url is not None
    for name in ("SPECTUI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    err = fails(capsys, "--verifier-url", servers.key_url, *(["--api-key", key] if key else []))
    assert "API key is missing or wrong" in err
    assert API_KEY not in err and (key is None or key not in err)


def test_a_keyed_decode_writes_the_key_nowhere(
    servers: Servers, capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key from the environment works, and no output, trace or message holds it."""
    assert servers.key_url is not None
    monkeypatch.setenv("SPECTUI_API_KEY", API_KEY)
    trace = tmp_path / "keyed.jsonl"
    argv = ["--verifier-url", servers.key_url, "--max-new-tokens", "12", "--prompt", "Hi"]
    status = main(["run", *argv, "--policy", "soft", "--json", "--trace", str(trace)])
    out, err = capsys.readouterr()
    assert status == 0, err
    status = main(["run", *argv, "--policy", "greedy", "--gates"])
    human, human_err = capsys.readouterr()
    assert status == 0, human_err
    for text in (out, err, human, human_err, trace.read_text()):
        assert API_KEY not in text
    assert json.loads(out.splitlines()[-1])["event"] == "done"


# --- the app on a served verifier -------------------------------------------------------------


class Forwarder:
    """A loopback TCP relay in front of the server: closing it is the server dying mid-decode."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with _quietly():  # wakes the accept() blocked in the relay's thread (Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for sock in self._sockets:
            with _quietly():
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


class _quietly:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    with _quietly():
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def relay(servers: Servers) -> Iterator[Forwarder]:
    port = int(servers.url.rsplit(":", 1)[1].split("/")[0])
    forwarder = Forwarder(port)
    forwarder.start()
    yield forwarder
    forwarder.stop()


def test_the_app_steps_and_retunes_on_a_served_verifier(relay: Forwarder) -> None:
    import asyncio

    from spectui.app.app import SpectuiApp
    from spectui.app.widgets import StatusHeader

    url = f"http://127.0.0.1:{relay.port}/v1"
    config = DecodeConfig(verifier_url=url, drafter=str(BUNDLED_DRAFTER), max_new_tokens=200)

    async def scenario() -> None:
        app = SpectuiApp(config, SEED_PROMPTS[0], timings=False)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.decode_screen
            await screen.settled()
            assert f"@ {url}" in screen.state.models  # the models line names the model and server
            assert f"verifier @ 127.0.0.1:{relay.port}" in screen.status_text  # so does the header
            header = pilot.app.screen.query_one(StatusHeader)
            assert f"127.0.0.1:{relay.port}" in str(header.render())
            for key in ("space", "space", "enter", "t", "enter"):
                await pilot.press(key)
                await screen.settled()
            assert screen.state.config.policy == "sample" and screen.state.error is None
            assert screen.state.decode.stats is not None and screen.state.decode.stats.rounds == 2
            rounds = len(screen.state.event_log.rounds)  # type: ignore[union-attr]
            relay.stop()  # the server goes away mid-decode
            await pilot.press("enter")
            await screen.settled()
            assert screen.state.phase == "error" and "cannot reach" in (screen.state.error or "")
            assert len(screen.state.event_log.rounds) == rounds  # type: ignore[union-attr]
            relay.start()  # it is back: a retry goes on from the round that failed
            await pilot.press("ctrl+r")
            await screen.settled()
            await pilot.press("enter")
            await screen.settled()
            assert screen.state.error is None
            assert len(screen.state.event_log.rounds) == rounds + 1  # type: ignore[union-attr]

    asyncio.run(scenario())
