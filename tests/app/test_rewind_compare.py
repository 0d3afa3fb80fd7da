"""Pilot tests for stepping back through rounds, branching, and the compare screen."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from app_helpers import PROMPT, Recorder, plain, press, settle
from textual.pilot import Pilot
from textual.widgets import Static

from spectui.app.control import StepControl
from spectui.app.screens.compare import CompareScreen
from spectui.app.screens.decode import DecodeScreen
from spectui.app.widgets import GatePanel, StatusLine, TokenStream
from spectui.app.widgets.panel import Panel
from spectui.engine import SpeculativeDecoder, events
from spectui.engine.compare import compare_policies
from spectui.engine.config import DecodeConfig
from spectui.engine.events import RoundFinished, TokenAppended
from spectui.engine.stats import StatsSnapshot
from spectui.engine.text import StreamText


def _timeless(stats: StatsSnapshot | None) -> StatsSnapshot | None:
    if stats is None:
        return None
    return replace(stats, prefill_seconds=0.0, draft_seconds=0.0, verify_seconds=0.0)


def shown_output(screen: DecodeScreen) -> list[tuple[str, str]]:
    """What the stream shows after the prompt: each output token's text and origin."""
    rounds = screen.state.decode.rounds()
    return [(piece.text, piece.kind.value) for view in rounds for piece in view.appended]


def expected_output(screen: DecodeScreen, decoder: Fresh) -> list[tuple[str, str]]:
    """The same for an engine decode, its texts cut as the app's worker cuts them."""
    assert screen.state.pair is not None
    tokenizer = screen.state.pair.tokenizer
    texts = StreamText(lambda ids: tokenizer.decode(list(ids), skip_special_tokens=False))
    return [(texts.add(token), origin) for token, origin in decoder.appended]


class Fresh(SpeculativeDecoder):
    """A decoder that remembers each appended token's origin."""

    appended: list[tuple[int, str]]


def fresh_switch(screen: DecodeScreen, at_round: int, **changes: Any) -> Fresh:
    """The engine on its own: the app's first settings, retuned live just before `at_round`."""
    assert screen.state.pair is not None
    config = screen.state.decode.rounds()[0].config
    decoder = Fresh(screen.state.pair, config, PROMPT)
    decoder.appended = []
    if at_round == 0:
        decoder.retune(**changes)
    for event in decoder.events():
        if isinstance(event, TokenAppended):
            decoder.appended.append((event.token_id, event.origin.value))
        if isinstance(event, RoundFinished) and event.round_index == at_round - 1:
            decoder.retune(**changes)
    return decoder


async def run_to_the_end(pilot: Pilot[Any]) -> DecodeScreen:
    screen = await settle(pilot)
    while screen.state.phase != "finished":
        await press(pilot, "enter")
    return screen


async def test_b_and_n_step_through_earlier_rounds(make_app: Any) -> None:
    async with make_app(policy="greedy").run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "enter", "enter")
        assert screen.state.decode.round is not None and screen.state.decode.round.index == 2
        await press(pilot, "b")
        assert screen.state.viewed == 1
        gates = screen.query_one(GatePanel)
        assert str(gates.border_title).startswith("◀ past round 2")
        assert "B branch here" in str(gates.border_subtitle)
        shown = plain(gates)
        for slot in screen.state.decode.rounds()[1].drafts:
            if slot.check is not None:
                assert ("✓" in shown) or ("✗" in shown)
        stream = plain(screen.query_one(TokenStream).query_one(Panel))
        assert stream.count("⟦") == 1 and stream.count("⟧") == 1
        assert "◀ round 2/3 · B branch" in screen.status_text
        await press(pilot, "b")
        assert screen.state.viewed == 0
        await press(pilot, "b")  # there is no round before the first
        assert screen.state.viewed == 0
        await press(pilot, "n", "n")
        assert screen.state.viewed is None
        assert str(gates.border_title).startswith("round 3")
        await press(pilot, "b", "escape")
        assert screen.state.viewed is None


