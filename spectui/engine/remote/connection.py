"""A model behind vLLM's OpenAI-compatible server: the connection both remote seams share.

`RemoteModel` holds the HTTP client, picks the served model, checks the server's tokenizer
and its context limit, and turns every failure (unreachable, refused, timed out, nonsense)
into a `RemoteError` a person can act on, never carrying the API key. `RemoteVerifier` and
`RemoteDrafter` (`remote.py`) derive from it and only build requests and read answers.

The server keeps no per-client state for us, so a remote model's `prefill` and `roll_back`
only keep `cached_length` honest: every request sends the whole sequence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from spectui.engine.remote.wire import (
    LOGPROBS_LIMIT,
    TOKENIZER_PROBES,
    RemoteError,
    ServedModel,
    preview_ids,
    server_message,
    tls_verification,
    transport_reason,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Model = TypeVar("Model", bound="RemoteModel")  # `with RemoteVerifier(...) as verifier` types


class RemoteModel:
    """One model on a vLLM server, as the drafter or the verifier (`role`, in every message)."""

    role = "model"
    # Positions of max_model_len a request takes beyond the sequence it sends and drafts.
    extra_slots = 0

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
            raise self._error(
                f"cannot use the {self.role} server URL {self.url!r}: {error}"
            ) from None
        self._client = httpx.Client(
            headers=headers, timeout=timeout, verify=tls_verification(ca_file), transport=transport
        )
        self._served: ServedModel | None = None
        self._cached_length = 0

    def __repr__(self) -> str:
        # Spelled out so the API key (inside the client's headers) can never be printed.
        return f"{type(self).__name__}(url={self.url!r}, model={self._wanted!r})"

    def __enter__(self: Model) -> Model:
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
    def max_model_len(self) -> int | None:
        """vLLM's context limit for the model: prompt and generated tokens together."""
        return self.check().max_model_len

    @property
    def context_length(self) -> int | None:
        """The longest sequence, context and drafts, a request may cover (None: no limit)."""
        limit = self.max_model_len
        return None if limit is None else limit - self.extra_slots

    def check_tokenizer(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """Raise RemoteError unless the server tokenizes the probe strings as `tokenizer` does."""
        for text in TOKENIZER_PROBES:
            local = list(tokenizer.encode(text, add_special_tokens=False))
            served = self._tokenize(text)
            if local != served:
                raise self._error(
                    f"the {self.role} server's tokenizer differs from the local one: {text!r} is "
                    f"{preview_ids(served)} on the server but {preview_ids(local)} here. Serve the "
                    "model whose tokenizer spectui loads, or load the served model's tokenizer."
                )

    # --- the cached length (the CachedSequence protocol) -----------------------------------

    @property
    def cached_length(self) -> int:
        """The sequence length the server last ran over, or was prefilled or rolled back to."""
        return self._cached_length

    def prefill(self, tokens: Sequence[int]) -> None:
        """Check the server; nothing to cache remotely (every request sends the whole context)."""
        self.check()
        self._cached_length = len(tokens)

    def roll_back(self, length: int) -> None:
        """Forget positions beyond `length` (only the count: the server holds nothing)."""
        self._cached_length = min(self._cached_length, length)

    # --- requests --------------------------------------------------------------------------

    def _complete(self, body: dict[str, Any], what: str) -> Mapping[str, Any]:
        """POST /v1/completions for the served model; its first choice."""
        answer = self._request("POST", "completions", {"model": self.model, **body}, what)
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise self._malformed("no choices")
        return choices[0]

    def _field(self, choice: Mapping[str, Any], name: str, kind: type) -> Any:
        """`choice[name]`, which must be a `kind`."""
        value = choice.get(name)
        if not isinstance(value, kind):
            raise self._malformed(f"no {name}")
        return value

    def _check_fits(self, length: int) -> None:
        """Refuse a sequence of `length` tokens beyond `context_length` before sending it."""
        limit = self.context_length
        if limit is not None and length > limit:
            slots = (
                f", keeping {self.extra_slots} for what it generates" if self.extra_slots else ""
            )
            raise self._error(
                f"{length} tokens do not fit the {self.role} server's context: it takes at most "
                f"{limit} (max_model_len {limit + self.extra_slots}{slots})."
            )

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
                f"the {self.role} server at {self.url} serves {len(served)} models ({names}); "
                f"name the one to use as the {self.role}."
            )
        for model in served:
            if model.name == self._wanted:
                return model
        raise self._error(
            f"the {self.role} server at {self.url} does not serve the model {self._wanted!r}; "
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

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, what: str
    ) -> Mapping[str, Any]:
        """One request (`path` under the /v1 URL, or absolute); its JSON object or RemoteError."""
        url = self._base.join(path)
        try:
            response = self._client.request(method, url, json=body)
        except httpx.TimeoutException:
            raise self._error(
                f"the {self.role} server at {self.url} did not answer within {self.timeout:g} s "
                f"while {what}. It may be overloaded or still starting; raise the timeout or "
                "check the server."
            ) from None
        except httpx.TransportError as error:
            raise self._error(
                f"cannot reach the {self.role} server at {self.url} ({transport_reason(error)}) "
                f"while {what}. Is vLLM running there? scripts/vllm/serve.sh MODEL PORT starts one."
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

    # --- errors ----------------------------------------------------------------------------

    def _http_error(self, response: httpx.Response, what: str) -> RemoteError:
        """A person's explanation of an HTTP error answer."""
        status = response.status_code
        if status in (401, 403):
            return self._error(
                f"the {self.role} server at {self.url} refused the request (HTTP {status}): the "
                "API key is missing or wrong. Pass the key the server was started with "
                "(vLLM's --api-key)."
            )
        message = server_message(response)
        limit = LOGPROBS_LIMIT.search(message)
        if status == 400 and "logprobs" in message and limit:
            return self._error(
                f"the {self.role} server at {self.url} returns at most {limit.group(1)} "
                "alternatives per position, fewer than spectui asks for (the top-k gate and "
                "the alternatives shown). Restart vLLM with a larger --max-logprobs, or lower "
                "the top-k gate."
            )
        return self._error(
            f"the {self.role} server at {self.url} answered HTTP {status} while {what}: {message}"
        )

    def _malformed(self, problem: str, path: str = "/v1/completions") -> RemoteError:
        return self._error(
            f"the {self.role} server at {self.url} answered {path} with {problem}. Is it vLLM's "
            "OpenAI-compatible server (0.32 or close)?"
        )

    def _error(self, message: str) -> RemoteError:
        """A RemoteError whose message can never carry the API key."""
        if self._secret:
            message = message.replace(self._secret, "***")
        return RemoteError(message)
