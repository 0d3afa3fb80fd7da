"""Shared fixtures: tiny model pairs built once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tiny_models import TinyPair, build_model, build_tokenizer


def _build_pair(root: Path, noise: float, seed: int = 0) -> TinyPair:
    tokenizer = build_tokenizer(root / "verifier")
    build_tokenizer(root / "drafter")
    verifier = build_model(root / "verifier", len(tokenizer), n_layer=2, n_embd=32, seed=seed)
    build_model(
        root / "drafter",
        len(tokenizer),
        n_layer=2,
        n_embd=32,
        seed=seed + 1,
        perturb_from=verifier,
        noise=noise,
    )
    return TinyPair(drafter=str(root / "drafter"), verifier=str(root / "verifier"))


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, each in a fresh loop (function scope), as asyncio.run did."""
    return "asyncio"


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> TinyPair:
    """A pair whose drafter is a perturbed copy of the verifier: acceptance in between 0 and 1."""
    return _build_pair(tmp_path_factory.mktemp("tiny-pair"), noise=0.01)


@pytest.fixture(scope="session")
def tiny_loaded(tiny_pair: TinyPair):  # type: ignore[no-untyped-def]
    """The tiny pair loaded once through the real loading code."""
    from spectui.engine import DecodeConfig, load_pair

    return load_pair(DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier))


@pytest.fixture(scope="session")
def vllm_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Real vLLM servers on the bundled verifier (plain, and with --api-key), once a session."""
    from vllm_servers import start_servers

    yield from start_servers(tmp_path_factory)