@pytest.mark.parametrize(
    ("policy", "toggles", "switched_to"),
    [
        pytest.param("greedy", 1, "soft", id="greedy-to-soft"),
        pytest.param("soft", 4, "greedy", id="soft-to-greedy"),  # via sample, relaxed, typical
        pytest.param("greedy", 2, "sample", id="greedy-to-sample"),
    ],
)
async def test_branch_after_the_end_equals_a_fresh_decode_switching_there(
    make_app: Any, policy: str, toggles: int, switched_to: str
) -> None:
    recorder = Recorder()

    async with make_app(policy=policy).run_test(message_hook=recorder) as pilot:
        screen = await run_to_the_end(pilot)
        assert len(screen.state.decode.rounds()) >= 4
        await press(pilot, "b", "b")  # from the last round back two
        target = screen.state.viewed
        assert target is not None
        await press(pilot, *(["t"] * toggles))
        assert screen.state.config.policy == switched_to
        await press(pilot, "B")
        rewound = recorder.events(events.RoundRewound)
        assert len(rewound) == 1 and rewound[0].round_index == target
        assert screen.state.phase == "ready" and screen.state.viewed is None
        assert len(screen.state.decode.rounds()) == target
        assert screen.state.decode.n_generated == rewound[0].n_generated
        assert rewound[0].stats.rounds == target
        assert rewound[0].config.policy == switched_to
        await press(pilot, "enter")
        current = screen.state.decode.round
        assert current is not None and current.index == target
        assert current.config.policy == switched_to
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        fresh = fresh_switch(screen, target, policy=switched_to)
        assert shown_output(screen) == expected_output(screen, fresh)
        assert _timeless(screen.state.decode.stats) == _timeless(fresh.tally.snapshot())


async def test_branch_mid_round_drops_the_rest_of_the_round(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app(policy="soft").run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "enter", "space", "space")  # round 3 half checked
        assert screen.state.decode.round is not None and screen.state.decode.round.n_checked == 1
        checked = len(recorder.events(events.TokenChecked))
        await press(pilot, "t", "t", "t", "t", "b", "B")  # → greedy-exact, from round 2
        assert len(recorder.events(events.TokenChecked)) == checked, "no check after B"
        assert len(screen.state.decode.rounds()) == 1 and screen.state.decode.stats is not None
        assert screen.state.decode.stats.rounds == 1
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        fresh = fresh_switch(screen, 1, policy="greedy")
        assert shown_output(screen) == expected_output(screen, fresh)
        assert _timeless(screen.state.decode.stats) == _timeless(fresh.tally.snapshot())


async def test_branch_needs_a_viewed_round_and_can_go_back_to_the_start(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        await press(pilot, "B")  # nothing viewed: refused with the reason
        assert not recorder.events(events.RoundRewound)
        assert any("Step back to a round" in m.text for m in recorder.of(StatusLine.Said))
        await press(pilot, "enter", "enter", "b", "B")
        assert [m.round_index for m in recorder.events(events.RoundRewound)] == [0]
        assert screen.state.decode.round is None and screen.state.decode.n_generated == 0
        assert screen.state.decode.stats is not None and screen.state.decode.stats.rounds == 0
        await press(pilot, "enter")
        assert screen.state.decode.round is not None and screen.state.decode.round.index == 0
        assert screen.state.decode.stats.rounds == 1


async def test_compare_screen_shows_both_outputs_and_the_costs(make_app: Any) -> None:
    async with make_app(max_new_tokens=24).run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await pilot.press("c")
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        await compare.settled()
        await pilot.pause()
        assert screen.state.pair is not None
        expected = compare_policies(
            screen.state.pair, screen.state.config, PROMPT, max_new_tokens=24
        )
        result = compare.comparison
        assert result is not None
        assert [side.output_ids for side in result.sides] == [
            side.output_ids for side in expected.sides
        ]
        soft = expected.side("soft")
        summary = plain(compare.query_one("#compare-summary", Static), 120)
        assert f"{len(soft.off_argmax)}/{len(soft.output_ids)} tokens" in summary
        assert f"{soft.log_likelihood:.2f}" in summary
        assert f"{expected.side('greedy').log_likelihood:.2f}" in summary
        soft_text = plain(compare.query_one("#soft-text", Static), 120)
        assert soft_text.startswith(PROMPT)
        if expected.first_divergence is not None:
            assert "▶" in soft_text and f"token {expected.first_divergence + 1}" in summary
        await pilot.press("escape")
        assert pilot.app.screen is screen


def test_a_branch_request_wakes_the_worker_and_stops_autoplay() -> None:
    control = StepControl()
    control.set_playing(True)
    control.retune(DecodeConfig(draft_span=3))
    settings = DecodeConfig(draft_span=3, policy="greedy")
    control.branch(2, settings)
    assert not control.playing and control.branch_pending
    assert control.wait() is True  # returns at once: nothing is stepped, a branch is due
    assert control.take_branch() == (2, settings)
    assert control.take_branch() is None and control.take_settings() is None


async def test_b_shows_the_viewed_rounds_last_check_in_the_token_detail(make_app: Any) -> None:
    from spectui.app.widgets.token_detail import TokenDetail

    async with make_app(policy="greedy").run_test(size=(160, 48)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "enter", "enter")
        detail = screen.query_one(TokenDetail)
        assert str(detail.border_title) == "latest check"
        assert "round 3" in plain(detail)
        await press(pilot, "b")
        assert str(detail.border_title) == "round 2 · last check"
        assert "round 2" in plain(detail) and "round 3" not in plain(detail)
        await press(pilot, "n")  # back to live
        assert str(detail.border_title) == "latest check" and "round 3" in plain(detail)
