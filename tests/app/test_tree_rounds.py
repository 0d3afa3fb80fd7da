"""Until the app has its tree view (issue 25, item 4), a decode of token trees still steps
through it: the walk's checks one key at a time, the output and the stats as the engine's."""

from __future__ import annotations

from typing import Any

from app_helpers import Recorder, press, settle

from spectui.engine import events


async def test_tree_rounds_step_through_the_app(make_app: Any) -> None:
    recorder = Recorder()
    app = make_app(tree_topk=2, tree_depth=3, tree_nodes=6, policy="soft")
    async with app.run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space")  # draft the first tree, then its first check
        assert len(recorder.events(events.TokenChecked)) == 1
        await press(pilot, "enter", "enter", "enter")
        finished = recorder.events(events.RoundFinished)
        assert len(finished) >= 2 and all(event.tree is not None for event in finished)
        stats = screen.state.decode.stats
        assert stats is not None and screen.state.decode.n_generated == stats.new_tokens
        assert stats.drafted == sum(len(event.draft_ids) for event in finished)
