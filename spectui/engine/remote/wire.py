"""What crosses the wire to a model server: pinned request values, errors, answer helpers.

Kept apart from `remote.py`'s drafter and verifier so that module reads as the protocols it
implements.
"""

from __future__ import annotations

import json
import math
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from spectui.engine.errors import SpectuiError

if TYPE_CHECKING:
    import torch

    from spectui.engine.warps import Warp

# OpenAI's bound for logit_bias, which vLLM clamps every bias to: a bias of -1e9 silently
# becomes -100, so a banned token keeps a tiny probability (see `RemoteVerifier.draw`).
BAN_BIAS = -100.0
# Redraws after the banned token still came back. Each redraw picks it with probability below
# p·e^-100 / (1 − p): about 1e-37 unless 1 − p is under float32's resolution of 1.
MAX_REDRAWS = 4
# Sampling parameters pinned to their neutral values: left out, vLLM fills them from the
# model's generation_config.json (Qwen's says top_k=20, repetition_penalty=1.05), which would
# make the drawn token and the temperature-0 (greedy) token differ from the model's own.
NEUTRAL_SAMPLING: dict[str, Any] = {
    "top_p": 1.0,
    "top_k": -1,
    "min_p": 0.0,
    "repetition_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
}
# Strings whose ids the server's tokenizer and the local one must agree on: ASCII words,
# leading spaces, digits, punctuation, whitespace runs, accents, CJK and an emoji.
TOKENIZER_PROBES = (
    "Hello world",
    " The quick brown fox jumps over the lazy dog.",
    "It is 12345 + 678 = ?",
    "  two spaces,\ta tab\nand a newline",
    "naïve café — 日本語 🙂",
)
LOGPROBS_LIMIT = re.compile(r"greater than max allowed: (\d+)")
MESSAGE_LIMIT = 300  # characters of a server's error text worth quoting to a person


class RemoteError(SpectuiError):
    """A model server could not be used: unreachable, refused, or answered nonsense."""


class RemoteSamplingError(RemoteError):
    """Sampled drafts need whole distributions (q's or p's), which a server never returns."""


def refuse_warp(warp: Warp, role: str) -> None:
    """Raise unless `warp` is neutral: a server's logprobs are of the unwarped distribution.

    DecodeConfig refuses these settings with a served model first; this keeps a seam honest
    when it is driven directly.
    """
    if not warp.neutral:
        raise RemoteSamplingError(
            f"a {role} on a server cannot apply {warp.describe()}: the server returns only its "
            "top tokens' log-probabilities, before any sampling parameter, not the whole "
            "distribution the warps reshape. Leave temperature, top-k and top-p off, or load "
            f"the {role} here."
        )


def entropy_lower_bound(probabilities: Sequence[float]) -> float:
    """−Σ p ln p over the tokens a server returned, the rest of the mass as one more token.

    Merging tokens into one bucket never raises the entropy, so this is at most the true H.
    """
    rest = max(0.0, 1.0 - sum(probabilities))
    return -sum(p * math.log(p) for p in (*probabilities, rest) if p > 0.0)


@dataclass(frozen=True)
class ServedModel:
    """A model the server lists under /v1/models."""

    name: str
    max_model_len: int | None  # vLLM's context limit, prompt and generated tokens together


def tls_verification(ca_file: str | None) -> ssl.SSLContext | bool:
    """TLS verification, never off: against `ca_file` (a private server's CA), else the system's."""
    if not ca_file:
        return True
    try:
        # A context rather than the path: httpx 0.28 deprecates verify=<path>.
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise RemoteError(f"cannot use the CA file {ca_file!r}: {error}") from None


def request_seed(generator: torch.Generator) -> int:
    """A request seed from the decode's generator, so a seeded decode replays its draws."""
    import torch

    return int(torch.randint(0, 2**31 - 1, (), generator=generator))


def server_message(response: httpx.Response) -> str:
    """The error text vLLM put in its answer ({"error": {"message": ...}} or FastAPI's detail)."""
    try:
        answer = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:MESSAGE_LIMIT] or response.reason_phrase
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:MESSAGE_LIMIT]
    if isinstance(error, str):
        return error[:MESSAGE_LIMIT]
    if isinstance(answer, dict) and "detail" in answer:
        return str(answer["detail"])[:MESSAGE_LIMIT]
    return response.text[:MESSAGE_LIMIT]


def transport_reason(error: httpx.TransportError) -> str:
    """The network error in a few words ("connection refused"), without httpx's class names."""
    text = str(error) or type(error).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text).strip() or type(error).__name__


def preview_ids(ids: Sequence[int]) -> str:
    shown = ", ".join(str(token) for token in ids[:12])
    return f"[{shown}{', …' if len(ids) > 12 else ''}]"
