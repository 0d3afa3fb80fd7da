"""The app with a drafter that has no model: n-gram lookup (with its rounds of no drafts) and
early exit, named in the header."""

from __future__ import annotations

from typing import Any

from app_helpers import Recorder, plain, press, settle

from spectui.app.widgets import GatePanel, TokenDetail
from spectui.engine import events


async def test_ngram_rounds_without_drafts_step_and_finish(make_app: Any) -> None:
    recorder = Recorder()
    app = make_app("It is", drafter="ngram", max_new_tokens=16)

    async with app.run_test(size=(100, 32), message_hook=recorder) as pilot:
        screen = await settle(pilot)
        assert screen.state.phase == "ready", screen.state.error
        assert screen.state.model_sizes.startswith("n-gram lookup (n 3→1) → ")
        assert screen.state.models.startswith("n-gram lookup (n 3→1) → ")
        await press(pilot, "space")  # "It is": nothing to look up, a round of no drafts
        drafted = recorder.events(events.RoundDrafted)
        assert drafted and drafted[0].draft_ids == ()
        await press(pilot, "space")
        gates = plain(screen.query_one(GatePanel), 100)
        assert "bonus: the verifier's next token (no drafts this round)" in gates
        await press(pilot, "left")  # the bonus, in the token detail: no draft to accept
        detail = plain(screen.query_one(TokenDetail), 60)
        assert "bonus" in detail and "no drafts this round" in detail, detail
        assert "fully accepted" not in detail, detail
        await press(pilot, "escape")
        await press(pilot, "space", "space", "enter")
        for _ in range(20):
            if screen.state.phase == "finished":
                break
            await press(pilot, "enter")
        assert screen.state.phase == "finished", screen.state.error
        finished = recorder.events(events.RoundFinished)
        assert any(not r.draft_ids for r in finished) and any(r.draft_ids for r in finished)
        stats = screen.state.decode.stats
        assert stats is not None and stats.new_tokens == 16
        assert sum(len(r.appended_ids) for r in finished) == 16


async def test_the_header_names_the_early_exit_drafter(make_app: Any) -> None:
    async with make_app(drafter="early-exit:1").run_test(size=(100, 32)) as pilot:
        screen = await settle(pilot)
        assert screen.state.phase == "ready", screen.state.error
        assert screen.state.model_sizes.startswith("early exit (1/2 layers of the verifier) → ")
        await press(pilot, "space", "enter")
        assert screen.state.decode.stats is not None and screen.state.decode.stats.rounds == 1
