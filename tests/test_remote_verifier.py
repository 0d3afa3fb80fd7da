"""The remote verifier against a real vLLM server (marked `vllm`) and against canned answers.

The `vllm` tests start vLLM's OpenAI server on the bundled verifier with scripts/vllm/serve.sh
(or use the one at $SPECTUI_VLLM_URL) and check that the server's measures are the local
verifier's: same ranks and top-1, p within 1e-4. They skip when the venv that
scripts/vllm/install.sh makes is missing. The canned-answer tests need no server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("httpx", reason="the remote verifier needs httpx")

import httpx  # noqa: E402
import torch  # noqa: E402
from vllm_servers import API_KEY, Servers, free_port  # noqa: E402

from spectui.engine.models.local import LocalVerifier  # noqa: E402
from spectui.engine.remote.seams import RemoteError, RemoteSamplingError, RemoteVerifier  # noqa: E402
from spectui.models import BUNDLED_VERIFIER  # noqa: E402

CONTEXTS = (
    ("Once upon a time, there was a little", " girl named Lily who loved"),
    ("The cat sat on the", " mat and looked at"),
    ('She said, "I', ' do not know," he said.'),
    ("It is", " a truth universally acknowledged"),
)


@pytest.fixture(scope="module")
def servers(vllm_servers: Servers) -> Servers:
    """The session's vLLM servers."""
    return vllm_servers


@pytest.fixture(scope="module")
def remote(servers: Servers) -> Iterator[RemoteVerifier]:
    """A RemoteVerifier on the plain server."""
    with RemoteVerifier(servers.url, timeout=30.0) as verifier:
        yield verifier


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(BUNDLED_VERIFIER)


@pytest.fixture(scope="module")
def local_model() -> Any:
    """The bundled verifier in float32, the precision serve.sh gives vLLM."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(BUNDLED_VERIFIER, dtype=torch.float32).eval()


def local_scores(model: Any, tokens: list[int], drafts: list[int], n_top: int) -> Any:
    """LocalVerifier's view of a round, used as it is in a decode (prefill, then score)."""
    verifier = LocalVerifier(model, torch.device("cpu"), model.config.vocab_size)
    verifier.prefill(tokens[:-1])
    return verifier.score(tokens, drafts, n_top)


def encoded(tokenizer: Any, prompt: str, drafts: str) -> tuple[list[int], list[int]]:
    return tokenizer.encode(prompt), tokenizer.encode(drafts, add_special_tokens=False)


# --- against the real server ---------------------------------------------------------------


@pytest.mark.vllm
@pytest.mark.parametrize(("prompt", "drafts"), CONTEXTS)
def test_measures_match_the_local_verifier(
    remote: RemoteVerifier, tokenizer: Any, local_model: Any, prompt: str, drafts: str
) -> None:
    tokens, draft_ids = encoded(tokenizer, prompt, drafts)
    served = remote.score(tokens, draft_ids, 10).measures
    local = local_scores(local_model, tokens, draft_ids, 10).measures
    assert len(served) == len(local) == len(draft_ids)
    for position, (ours, theirs) in enumerate(zip(served, local, strict=True)):
        assert ours.token_id == theirs.token_id
        assert ours.rank == theirs.rank, position
        assert ours.top1_id == theirs.top1_id, position
        assert ours.p == pytest.approx(theirs.p, abs=1e-4)
        assert ours.p_top1 == pytest.approx(theirs.p_top1, abs=1e-4)
        assert len(ours.topk_ids) == 10
        assert ours.topk_probs == pytest.approx(theirs.topk_probs, abs=1e-4)


@pytest.mark.vllm
@pytest.mark.parametrize(("prompt", "drafts"), CONTEXTS)
def test_top1_after_the_last_draft_is_the_local_argmax(
    remote: RemoteVerifier, tokenizer: Any, local_model: Any, prompt: str, drafts: str
) -> None:
    tokens, draft_ids = encoded(tokenizer, prompt, drafts)
    served = remote.score(tokens, draft_ids, 10)
    local = local_scores(local_model, tokens, draft_ids, 10)
    for position in range(len(draft_ids) + 1):
        assert served.top1(position) == local.top1(position), position
    assert remote.cached_length == len(tokens) + len(draft_ids)
    remote.roll_back(len(tokens))
    assert remote.cached_length == len(tokens)


