"""The app as the README's first command runs it: no model options, so the bundled pair."""

from __future__ import annotations

import pytest
from app_helpers import PROMPT, press, settle

from spectui.app.app import SpectuiApp
from spectui.app.rounds import PieceKind
from spectui.engine import DecodeConfig


async def test_app_with_no_model_options_steps_through_the_bundled_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = SpectuiApp(DecodeConfig(max_new_tokens=30), PROMPT, [PROMPT], timings=False)

    async with app.run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        assert screen.state.phase == "ready", screen.state.error
        assert screen.state.models.startswith("drafter → verifier · cpu")
        screen = await press(pilot, "space", "space")  # draft, then one gate check
        round_view = screen.state.decode.round
        assert round_view is not None and len(round_view.drafts) == 5
        assert round_view.n_checked == 1
        screen = await press(pilot, "enter", "enter", "enter")  # the rest of three rounds
        pieces = screen.state.decode.pieces()
        assert screen.state.decode.stats is not None and screen.state.decode.stats.rounds >= 3
        shown = "".join(piece.text for piece in pieces)
        assert sum(ch.isalpha() for ch in shown) >= 10, shown  # English words, not bytes
        assert {piece.kind for piece in pieces} & {PieceKind.DRAFT}, "some drafts accepted"
