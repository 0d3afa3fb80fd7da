"""The remote drafter against a real vLLM server (marked `vllm`) and against canned answers.

The `vllm` tests start vLLM's OpenAI server on the bundled drafter with scripts/vllm/serve.sh
(or use the one at $SPECTUI_VLLM_DRAFTER_URL) and check that its drafts are the local
drafter's: the same greedy ids, q within 1e-4, the same cut at the stop token, and the same
rounds in a whole decode. They skip when the venv that scripts/vllm/install.sh makes is
missing. The canned-answer tests need no server.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from vllm_servers import Servers

pytest.importorskip("httpx", reason="the remote drafter needs httpx")

import httpx  # noqa: E402
import torch  # noqa: E402

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair  # noqa: E402
from spectui.engine.events import RoundFinished  # noqa: E402
from spectui.engine.models.local import LocalDrafter
from spectui.engine.remote.seams import RemoteDrafter, RemoteError, RemoteSamplingError  # noqa: E402
from spectui.engine.seams import Proposal  # noqa: E402
from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts" / "vllm"
VENV = Path(os.environ.get("SPECTUI_VLLM_VENV", "/opt/spectui-vllm"))
START_TIMEOUT_S = 300  # serve.sh waits 240 s itself; this bounds the script as a whole
CONTEXTS = (
    "Once upon a time, there was a little",
    "The cat sat on the",
    'She said, "I',
    "It is",
)
DECODE_PROMPTS = ("Once upon a time, there was a little", "Tom and his dog went to the park.")


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(vllm_servers: Servers) -> str:
    """The session's vLLM server on the bundled drafter, or $SPECTUI_VLLM_DRAFTER_URL."""
    given = os.environ.get("SPECTUI_VLLM_DRAFTER_URL") or vllm_servers.drafter_url
    if not given:
        pytest.skip("no vLLM server on the bundled drafter")
    return given


