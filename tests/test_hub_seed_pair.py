"""The seed notebook's printed table, reproduced with gpt2 -> gpt2-medium (needs the hub)."""

from __future__ import annotations

import pytest

from spectui.cli import SEED_PROMPTS
from spectui.engine import DecodeConfig, ModelLoadError, SpeculativeDecoder, load_pair
from spectui.engine.models.hub import hub_reachable

pytestmark = pytest.mark.hub

SEED_SOFT_ACCEPTED = [1, 5, 3, 3, 0, 1]
SEED_GREEDY_ACCEPTED = [0, 0, 3, 3, 0, 1]


@pytest.fixture(scope="module")
def seed_pair():  # type: ignore[no-untyped-def]
    config = DecodeConfig(drafter="gpt2", verifier="gpt2-medium", device="cpu")
    try:
        return load_pair(config)
    except ModelLoadError as error:
        if not hub_reachable():
            pytest.skip(f"gpt2/gpt2-medium not cached and the hub is unreachable: {error}")
        raise


@pytest.mark.parametrize(
    ("policy", "expected"), [("soft", SEED_SOFT_ACCEPTED), ("greedy", SEED_GREEDY_ACCEPTED)]
)
def test_seed_table(seed_pair, policy: str, expected: list[int]) -> None:  # type: ignore[no-untyped-def]
    config = DecodeConfig(drafter="gpt2", verifier="gpt2-medium", device="cpu", policy=policy)  # type: ignore[arg-type]
    accepted = [
        SpeculativeDecoder(seed_pair, config, prompt).run().stats.accepted
        for prompt in SEED_PROMPTS
    ]
    assert accepted == expected
