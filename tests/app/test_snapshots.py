"""Snapshot tests at 80×24 and 120×40 (timings hidden, greedy drafts: deterministic).

Regenerate with `pytest tests/app --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from typing import Any

import pytest
from app_helpers import keys, settle
from textual.pilot import Pilot
from textual.widgets import Input

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.mark.parametrize("size", SIZES)
def test_mid_round(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """A round drafted, two gate checks revealed, three pending."""
    assert snap_compare(make_app(), terminal_size=size, run_before=keys("space", "space", "space"))


@pytest.mark.parametrize("size", SIZES)
def test_after_rounds_with_stats(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """Three finished rounds (stats filled) and a fourth one under way."""
    run_before = keys("enter", "enter", "enter", "space", "space")
    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_greedy_exact_with_a_rejection(
    snap_compare: Any, make_app: Any, size: tuple[int, int]
) -> None:
    """Under greedy-exact a draft is rejected, struck out, and the correction follows."""
    app = make_app(policy="greedy")
    assert snap_compare(app, terminal_size=size, run_before=keys("enter", "enter", "enter"))


def test_selected_token_at_80x24(snap_compare: Any, make_app: Any) -> None:
    """An arrow key selects a token: its gate row and the verifier's top-k replace the panels."""
    run_before = keys("space", "space", "space", "left", "left", "left", "left")
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_settings_refusing_a_value(snap_compare: Any, make_app: Any) -> None:
    """The settings screen names the allowed range of a refused value."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("s")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        pilot.app.screen.query_one("#topk_gate", Input).value = "0"
        await pilot.press("ctrl+s")

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=keys("question_mark"))


def test_engine_error(snap_compare: Any, make_app: Any) -> None:
    """An error once the models loaded (a prompt too long): the reason in a panel, the app still
    running. (Models that cannot load end the app: see test_faults.py.)"""
    app = make_app("word " * 80)
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys())


def test_no_color(snap_compare: Any, make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With NO_COLOR the origins and verdicts stay readable (styles and ✓/✗, no colour)."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(policy="greedy")
    run_before = keys("enter", "space", "space")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """c: both policies' outputs (stacked at 80 columns), divergences marked, the cost table."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("c")
        await pilot.app.screen.settled()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


def test_past_sampling_round(snap_compare: Any, make_app: Any) -> None:
    """b: an earlier speculative-sampling round, with p/q and u, its tokens marked ⟦ ⟧."""
    app = make_app(policy="sample", sample_draft=True)
    run_before = keys("enter", "enter", "enter", "b")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
