"""Every size: snapshots at 60×20, 80×24 and 120×40, and a resize mid-decode.

The scenarios: mid-round, six settings changes in a row (no toast over the gate table), a
selected token, a replay, and the end of a decode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_helpers import keys, press, settle
from textual.pilot import Pilot
from textual.widgets import Footer

from spectui.app.replay import replay_app
from spectui.app.widgets import GatePanel
from spectui.engine.trace.reader import read_trace

SIZES = [
    pytest.param((60, 20), id="60x20"),
    pytest.param((80, 24), id="80x24"),
    pytest.param((120, 40), id="120x40"),
]
TRACE = Path(__file__).parent.parent / "data" / "trace-v1-soft.jsonl"


@pytest.mark.parametrize("size", SIZES)
def test_mid_round(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=keys("enter", "space", "space"))


@pytest.mark.parametrize("size", SIZES)
def test_six_settings_changes(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """[ ] [ ] t t: six changes, and no message covers the gate table."""
    run_before = keys(
        "enter", "bracketleft", "bracketright", "bracketleft", "bracketright", "t", "t"
    )
    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_selected_token(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    run_before = keys("enter", "space", "left", "left")
    assert snap_compare(make_app(policy="greedy"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_replay(snap_compare: Any, size: tuple[int, int]) -> None:
    app = replay_app(read_trace(TRACE), timings=False)
    assert snap_compare(app, terminal_size=size, run_before=keys("enter", "enter"))


@pytest.mark.parametrize("size", SIZES)
def test_end_of_a_decode(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    app = make_app(max_new_tokens=12)
    assert snap_compare(app, terminal_size=size, run_before=keys(*["enter"] * 6, "space"))


def footer_text(pilot: Pilot[Any]) -> str:
    """The Footer's keys that are on screen (a key pushed past the right edge is not)."""
    width = pilot.app.size.width
    footer = pilot.app.screen.query_one(Footer)
    return " ".join(
        str(key.render())
        for key in footer.query("FooterKey")
        if key.region.width > 0 and key.region.right <= width
    )


async def test_a_resize_mid_decode_keeps_the_verdicts_and_help_and_quit(make_app: Any) -> None:
    app = make_app(policy="greedy")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "space", "space")
        for size in ((60, 20), (120, 40), (60, 20)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await app.screen.settled()
            gates = app.screen.query_one(GatePanel)
            assert gates.display and gates.region.height > 0, size
            header = str(gates.content).splitlines()[0]
            assert "▸greedy" in header, (size, header)
            shown = footer_text(pilot)
            assert "Help" in shown and "Quit" in shown, (size, shown)
