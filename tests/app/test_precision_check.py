"""Below float32 the stats panel counts where a block's argmax and a step's differ along the
decode's own text (`app/precision.py`); an exact pair shows no such cell."""

from __future__ import annotations

from typing import Any

import torch
from app_helpers import PROMPT, plain, settle, wait_until

from spectui.app.app import SpectuiApp
from spectui.app.precision import CHECK_TOKENS
from spectui.app.widgets import StatsPanel
from spectui.engine.config import DecodeConfig
from spectui.engine.models.cache import CachedModel


def by_hand(model: Any, prompt: list[int], text: list[int], block: int) -> int:
    """Positions of `text` where a block's argmax is not a step's, counted without the code
    under test: one cache fed a token at a time, another fed `block` tokens at a time."""
    device = torch.device("cpu")
    step, blocks = CachedModel(model, device), CachedModel(model, device)
    step.forward(prompt, 1)
    blocks.forward(prompt, 1)
    one_at_a_time = [int(step.forward([token], 1).argmax()) for token in text]
    together: list[int] = []
    for at in range(0, len(text), block):
        feed = text[at : at + block]
        together += blocks.forward(feed, len(feed)).argmax(-1).tolist()
    return sum(a != b for a, b in zip(one_at_a_time, together, strict=True))


async def test_a_bfloat16_decode_counts_where_block_and_step_disagree(tiny_pair: Any) -> None:
    config = DecodeConfig(
        drafter=tiny_pair.drafter,
        verifier=tiny_pair.verifier,
        dtype="bfloat16",
        max_new_tokens=CHECK_TOKENS + 24,
    )
    app = SpectuiApp(config, PROMPT, [PROMPT])
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await settle(pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.state.precision is not None, timeout=120)
        await pilot.press("f")
        await settle(pilot)
        checked = screen.state.precision
        assert checked is not None and checked.positions == CHECK_TOKENS
        assert checked.block == config.draft_span + 1
        pair = screen.state.pair
        prompt = list(screen.state.source.decoder.prompt_ids)  # type: ignore[union-attr]
        text = list(screen.state.source.decoder.output_ids[:CHECK_TOKENS])  # type: ignore[union-attr]
        assert checked.differ == by_hand(pair.verifier, prompt, text, checked.block)
        panel = screen.query_one(StatsPanel)
        shown = plain(panel, width=150)
        assert f"block ≠ step {checked.differ}/{CHECK_TOKENS} positions" in shown
        assert f"(blocks of {checked.block}, this text)" in shown
        # ... and on screen: the panel grew to the cell that came last (it kept its first
        # height and cut the new cells off)
        at_its_width = plain(panel, width=panel.size.width).rstrip("\n").splitlines()
        assert len(at_its_width) <= panel.size.height
        assert "block ≠ step" in at_its_width[-1] or "block ≠ step" in at_its_width[-2]


async def test_an_exact_pair_is_not_checked(tiny_pair: Any) -> None:
    config = DecodeConfig(
        drafter=tiny_pair.drafter, verifier=tiny_pair.verifier, max_new_tokens=CHECK_TOKENS + 12
    )
    app = SpectuiApp(config, PROMPT, [PROMPT])
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await settle(pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.state.phase == "finished", timeout=120)
        await settle(pilot)
        assert screen.state.precision is None
        assert "block ≠ step" not in plain(screen.query_one(StatsPanel), width=150)
