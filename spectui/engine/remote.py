"""A verifier behind vLLM's OpenAI-compatible completions API: the `Verifier` seam over HTTP.

One round is one `POST /v1/completions` whose prompt is the token ids of the sequence and its
drafts: `prompt_logprobs` gives, at each draft position, the draft token's log-probability and
rank and the server's top-n; the one generated token's `logprobs` give the top-n after the
last draft (at temperature 0 their best is the verifier's greedy token). A correction or bonus
token drawn from p, or from the residual of a greedy draft, is a second request at
temperature 1 with a seed taken from the decode's generator, so a decode replays.

What vLLM answers (0.32, checked against a real server):

    choices[0].prompt_logprobs = [None, {"278": {"logprob": -5.08, "rank": 23,
                                  "decoded_token": " c"}, "1147": {..., "rank": 1}, ...}, ...]
    choices[0].logprobs.top_logprobs = [{"token_id:763": -3.19, "token_id:818": -3.28, ...}]

`prompt_logprobs[i]` is the distribution that predicted prompt token i (so entry 0 is None);
it holds the actual token and the n best, n + 1 entries when the token is not among them.
The server never returns a whole distribution, so drafts *sampled* from the drafter (whose
residual max(0, p − q) needs all of p) cannot be verified exactly; greedy drafts can.

The server keeps no per-client state for us (vLLM skips its prefix cache for requests that
ask for prompt logprobs), so `prefill` and `roll_back` only keep `cached_length` honest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from spectui.engine.policies import DraftMeasures
from spectui.engine.remote_wire import (
    BAN_BIAS,
    LOGPROBS_LIMIT,
    MAX_REDRAWS,
    NEUTRAL_SAMPLING,
    TOKENIZER_PROBES,
    RemoteError,
    RemoteSamplingError,
    ServedModel,
    preview_ids,
    request_seed,
    server_message,
    tls_verification,
    transport_reason,
)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


class RemoteVerifier:
    """The verifier model on a vLLM server: one completions request scores a whole round."""

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        ca_file: str | None = None,
        transport: httpx.BaseTransport | None = None,  # tests' stand-in for the network
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._wanted = model
        self._secret = api_key or None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            self._base = httpx.URL(self.url + "/")
        except httpx.InvalidURL as error:
            raise self._error(f"cannot use the verifier server URL {self.url!r}: {error}") from None
        self._client = httpx.Client(
            headers=headers, timeout=timeout, verify=tls_verification(ca_file), transport=transport
        )
        self._served: ServedModel | None = None
        self._cached_length = 0

    def __repr__(self) -> str:
        # Spelled out so the API key (inside the client's headers) can never be printed.
        return f"RemoteVerifier(url={self.url!r}, model={self._wanted!r})"

    def __enter__(self) -> RemoteVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # --- checks before first use -----------------------------------------------------------

    def check(self) -> ServedModel:
        """Reach the server and pick the model (the named one, or the only one served)."""
        if self._served is None:
            self._served = self._pick_model(self._list_models())
        return self._served

    @property
    def model(self) -> str:
        """The served model's name, as requests must spell it."""
        return self.check().name

    @property
    def context_length(self) -> int | None:
        """The longest sequence `score` accepts: one less than vLLM's max_model_len.

        vLLM counts the token a request generates against max_model_len, and scoring always
        generates one (it carries the distribution after the last draft).
        """
        limit = self.check().max_model_len
        return None if limit is None else limit - 1

    def check_tokenizer(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """Raise RemoteError unless the server tokenizes the probe strings as `tokenizer` does."""
        for text in TOKENIZER_PROBES:
            local = list(tokenizer.encode(text, add_special_tokens=False))
            served = self._tokenize(text)
            if local != served:
                raise self._error(
                    f"the verifier server's tokenizer differs from the local one: {text!r} is "
                    f"{preview_ids(served)} on the server but {preview_ids(local)} here. Serve the "
                    "model whose tokenizer spectui loads, or load the served model's tokenizer."
                )

    # --- the Verifier protocol -------------------------------------------------------------

    @property
    def cached_length(self) -> int:
        """The sequence length last scored, prefilled or rolled back to."""
        return self._cached_length

    def prefill(self, tokens: Sequence[int]) -> None:
        """Check the server; nothing to cache remotely (every request sends the whole context)."""
        self.check()
        self._cached_length = len(tokens)

    def score(self, tokens: Sequence[int], draft_ids: Sequence[int], n_top: int) -> RemoteScores:
        """One request over `tokens + draft_ids`: each draft's measures and the greedy next."""
        if n_top < 1:
            raise ValueError(f"n_top must be at least 1, not {n_top}")
        prompt = [*tokens, *draft_ids]
        self._check_fits(len(prompt))
        body = {
            "prompt": prompt,
            "max_tokens": 1,
            "temperature": 0.0,
            "prompt_logprobs": n_top,
            "logprobs": n_top,
            # Keys "token_id:763" rather than decoded text, which is ambiguous for byte pieces.
            "return_tokens_as_token_ids": True,
            **NEUTRAL_SAMPLING,
        }
        choice = self._complete(body, "scoring the drafts")
        entries = self._field(choice, "prompt_logprobs", list)
        if len(entries) != len(prompt):
            raise self._malformed(f"{len(entries)} prompt_logprobs for {len(prompt)} prompt tokens")
        measures = tuple(
            self._measure(entries[len(tokens) + j], token, n_top)
            for j, token in enumerate(draft_ids)
        )
        self._cached_length = len(prompt)
        return RemoteScores(
            measures=measures,
            next_top1=self._best_generated(choice),
            context=tuple(prompt),
            n_tokens=len(tokens),
            verifier=self,
        )

    def roll_back(self, length: int) -> None:
        """Forget positions beyond `length` (only the count: the server holds nothing)."""
        self._cached_length = min(self._cached_length, length)

    # --- sampling --------------------------------------------------------------------------

    def draw(self, context: Sequence[int], generator: torch.Generator, banned: int | None) -> int:
        """A token from p after `context`, or from p without `banned` (greedy draft's residual).

        With q one-hot on the draft x, the residual max(0, p − q) normalised is p with x
        removed. vLLM's logit_bias is clamped to -100, which leaves x a probability of about
        p_x·e^-100 rather than 0; but a draw from that distribution *conditioned on not being
        x* is exactly the residual, so a draw that returns x is simply redrawn. (The exact
        alternative, `allowed_token_ids` listing every other id, is a vocabulary-sized request.)
        When x keeps coming back, 1 − p_x is below float32's resolution: the residual is empty,
        and like `RowScores.sample` the draw falls back to p, which is x.
        """
        bias = {str(banned): BAN_BIAS} if banned is not None else None
        token = self._draw_once(context, request_seed(generator), bias)
        for _ in range(MAX_REDRAWS):
            if token != banned:
                break
            token = self._draw_once(context, request_seed(generator), bias)
        return token

    def _draw_once(self, context: Sequence[int], seed: int, bias: dict[str, float] | None) -> int:
        body: dict[str, Any] = {
            "prompt": list(context),
            "max_tokens": 1,
            "temperature": 1.0,
            "seed": seed,
            "return_token_ids": True,
            **NEUTRAL_SAMPLING,
        }
        if bias is not None:
            body["logit_bias"] = bias
        self._check_fits(len(context))
        choice = self._complete(body, "drawing a token")
        token_ids = self._field(choice, "token_ids", list)
        if len(token_ids) != 1 or not isinstance(token_ids[0], int):
            raise self._malformed(f"token_ids {token_ids!r:.80} for one generated token")
        return token_ids[0]

    # --- parsing answers -------------------------------------------------------------------

    def _measure(self, entry: object, token: int, n_top: int) -> DraftMeasures:
        """One draft position's measures from its prompt_logprobs entry."""
        if not isinstance(entry, Mapping) or str(token) not in entry:
            raise self._malformed(f"a prompt_logprobs entry without the draft token {token}")
        try:
            ranked = sorted(
                ((int(key), float(value["logprob"])) for key, value in entry.items()),
                key=lambda item: -item[1],
            )[:n_top]
            own = entry[str(token)]
            # vLLM's rank counts the tokens at least as likely (itself included); the local
            # count of strictly likelier ones + 1 differs only on exact ties.
            rank = int(own["rank"])
            p = math.exp(float(own["logprob"]))
        except (KeyError, TypeError, ValueError):
            raise self._malformed("a prompt_logprobs entry without logprob and rank") from None
        return DraftMeasures(
            token_id=token,
            p=p,
            rank=rank,
            top1_id=ranked[0][0],
            p_top1=math.exp(ranked[0][1]),
            topk_ids=tuple(token_id for token_id, _ in ranked),
            topk_probs=tuple(math.exp(logprob) for _, logprob in ranked),
        )

    def _best_generated(self, choice: Mapping[str, Any]) -> int:
        """The verifier's argmax after the last draft: the best of the generated token's top-n.

        vLLM reports raw (unprocessed) logprobs, so their best is the model's own argmax.
        """
        logprobs = self._field(choice, "logprobs", Mapping)
        tops = logprobs.get("top_logprobs")
        if not isinstance(tops, list) or len(tops) != 1 or not isinstance(tops[0], Mapping):
            raise self._malformed("no top_logprobs for the generated token")
        try:
            best = max(tops[0].items(), key=lambda item: float(item[1]))[0]
            return int(str(best).removeprefix("token_id:"))
        except (TypeError, ValueError):
            raise self._malformed("top_logprobs that are not token ids and logprobs") from None

    def _field(self, choice: Mapping[str, Any], name: str, kind: type) -> Any:
        value = choice.get(name)
        if not isinstance(value, kind):
            raise self._malformed(f"no {name}")
        return value

    # --- HTTP ------------------------------------------------------------------------------

    def _list_models(self) -> list[ServedModel]:
        answer = self._request("GET", "models", None, "listing its models")
        data = answer.get("data")
        if not isinstance(data, list) or not all(
            isinstance(item, Mapping) and isinstance(item.get("id"), str) for item in data
        ):
            raise self._malformed("a model list without data[].id", "/v1/models")
        return [
            ServedModel(
                item["id"],
                item["max_model_len"] if isinstance(item.get("max_model_len"), int) else None,
            )
            for item in data
        ]

    def _pick_model(self, served: list[ServedModel]) -> ServedModel:
        names = ", ".join(model.name for model in served) or "none"
        if self._wanted is None:
            if len(served) == 1:
                return served[0]
            raise self._error(
                f"the verifier server at {self.url} serves {len(served)} models ({names}); "
                "name the one to verify with."
            )
        for model in served:
            if model.name == self._wanted:
                return model
        raise self._error(
            f"the verifier server at {self.url} does not serve the model {self._wanted!r}; "
            f"it serves: {names}."
        )

    def _tokenize(self, text: str) -> list[int]:
        # vLLM serves /tokenize at its root, beside /v1 rather than under it.
        root = self.url.removesuffix("/v1")
        body = {"model": self.model, "prompt": text, "add_special_tokens": False}
        answer = self._request("POST", root + "/tokenize", body, "tokenizing a probe")
        tokens = answer.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise self._malformed("a /tokenize answer without tokens", "/tokenize")
        return tokens

    def _complete(self, body: dict[str, Any], what: str) -> Mapping[str, Any]:
        """POST /v1/completions for the served model; its first choice."""
        answer = self._request("POST", "completions", {"model": self.model, **body}, what)
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise self._malformed("no choices")
        return choices[0]

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, what: str
    ) -> Mapping[str, Any]:
        """One request (`path` under the /v1 URL, or absolute); its JSON object or RemoteError."""
        url = self._base.join(path)
        try:
            response = self._client.request(method, url, json=body)
        except httpx.TimeoutException:
            raise self._error(
                f"the verifier server at {self.url} did not answer within {self.timeout:g} s "
                f"while {what}. It may be overloaded or still starting; raise the timeout or "
                "check the server."
            ) from None
        except httpx.TransportError as error:
            raise self._error(
                f"cannot reach the verifier server at {self.url} ({transport_reason(error)}) while "
                f"{what}. Is vLLM running there? scripts/vllm/serve.sh MODEL PORT starts one."
            ) from None
        if response.status_code >= 400:
            raise self._http_error(response, what)
        try:
            answer = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._malformed(f"no JSON ({response.text[:80]!r})", url.path) from None
        if not isinstance(answer, Mapping):
            raise self._malformed("JSON that is not an object", url.path)
        return answer

    def _http_error(self, response: httpx.Response, what: str) -> RemoteError:
        """A person's explanation of an HTTP error answer."""
        status = response.status_code
        if status in (401, 403):
            return self._error(
                f"the verifier server at {self.url} refused the request (HTTP {status}): the "
                "API key is missing or wrong. Pass the key the server was started with "
                "(vLLM's --api-key)."
            )
        message = server_message(response)
        limit = LOGPROBS_LIMIT.search(message)
        if status == 400 and "logprobs" in message and limit:
            return self._error(
                f"the verifier server at {self.url} returns at most {limit.group(1)} "
                "alternatives per position, fewer than spectui asks for (the top-k gate and "
                "the alternatives shown). Restart vLLM with a larger --max-logprobs, or lower "
                "the top-k gate."
            )
        return self._error(
            f"the verifier server at {self.url} answered HTTP {status} while {what}: {message}"
        )

    def _check_fits(self, length: int) -> None:
        limit = self.context_length
        if limit is not None and length > limit:
            raise self._error(
                f"{length} tokens do not fit the verifier server's context: it scores at most "
                f"{limit} (max_model_len {limit + 1}, one slot for the generated token)."
            )

    def _malformed(self, problem: str, path: str = "/v1/completions") -> RemoteError:
        return self._error(
            f"the verifier server at {self.url} answered {path} with {problem}. Is it vLLM's "
            "OpenAI-compatible server (0.32 or close)?"
        )

    def _error(self, message: str) -> RemoteError:
        """A RemoteError whose message can never carry the API key."""
        if self._secret:
            message = message.replace(self._secret, "***")
        return RemoteError(message)