class CountingTransport(httpx.HTTPTransport):
    """The real network, counting requests (to see that no banned draw needed a redraw)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


@pytest.mark.vllm
def test_residual_draws_never_return_the_greedy_draft(servers: Servers, tokenizer: Any) -> None:
    # After this context the verifier's top token has p ≈ 0.35: a residual that failed to
    # exclude it would return it about 10 times in 30.
    transport = CountingTransport()
    with RemoteVerifier(servers.url, transport=transport) as verifier:
        tokens = tokenizer.encode("Once upon a time, there")
        scores = verifier.score(tokens, [], 10)
        banned = scores.top1(0)
        before = transport.requests
        generator = torch.Generator().manual_seed(0)
        draws = [scores.sample(0, generator, banned) for _ in range(30)]
        # One request per draw: the -100 bias alone kept the token out, no redraw was needed.
        assert transport.requests - before == 30
    assert banned not in draws
    assert len(set(draws)) >= 5


@pytest.mark.vllm
def test_draws_from_p_are_varied_and_replay_from_the_seed(
    remote: RemoteVerifier, tokenizer: Any
) -> None:
    tokens, draft_ids = encoded(tokenizer, "The cat sat on the", " mat")
    scores = remote.score(tokens, draft_ids, 10)

    def draws(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        return [scores.sample(1, generator) for _ in range(8)]

    first = draws(3)
    assert draws(3) == first
    assert len(set(first)) >= 3


@pytest.mark.vllm
def test_the_server_tokenizes_as_the_local_tokenizer(
    remote: RemoteVerifier, tokenizer: Any
) -> None:
    remote.check_tokenizer(tokenizer)
    assert remote.model.endswith("spectui/models/verifier")  # the only model: picked unnamed
    assert remote.context_length == 255  # --max-model-len 256, one slot for the generated token


@pytest.mark.vllm
def test_a_wrong_model_name_lists_the_served_ones(servers: Servers, remote: RemoteVerifier) -> None:
    with (
        RemoteVerifier(servers.url, model="no-such-model") as verifier,
        pytest.raises(RemoteError, match="does not serve the model 'no-such-model'") as caught,
    ):
        verifier.check()
    assert remote.model in str(caught.value)


@pytest.mark.vllm
def test_more_alternatives_than_max_logprobs_is_explained(
    remote: RemoteVerifier, tokenizer: Any
) -> None:
    tokens, draft_ids = encoded(tokenizer, "The cat sat on the", " mat")
    with pytest.raises(RemoteError, match="at most 50 alternatives") as caught:
        remote.score(tokens, draft_ids, 60)
    assert "--max-logprobs" in str(caught.value)


@pytest.mark.vllm
def test_a_context_past_max_model_len_is_refused_before_sending(remote: RemoteVerifier) -> None:
    with pytest.raises(RemoteError, match="256 tokens do not fit"):
        remote.score([5] * 250, [6] * 6, 10)


@pytest.mark.vllm
def test_a_port_with_no_server_cannot_be_reached() -> None:
    with (
        RemoteVerifier(f"http://127.0.0.1:{free_port()}/v1", timeout=5.0) as verifier,
        pytest.raises(RemoteError, match="cannot reach the verifier server") as caught,
    ):
        verifier.check()
    assert "serve.sh" in str(caught.value)


@pytest.mark.vllm
@pytest.mark.parametrize("api_key", [None, "wrong-key-123"])
def test_a_missing_or_wrong_key_is_refused_without_showing_it(
    servers: Servers, api_key: str | None
) -> None:
    if servers.key_url is None:
        pytest.skip("the server with --api-key needs the vLLM venv")
    with (
        RemoteVerifier(servers.key_url, api_key=api_key) as verifier,
        pytest.raises(RemoteError, match="API key is missing or wrong") as caught,
    ):
        verifier.check()
    for secret in (API_KEY, "wrong-key-123"):
        assert secret not in str(caught.value)
        assert secret not in repr(verifier)


@pytest.mark.vllm
def test_the_right_key_scores_and_stays_hidden(servers: Servers, tokenizer: Any) -> None:
    if servers.key_url is None:
        pytest.skip("the server with --api-key needs the vLLM venv")
    with RemoteVerifier(servers.key_url, api_key=API_KEY) as verifier:
        tokens, draft_ids = encoded(tokenizer, "The cat sat on the", " mat")
        assert len(verifier.score(tokens, draft_ids, 10).measures) == 1
        with pytest.raises(RemoteError) as caught:
            verifier.score(tokens, draft_ids, 60)
        assert API_KEY not in str(caught.value)
        assert API_KEY not in repr(verifier)


# --- against canned answers (no server) ----------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]
MODELS = {"object": "list", "data": [{"id": "m", "object": "model", "max_model_len": 64}]}


def canned(completion: Handler, models: dict[str, Any] = MODELS) -> httpx.MockTransport:
    """A transport answering /v1/models with `models` and /v1/completions with `completion`."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=models)
        return completion(request)

    return httpx.MockTransport(handle)


