"""The compare view (c) over three policies: a column each, measured against the first."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from app_helpers import PROMPT, plain, settle
from textual.containers import VerticalScroll
from textual.widgets import Static

from spectui.app.app import SpectuiApp
from spectui.app.screens.compare import DIVERGENCE_MARK, CompareScreen
from spectui.engine.compare import compare_policies
from spectui.engine.config import DecodeConfig

THREE = ("greedy", "soft", "sample")
LABELS = ("greedy-exact", "soft-guarded", "speculative-sampling")


def three_way_app(tiny_pair: Any) -> SpectuiApp:
    config = DecodeConfig(
        drafter=tiny_pair.drafter,
        verifier=tiny_pair.verifier,
        max_new_tokens=24,
        p_thresh=0.0,
        topk_gate=50,
        margin_gate=1.0,  # loose gates: soft-guarded leaves the verifier's argmax
    )
    return SpectuiApp(config, PROMPT, [PROMPT], timings=False, compared=THREE)


async def test_compare_view_shows_a_column_per_policy(tiny_pair: Any) -> None:
    async with three_way_app(tiny_pair).run_test(size=(150, 40)) as pilot:
        screen = await settle(pilot)
        await pilot.press("c")
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        await compare.settled()
        await pilot.pause()
        assert compare.error is None
        result = compare.comparison
        assert result is not None and result.policies == THREE
        expected = compare_policies(screen.state.pair, screen.state.config, PROMPT, 24, THREE)
        assert [s.output_ids for s in result.sides] == [s.output_ids for s in expected.sides]
        sides = compare.query(".compare-side").results(VerticalScroll)
        assert [str(side.border_title) for side in sides] == list(LABELS)
        for side in expected.sides:
            text = plain(compare.query_one(f"#{side.policy}-text", Static), 150)
            assert text.startswith(PROMPT)
        summary_panel = compare.query_one("#compare-summary", Static)
        assert summary_panel.border_title == "what soft-guarded and speculative-sampling cost"
        summary = plain(summary_panel, 150)
        header = next(line for line in summary.splitlines() if line.startswith(" "))
        assert all(label in header for label in LABELS)
        differs = next(line for line in summary.splitlines() if "differs from" in line)
        assert differs.startswith("differs from greedy-exact")
        for side, differing in zip(expected.sides[1:], expected.differing[1:], strict=True):
            assert f"{len(side.off_argmax)}/{len(side.output_ids)} tokens" in summary
            if differing:
                assert f"{len(differing)}/24 from token {differing[0] + 1}" in differs
        for row in ("off verifier argmax", "log-likelihood", "draft acc. · α per token"):
            assert row in summary
        first = expected.first_divergence
        assert first is not None  # loose gates and sampling both leave the greedy output
        assert f"{DIVERGENCE_MARK} first divergence from greedy-exact at token {first + 1}" in (
            summary
        )
        await pilot.press("escape")
        assert pilot.app.screen is screen


async def test_compare_view_defaults_to_greedy_against_soft(make_app: Any) -> None:
    async with make_app(max_new_tokens=12).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        await compare.settled()
        assert compare.policies == ("greedy", "soft")
        summary = plain(compare.query_one("#compare-summary", Static), 120)
        assert "differs from" not in summary  # two sides: the heading says it


async def test_the_reference_marks_where_any_other_side_leaves_it(tiny_pair: Any) -> None:
    async with three_way_app(tiny_pair).run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        await compare.settled()
        await pilot.pause()
        result = compare.comparison
        assert result is not None
        reference = compare.query_one("#greedy-text", Static).content
        underlined = {span.start for span in reference.spans if "underline" in str(span.style)}
        assert underlined  # every differing position of any side is marked on the reference
        assert len(underlined) == len(result.differing_anywhere)


async def test_each_decode_shows_in_its_column_as_it_comes(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view was blank until every policy had decoded and been scored (~80 s on the
    default pair): each column now shows its policy's text after every round. The real
    comparison runs, held back after its first policy's decode until the test has looked."""
    looked = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        progress = args[5]

        def shown_then_held(policy: str, output: tuple[int, ...], total: int) -> None:
            progress(policy, output, total)
            if policy == "soft" and not looked.is_set():
                looked.wait(timeout=60)  # the greedy column is complete, soft's has begun

        return compare_policies(*args[:5], shown_then_held)

    monkeypatch.setattr("spectui.engine.compare.compare_policies", held)
    async with make_app(max_new_tokens=12).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        for _ in range(200):
            await pilot.pause(0.05)
            if "soft" in compare.done:
                break
        greedy = plain(compare.query_one("#greedy-text", Static), 60)
        side = compare.query_one("#greedy-side", VerticalScroll)
        assert compare.comparison is None, "still decoding"
        assert greedy.replace("\n", "").startswith(PROMPT) and len(greedy.strip()) > len(PROMPT)
        assert side.border_subtitle == "12/12 tokens so far"
        looked.set()
        await compare.settled()
        assert compare.comparison is not None
