"""Fast-forward (f): the decode at engine speed, never waiting for a redraw, stopped by a key."""

from __future__ import annotations

import time
from typing import Any

import pytest
from app_helpers import plain, settle, wait_until

from spectui.app import messages
from spectui.app.control import StepControl
from spectui.app.driver import Poster
from spectui.app.pacing import MAX_SPEED
from spectui.app.screens.decode import DecodeScreen
from spectui.engine.events import EngineEvent, RoundFinished, TokenAppended

TOKENS = 64


def outline(screen: DecodeScreen) -> list[tuple[str, tuple[int, ...]]]:
    """The event log without its timings: each event's kind and the token ids it names."""
    assert screen.state.event_log is not None
    return [(type(event).__name__, token_ids(event)) for event in screen.state.event_log.events]


def token_ids(event: EngineEvent) -> tuple[int, ...]:
    if isinstance(event, TokenAppended):
        return (event.token_id,)
    if isinstance(event, RoundFinished):
        return event.appended_ids
    return ()


def slow_engine(monkeypatch: Any, seconds: float = 0.3) -> None:
    """A slower engine: each posted batch waits `seconds` (the tiny pair ends in ~0.1 s)."""
    flush = Poster.flush

    def slow_flush(poster: Poster) -> None:
        time.sleep(seconds)
        flush(poster)

    monkeypatch.setattr(Poster, "flush", slow_flush)


def count_shows(monkeypatch: Any, **widgets: type) -> dict[str, int]:
    """How many times each widget class's `show` runs, by the name it is passed as."""
    shown = dict.fromkeys(widgets, 0)

    def counting(name: str, show: Any) -> Any:
        def counted(self: Any, *args: Any, **kwargs: Any) -> None:
            shown[name] += 1
            show(self, *args, **kwargs)

        return counted

    for name, widget in widgets.items():
        monkeypatch.setattr(widget, "show", counting(name, widget.show))
    return shown


async def test_fast_forward_reaches_the_end_with_the_same_log_as_stepping(make_app: Any) -> None:
    async def stepped() -> tuple[list[Any], list[str]]:
        async with make_app(max_new_tokens=TOKENS).run_test(size=(120, 40)) as pilot:
            screen = await settle(pilot)
            while screen.state.phase == "ready":
                await pilot.press("enter")
                await settle(pilot)
            assert screen.state.event_log is not None
            return outline(screen), list(screen.state.event_log.shown)

    async def fast() -> tuple[list[Any], list[str]]:
        async with make_app(max_new_tokens=TOKENS).run_test(size=(120, 40)) as pilot:
            screen = await settle(pilot)
            await pilot.press("f")
            await wait_until(pilot, lambda: screen.state.phase == "finished")
            await settle(pilot)
            assert "finished (" in screen.status_text and not screen.state.playing
            assert screen.state.event_log is not None and screen.state.event_log.done is not None
            return outline(screen), list(screen.state.event_log.shown)

    results: dict[str, tuple[list[Any], list[str]]] = {}

    results["stepped"] = await stepped()
    results["fast"] = await fast()

    assert results["fast"] == results["stepped"]


@pytest.mark.parametrize("key", ["p", "space", "f"])
async def test_a_key_stops_fast_forward_promptly(make_app: Any, monkeypatch: Any, key: str) -> None:
    slow_engine(monkeypatch)
    async with make_app(max_new_tokens=TOKENS).run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await pilot.press("f")
        assert "fast-forward" in screen.status_text
        await wait_until(pilot, lambda: screen.state.decode.stats is not None)
        await pilot.press(key)
        await settle(pilot)  # the worker stops and the screen shows all it posted
        assert not screen.state.playing and "paused" in screen.status_text
        assert screen.state.phase == "ready"
        assert screen.state.event_log is not None
        logged = len(screen.state.event_log.events)
        await pilot.pause(0.3)
        assert len(screen.state.event_log.events) == logged, "stopped means stopped"


def test_max_autoplay_runs_at_engine_speed_as_fast_forward_does() -> None:
    control = StepControl(speed=MAX_SPEED - 1)
    control.set_playing(True)
    assert not control.fast  # "10 steps/s" waits for each redraw
    control.set_speed(MAX_SPEED)
    assert control.fast and not control.fast_forwarding  # "max" does not: engine speed
    control.set_playing(False)
    assert not control.fast


def test_fast_forward_posts_a_round_as_one_batch() -> None:
    control = StepControl(speed=0)
    control.fast_forward(True)
    assert control.fast and control.fast_forwarding
    posted: list[Any] = []
    poster = Poster(posted.append, control, run=1)
    poster._batch = [messages.DecodeEvent(1, None, {}) for _ in range(3)]  # type: ignore[arg-type]
    poster.flush()
    assert [type(message) for message in posted] == [messages.DecodeBatch]
    assert len(posted[0].events) == 3
    control.set_playing(False)
    assert not control.fast and not control.fast_forwarding


async def test_at_engine_speed_most_redraws_show_only_the_progress(
    make_app: Any, monkeypatch: Any
) -> None:
    """Fast-forward redraws the header and the stream 4 times a second, every panel once a
    second (and at the end): a key pressed meanwhile waits less for a frame in progress."""
    from spectui.app import pacing
    from spectui.app.widgets import StatsPanel, TokenStream

    shown = count_shows(monkeypatch, stream=TokenStream, stats=StatsPanel)
    app = make_app(max_new_tokens=200, stop_at_eos=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        shown.update(stream=0, stats=0)
        started = time.monotonic()
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.state.phase == "finished", timeout=120)
        await settle(pilot)
        elapsed = time.monotonic() - started
        stats = screen.query_one(StatsPanel)
        assert screen.state.decode.stats is not None
        assert f"{screen.state.decode.stats.new_tokens} tokens" in plain(stats), "all at the end"
    # Every panel: once a second, at the start and the end; the stream at every redraw.
    assert shown["stats"] <= elapsed / pacing.FULL_REDRAW_INTERVAL + 4
    if elapsed > 2 * pacing.FULL_REDRAW_INTERVAL:
        assert shown["stream"] > shown["stats"]


async def test_at_engine_speed_keys_leave_the_stats_to_the_redraw_once_a_second(
    make_app: Any, monkeypatch: Any
) -> None:
    """A key's own redraw during fast-forward draws what the key changed, not the stats the
    engine moved on meanwhile: those follow at most once a second (every key drew them, ~5 ms
    of its repaint here and 14 more lines for the frame)."""
    from spectui.app import pacing
    from spectui.app.widgets import StatsPanel, TokenDetail

    slow_engine(monkeypatch)  # the run outlasts the keys
    shown = count_shows(monkeypatch, detail=TokenDetail, stats=StatsPanel)
    app = make_app(max_new_tokens=200, stop_at_eos=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.state.decode.stats is not None)
        shown.update(detail=0, stats=0)
        started = time.monotonic()
        presses = 12
        for index in range(presses):
            await pilot.press("left" if index % 2 == 0 else "end")
            await pilot.pause(0.15)
        elapsed = time.monotonic() - started
        assert screen.state.playing, f"the decode outlasted the keys ({screen.state.phase})"
        await pilot.press("f")
        await settle(pilot)
    assert shown["detail"] >= presses, "each key redrew what it changed"
    assert shown["stats"] <= elapsed / pacing.FULL_REDRAW_INTERVAL + 2