def answering(status: int, body: object) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def completion_answer(prompt: list[int], n_top: int) -> dict[str, Any]:
    """A well-formed vLLM answer: token i + 1 is always the best next token."""
    entries: list[dict[str, Any] | None] = [None]
    for token in prompt[1:]:
        best = {str(token + 1): {"logprob": -0.5, "rank": 1, "decoded_token": "x"}}
        own = {str(token): {"logprob": -3.0, "rank": n_top + 1, "decoded_token": "y"}}
        entries.append({**own, **best})
    top = {f"token_id:{prompt[-1] + 1}": -0.5, f"token_id:{prompt[-1] + 2}": -2.0}
    return {
        "choices": [
            {"prompt_logprobs": entries, "logprobs": {"top_logprobs": [top]}, "token_ids": [9]}
        ]
    }


def echoing(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(200, json=completion_answer(body["prompt"], body["logprobs"]))


def test_a_canned_answer_becomes_measures() -> None:
    verifier = RemoteVerifier("http://server/v1", transport=canned(echoing))
    scores = verifier.score([1, 2, 3], [10, 20], 1)
    assert [m.rank for m in scores.measures] == [2, 2]
    assert [m.top1_id for m in scores.measures] == [11, 21]
    assert scores.measures[0].p == pytest.approx(0.049787, abs=1e-6)
    assert scores.measures[0].topk_ids == (11,)
    assert scores.top1(2) == 21
    assert verifier.context_length == 63


def test_sampled_drafts_are_refused() -> None:
    verifier = RemoteVerifier("http://server/v1", transport=canned(echoing))
    scores = verifier.score([1, 2, 3], [10], 2)
    with pytest.raises(RemoteSamplingError, match="whole distribution"):
        scores.sample(0, torch.Generator().manual_seed(0), torch.ones(4) / 4)


def test_the_bearer_key_is_sent_and_never_shown() -> None:
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(401, json={"error": "Unauthorized"})

    verifier = RemoteVerifier(
        "http://server/v1", api_key="k-123", transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(RemoteError, match="API key is missing or wrong") as caught:
        verifier.check()
    assert seen == ["Bearer k-123"]
    assert "k-123" not in str(caught.value) and "k-123" not in repr(verifier)


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (lambda request: httpx.Response(200, text="<html>proxy error</html>"), "no JSON"),
        (answering(200, {"choices": []}), "no choices"),
        (answering(200, {"choices": [{"logprobs": None}]}), "no prompt_logprobs"),
        (answering(200, {"choices": [{"prompt_logprobs": [None]}]}), "1 prompt_logprobs for 3"),
        (answering(500, {"error": {"message": "engine died"}}), "HTTP 500 .*engine died"),
    ],
)
def test_malformed_or_failed_answers_are_explained(completion: Handler, expected: str) -> None:
    verifier = RemoteVerifier("http://server/v1", transport=canned(completion))
    with pytest.raises(RemoteError, match=expected):
        verifier.score([1, 2], [3], 5)


def test_several_served_models_must_be_named() -> None:
    two = {"data": [{"id": "a"}, {"id": "b"}]}
    verifier = RemoteVerifier("http://server/v1", transport=canned(echoing, two))
    with pytest.raises(RemoteError, match=r"serves 2 models \(a, b\)"):
        verifier.check()


def test_a_timeout_is_explained() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    verifier = RemoteVerifier("http://server/v1", timeout=2.0, transport=httpx.MockTransport(slow))
    with pytest.raises(RemoteError, match="did not answer within 2 s"):
        verifier.check()
