"""Issue 23: every verdict visible, at every size, without colour, in a replay, in copied text."""

from __future__ import annotations

from typing import Any

import pytest
from app_helpers import press, region_lines, run, settle

from spectui.app.widgets import GatePanel
from spectui.engine.policies import policy_names, policy_short


@pytest.mark.parametrize("policy", policy_names())
def test_the_active_verdict_is_on_screen_at_every_width(make_app: Any, policy: str) -> None:
    """From 60×20 up, every judged row shows the active policy's ✓/✗ under its ▸ header."""

    async def scenario() -> None:
        app = make_app(policy=policy)
        async with app.run_test(size=(160, 20)) as pilot:
            screen = await settle(pilot)
            await press(pilot, "enter", "enter")  # a finished round: its judged rows
            current = screen.decode.round
            assert current is not None and current.n_checked
            verdicts = [slot.check.check.accepted for slot in current.drafts if slot.check]
            header = "▸" + policy_short(policy)
            for width in range(160, 59, -1):
                await pilot.resize_terminal(width, 20)
                await pilot.pause()
                rows = region_lines(app, screen.query_one(GatePanel))
                assert header in rows[1], (width, rows[1])
                column = rows[1].index(header)
                for row, accepted in zip(rows[2:], verdicts, strict=False):
                    shown = row[column : column + len(header) + 1]
                    assert ("▸✓" if accepted else "▸✗") in shown, (width, row)

    run(scenario)