@pytest.fixture(scope="module")
def remote(server_url: str) -> Iterator[RemoteDrafter]:
    with RemoteDrafter(server_url, timeout=30.0) as drafter:
        yield drafter


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    """The pair's tokenizer (the verifier's, as `load_pair` gives both models)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(BUNDLED_VERIFIER)


@pytest.fixture(scope="module")
def local_model() -> Any:
    """The bundled drafter in float32, the precision serve.sh gives vLLM and load_pair gives us.

    (Left to itself, from_pretrained keeps the float16 of the drafter's config.)
    """
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(BUNDLED_DRAFTER, dtype=torch.float32).eval()


def local_proposal(model: Any, tokens: list[int], k: int, stop_id: int | None) -> Proposal:
    """LocalDrafter's greedy drafts, used as the decode loop uses it (prefill, then propose)."""
    drafter = LocalDrafter(model, torch.device("cpu"))
    drafter.prefill(tokens[:-1])
    with torch.no_grad():
        return drafter.propose(tokens, k, None, stop_id)


def remote_proposal(drafter: RemoteDrafter, tokens: list[int], k: int, stop_id: int | None) -> Any:
    drafter.prefill(tokens[:-1])
    return drafter.propose(tokens, k, None, stop_id)


# --- against the real server ---------------------------------------------------------------


@pytest.mark.vllm
@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("prompt", CONTEXTS)
def test_drafts_are_the_local_drafters(
    remote: RemoteDrafter, tokenizer: Any, local_model: Any, prompt: str, k: int
) -> None:
    tokens = tokenizer.encode(prompt)
    eos = tokenizer.eos_token_id  # what the decode loop passes as stop_id
    served = remote_proposal(remote, tokens, k, eos)
    local = local_proposal(local_model, tokens, k, eos)
    assert served.ids == local.ids
    assert served.q == pytest.approx(local.q, abs=1e-4)
    assert served.rows is None
    assert remote.cached_length == len(tokens) + k - 1  # what the local drafter has cached


@pytest.mark.vllm
def test_the_stop_token_cuts_the_drafts_as_local_drafting_does(
    remote: RemoteDrafter, tokenizer: Any, local_model: Any
) -> None:
    tokens = tokenizer.encode(CONTEXTS[0])
    greedy = local_proposal(local_model, tokens, 5, None).ids
    stop_id = greedy[2]
    end = greedy.index(stop_id) + 1  # the first time it appears
    assert end < 5, greedy
    served = remote_proposal(remote, tokens, 5, stop_id)
    local = local_proposal(local_model, tokens, 5, stop_id)
    assert served.ids == local.ids == greedy[:end]
    assert served.q == pytest.approx(local.q, abs=1e-4)
    assert remote.cached_length == len(tokens) + end - 1


@pytest.mark.vllm
def test_the_server_tokenizes_as_the_pair_and_holds_the_whole_context(
    remote: RemoteDrafter, tokenizer: Any
) -> None:
    remote.check_tokenizer(tokenizer)
    assert remote.model.endswith("spectui/models/drafter")  # the only model: picked unnamed
    assert remote.context_length == 256  # --max-model-len 256: the drafts are the generated


@pytest.mark.vllm
def test_a_wrong_model_name_lists_the_served_ones(server_url: str, remote: RemoteDrafter) -> None:
    with (
        RemoteDrafter(server_url, model="no-such-model") as drafter,
        pytest.raises(
            RemoteError, match="drafter server .* does not serve the model 'no-such-model'"
        ),
    ):
        drafter.check()


@pytest.mark.vllm
def test_a_port_with_no_server_cannot_be_reached() -> None:
    with (
        RemoteDrafter(f"http://127.0.0.1:{free_port()}/v1", timeout=5.0) as drafter,
        pytest.raises(RemoteError, match="cannot reach the drafter server") as caught,
    ):
        drafter.propose([1, 2, 3], 3, None, None)
    assert "serve.sh" in str(caught.value)


@pytest.fixture(scope="module")
def pair() -> Any:
    """The bundled pair, loaded here: its local verifier checks the served drafter's drafts."""
    return load_pair(DecodeConfig())


def rounds(decoder: SpeculativeDecoder) -> list[RoundFinished]:
    return [event for event in decoder.events() if isinstance(event, RoundFinished)]


@pytest.mark.vllm
@pytest.mark.parametrize("prompt", DECODE_PROMPTS)
def test_a_decode_with_the_served_drafter_is_the_local_decode(
    server_url: str, pair: Any, prompt: str
) -> None:
    config = DecodeConfig(policy="greedy", max_new_tokens=32)
    local = SpeculativeDecoder(pair, config, prompt)
    local_rounds = rounds(local)
    with RemoteDrafter(server_url) as drafter:
        served = SpeculativeDecoder(pair, config, prompt, drafter=drafter)
        served_rounds = rounds(served)
    assert len(served.output_ids) == 32
    assert served.output_ids == local.output_ids
    # Not only the verifier's greedy text (which any drafter gives): the same rounds.
    assert [r.draft_ids for r in served_rounds] == [r.draft_ids for r in local_rounds]
    assert [r.n_accepted for r in served_rounds] == [r.n_accepted for r in local_rounds]
    for ours, theirs in zip(served_rounds, local_rounds, strict=True):
        assert ours.q == pytest.approx(theirs.q, abs=1e-4)


# --- against canned answers (no server) ----------------------------------------------------

Handler = Callable[[dict[str, Any]], dict[str, Any]]
MODELS = {"object": "list", "data": [{"id": "m", "object": "model", "max_model_len": 64}]}


def canned(answer: Handler, seen: list[dict[str, Any]] | None = None) -> httpx.MockTransport:
    """/v1/models lists one model; /v1/completions answers `answer(body)` (bodies go to `seen`)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        return httpx.Response(200, json=answer(body))

    return httpx.MockTransport(handle)


def generated(ids: list[int], logprob: float = -0.5) -> dict[str, Any]:
    """A well-formed vLLM answer that generated `ids`, each with `logprob`."""
    tokens = [f"token_id:{token}" for token in ids]
    logprobs = {"tokens": tokens, "token_logprobs": [logprob] * len(ids)}
    return {"choices": [{"token_ids": ids, "logprobs": logprobs}]}


def test_the_request_stops_only_at_the_stop_token_and_the_answer_is_cut_there() -> None:
    seen: list[dict[str, Any]] = []
    # A server that ran past the stop token 7 (it should not): the drafts still end at it.
    drafter = RemoteDrafter(
        "http://server/v1", transport=canned(lambda body: generated([4, 7, 9]), seen)
    )
    proposal = drafter.propose([1, 2, 3], 3, None, 7)
    assert proposal.ids == (4, 7)
    assert proposal.q == pytest.approx((0.606531, 0.606531), abs=1e-6)
    assert proposal.rows is None
    body = seen[0]
    assert body["prompt"] == [1, 2, 3] and body["max_tokens"] == 3
    assert body["temperature"] == 0.0
    assert body["ignore_eos"] is True and body["stop_token_ids"] == [7]
    drafter.propose([1, 2, 3], 3, None, None)
    assert seen[1]["stop_token_ids"] == []


def test_sampled_drafts_are_refused() -> None:
    drafter = RemoteDrafter("http://server/v1", transport=canned(lambda body: generated([4])))
    with pytest.raises(RemoteSamplingError, match="drafts greedily only"):
        drafter.propose([1, 2, 3], 3, torch.Generator().manual_seed(0), None)


def test_drafts_past_the_servers_context_are_refused_before_sending() -> None:
    seen: list[dict[str, Any]] = []
    drafter = RemoteDrafter("http://server/v1", transport=canned(lambda body: generated([4]), seen))
    assert drafter.context_length == 64
    with pytest.raises(RemoteError, match="65 tokens do not fit the drafter server's context"):
        drafter.propose([5] * 60, 5, None, None)
    assert seen == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"choices": [{"logprobs": {}}]}, "no token_ids"),
        ({"choices": [{"token_ids": [], "logprobs": {}}]}, r"token_ids \[\] for up to 3"),
        ({"choices": [{"token_ids": [1, 2, 3, 4], "logprobs": {}}]}, "for up to 3 drafts"),
        (
            {"choices": [{"token_ids": [4], "logprobs": {"tokens": ["token_id:5"]}}]},
            "logprobs whose tokens are not the token_ids",
        ),
        (
            {"choices": [{"token_ids": [4], "logprobs": {"tokens": ["token_id:4"]}}]},
            "logprobs whose tokens are not the token_ids",
        ),
        (
            {
                "choices": [
                    {
                        "token_ids": [4],
                        "logprobs": {"tokens": ["token_id:4"], "token_logprobs": [None]},
                    }
                ]
            },
            "token_logprobs that are not numbers",
        ),
    ],
)
def test_malformed_answers_are_explained(answer: dict[str, Any], expected: str) -> None:
    drafter = RemoteDrafter("http://server/v1", transport=canned(lambda body: answer))
    with pytest.raises(RemoteError, match=expected):
        drafter.propose([1, 2], 3, None, None)
