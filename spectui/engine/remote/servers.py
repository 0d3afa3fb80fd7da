"""Models on servers: where each one is, and the checks made before the first round."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spectui.engine.config import DecodeConfig

UNBOUNDED_CONTEXT = 1 << 30  # for a model or server that names no position limit


@dataclass(frozen=True)
class Endpoint:
    """A model served over an OpenAI-compatible API (vLLM)."""

    url: str
    model: str  # the served name (checked against the server's list)
    timeout: float
    ca_file: str | None
    api_key: str | None = field(default=None, repr=False)  # never shown, never saved


def connect(
    role: str,
    url: str,
    served: str | None,
    config: DecodeConfig,
    tokenizer: Any,
    api_key: str | None,
) -> tuple[Endpoint, int]:
    """Check a model server before the first round: reachable, the model, its tokenizer."""
    from spectui.engine.remote.seams import (  # httpx: only for a server
        RemoteDrafter,
        RemoteVerifier,
    )

    kind = RemoteDrafter if role == "drafter" else RemoteVerifier
    with kind(url, served, api_key, config.timeout, config.ca_file) as server:
        model = server.check()
        server.check_tokenizer(tokenizer)
        limit = server.context_length or UNBOUNDED_CONTEXT
    endpoint = Endpoint(url, model.name, config.timeout, config.ca_file, api_key)
    return endpoint, limit


def endpoint_keywords(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "model": endpoint.model,
        "api_key": endpoint.api_key,
        "timeout": endpoint.timeout,
        "ca_file": endpoint.ca_file,
    }


def model_id(name: str, url: str | None, served: str | None) -> str:
    """How a model is named on screen and in reports: its id, or "served-name @ url"."""
    return name if url is None else f"{served or name} @ {url}"
