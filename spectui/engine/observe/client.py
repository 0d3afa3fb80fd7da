"""One served request observed: the completion, its tokens, and the server's speculation.

`SpeculatingServer` asks an OpenAI-compatible server (vLLM) for a completion with its token ids
(`return_token_ids`) and reads the per-request `metrics.speculative_decoding` object that
`--per-request-spec-decode-metrics detailed` adds. It asks for the chosen tokens' logprobs too
(`logprobs: 0`), only for their text offsets: each output token's own piece of the text, which
the app groups by verify step. Every way this can fail is a `RemoteError` of one paragraph
saying what to change on the server or here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spectui.engine.observe.steps import SPEC_FIELD
from spectui.engine.remote.connection import RemoteModel

METRICS_FLAG = "--per-request-spec-decode-metrics detailed"
# The per-request timings vLLM adds beside the speculation (None where it has no timestamps).
TIMING_FIELDS = (
    "time_to_first_token_ms",
    "generation_time_ms",
    "queue_time_ms",
    "mean_itl_ms",
    "tokens_per_second",
)


@dataclass(frozen=True)
class Sampling:
    """The request's sampling settings, named as the OpenAI API names them."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


@dataclass(frozen=True)
class Observed:
    """One completion and the server's own account of its speculation, untouched."""

    prompt: str
    prompt_ids: tuple[int, ...]
    output_ids: tuple[int, ...]
    text: str
    finish_reason: str | None
    server: Mapping[str, Any]  # metrics.speculative_decoding as the server sent it
    seconds: float  # the request's wall-clock time, here
    # Each output token's piece of `text` (from the logprobs' text offsets); () where the
    # server gave none, and the app then shows the text whole.
    pieces: tuple[str, ...] = ()
    timings: Mapping[str, float | None] = field(default_factory=dict)  # TIMING_FIELDS, served

    @property
    def k(self) -> int:
        """The server's draft span (num_spec_tokens)."""
        return int(self.server.get("num_spec_tokens") or 0)


class SpeculatingServer(RemoteModel):
    """A model on a server that speculates, asked for completions one request at a time."""

    role = "speculating"  # "the speculating server at URL", in every message

    def observe(self, prompt: str, sampling: Sampling) -> Observed:
        """Complete `prompt`; its tokens and the server's speculation (RemoteError if the
        server does not report it)."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "return_token_ids": True,
            "logprobs": 0,  # the chosen tokens' text offsets: each token's piece of the text
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        started = time.perf_counter()
        answer = self._request("POST", "completions", body, "completing a prompt")
        seconds = time.perf_counter() - started
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise self._malformed("no choices")
        choice = choices[0]
        output_ids = tuple(self._ids(choice, "token_ids"))
        text = str(choice.get("text") or "")
        return Observed(
            prompt=prompt,
            prompt_ids=tuple(self._ids(choice, "prompt_token_ids")),
            output_ids=output_ids,
            text=text,
            finish_reason=choice.get("finish_reason"),
            server=self._speculation(answer),
            seconds=seconds,
            pieces=pieces(choice.get("logprobs"), text, len(output_ids)),
            timings=timings(answer.get("metrics")),
        )

    def token_texts(self, ids: Iterable[int]) -> dict[int, str]:
        """Each token's text, as the server's tokenizer decodes it alone (/detokenize): for
        drafts that are not in the output (the rejected ones)."""
        root = self.url.removesuffix("/v1")  # vLLM serves /detokenize beside /v1
        texts = {}
        for token in sorted(set(ids)):
            body = {"model": self.model, "tokens": [token]}
            answer = self._request("POST", root + "/detokenize", body, "decoding a draft token")
            texts[token] = str(answer.get("prompt", f"⟨{token}⟩"))
        return texts

    def _ids(self, choice: Mapping[str, Any], name: str) -> list[int]:
        ids = choice.get(name)
        if not isinstance(ids, list) or not all(isinstance(token, int) for token in ids):
            raise self._error(
                f"the speculating server at {self.url} returned no {name}: spectui asks for "
                "them with return_token_ids, which vLLM has answered since 0.10. Is it vLLM?"
            )
        return ids

    def _speculation(self, answer: Mapping[str, Any]) -> Mapping[str, Any]:
        metrics = answer.get("metrics")
        spec = metrics.get(SPEC_FIELD) if isinstance(metrics, Mapping) else None
        if not isinstance(spec, Mapping):
            raise self._error(
                f"the speculating server at {self.url} reports no per-request speculative "
                f"decoding metrics in its completions. Start vLLM with {METRICS_FLAG} (and a "
                '--speculative-config, e.g. \'{"method": "ngram", "num_speculative_tokens": 3, '
                '"prompt_lookup_max": 3, "prompt_lookup_min": 1}\').'
            )
        if not spec.get("num_spec_tokens"):
            raise self._error(
                f"the speculating server at {self.url} is not speculating (num_spec_tokens is "
                f"{spec.get('num_spec_tokens')!r}): start vLLM with a --speculative-config."
            )
        if "per_step_accepted" not in spec or "per_step_drafted" not in spec:
            raise self._error(
                f"the speculating server at {self.url} reports only a summary of each request's "
                f"speculation, not its steps: start vLLM with {METRICS_FLAG} (not summary)."
            )
        return dict(spec)


def pieces(logprobs: Any, text: str, count: int) -> tuple[str, ...]:
    """Each token's piece of `text`, cut at the logprobs' text offsets; () if they are missing
    or do not fit (then nothing is cut wrongly)."""
    offsets = logprobs.get("text_offset") if isinstance(logprobs, Mapping) else None
    if not isinstance(offsets, list) or len(offsets) != count or count == 0:
        return ()
    if not all(isinstance(at, int) for at in offsets) or offsets != sorted(offsets):
        return ()
    ends = [*offsets[1:], len(text)]
    return tuple(text[start:end] for start, end in zip(offsets, ends, strict=True))


def timings(metrics: Any) -> dict[str, float | None]:
    """The server's per-request timings (TIMING_FIELDS), None where it reported none."""
    given = metrics if isinstance(metrics, Mapping) else {}
    values = {name: given.get(name) for name in TIMING_FIELDS}
    return {
        name: float(value) if isinstance(value, int | float) else None
        for name, value in values.items()
    }
