"""The stats panel's cost model: timed once per draft span, both speedups beside it."""

from __future__ import annotations

from typing import Any

from app_helpers import PROMPT, plain, settle, wait_until

from spectui.app.app import SpectuiApp
from spectui.app.widgets import StatsPanel
from spectui.engine.config import DecodeConfig
from spectui.engine.cost.model import measured_speedup, predicted_speedup


def timed_app(tiny_pair: Any) -> SpectuiApp:
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier, max_new_tokens=40)
    return SpectuiApp(config, PROMPT, [PROMPT], timings=True)


async def test_each_span_is_timed_once_and_both_speedups_show(tiny_pair: Any) -> None:
    async with timed_app(tiny_pair).run_test(size=(160, 48)) as pilot:
        screen = await settle(pilot)
        await wait_until(pilot, lambda: 5 in screen.state.costs)  # timed before the first key
        await pilot.press("enter", "enter")  # two rounds at k=5
        await settle(pilot)
        await pilot.press("right_square_bracket")  # k 5 → 6, from the next round
        await pilot.press("enter")
        await settle(pilot)
        await wait_until(pilot, lambda: 6 in screen.state.costs)
        assert set(screen.state.costs) == {5, 6}
        stats = screen.state.decode.stats
        assert stats is not None and {c.k for c in stats.round_shapes} == {5, 6}
        cost = screen.state.costs[6]
        assert cost.samples >= 3 and cost.verifier_step > 0
        text = plain(screen.query_one(StatsPanel), width=150)
        assert f"c {cost.c:.2f} · r_6 {cost.r_k:.2f}" in text
        predicted = predicted_speedup(stats, screen.state.costs)
        measured = measured_speedup(stats, cost.verifier_step)
        assert predicted is not None and measured is not None
        assert f"{predicted:.2f}× predicted · {measured:.2f}× measured" in text
        timed = dict(screen.state.costs)
        await pilot.press("ctrl+r")  # a restart keeps the pair: nothing is timed again
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.state.costs == timed and screen.state.costs[5] is timed[5]


async def test_no_cost_model_without_timings(make_app: Any) -> None:
    """Snapshots hide timings (make_app's apps), and with them the cost model."""

    async with make_app().run_test(size=(160, 48)) as pilot:
        screen = await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.state.costs == {}
        assert "cost model" not in plain(screen.query_one(StatsPanel), width=150)


async def test_a_round_cut_short_at_the_end_still_has_a_predicted_speedup(tiny_pair: Any) -> None:
    """max_new_tokens 3 cuts the only round's draft below k = 5, the span timed: its cost is
    derived from k = 5's per-token costs, and the panel says so."""
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier, max_new_tokens=3)

    app = SpectuiApp(config, PROMPT, [PROMPT], timings=True)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await settle(pilot)
        await wait_until(pilot, lambda: 5 in screen.state.costs)
        await pilot.press("enter")
        await settle(pilot)
        stats = screen.state.decode.stats
        assert stats is not None and {c.k for c in stats.round_shapes} - {5}, "cut short"
        predicted = predicted_speedup(stats, screen.state.costs)
        assert predicted is not None
        text = plain(screen.query_one(StatsPanel), width=150)
        assert f"{predicted:.2f}× predicted" in text, text
        cut = sorted({c.k for c in stats.round_shapes} - {5})
        assert f"k={','.join(map(str, cut))} derived from k=5" in text, text