@dataclass(frozen=True)
class RemoteScores:
    """The server's view of one round: measures per draft, the greedy token after the last."""

    measures: tuple[DraftMeasures, ...]
    next_top1: int  # the verifier's argmax after the last draft
    context: tuple[int, ...]  # the scored sequence, tokens + drafts
    n_tokens: int  # how many of `context` precede the drafts
    verifier: RemoteVerifier

    def top1(self, position: int) -> int:
        """The argmax at draft `position` (`len(measures)`: after the last draft)."""
        if position == len(self.measures):
            return self.next_top1
        return self.measures[position].top1_id

    def sample(
        self, position: int, generator: torch.Generator, drawn: int | torch.Tensor | None = None
    ) -> int:
        """A draw from p at `position`, or from the residual of the greedy draft `drawn`."""
        if drawn is not None and not isinstance(drawn, int):
            raise RemoteSamplingError(
                "a verifier on a server cannot check drafts sampled from the drafter exactly: "
                "the server returns only its top tokens, not the whole distribution that the "
                "residual max(0, p − q) needs. Draft greedily, or use a local verifier."
            )
        if not 0 <= position <= len(self.measures):
            raise IndexError(f"position {position} is outside 0..{len(self.measures)}")
        return self.verifier.draw(self.context[: self.n_tokens + position], generator, drawn)
