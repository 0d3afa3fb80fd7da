"""Replay: a decode saved from the app and replayed shows the same events, screens and stats."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from app_helpers import Recorder, press, run, settle, wait_until
from textual.pilot import Pilot

from spectui.app import messages
from spectui.app.app import SpectuiApp
from spectui.app.replay import replay_app
from spectui.app.sessions import TraceSession
from spectui.engine.trace.reader import read_trace

SIZE = (80, 24)
MIDWAY = ("enter", "enter", "enter", "space", "space", "left", "left")  # a token selected


def screen_lines(pilot: Pilot[Any]) -> list[str]:
    """The screen as plain text, one string per row."""
    # Textual has no public call for the screen as text lines (export_screenshot is an SVG),
    # so this reads its compositor's strips.
    return [strip.text for strip in pilot.app.screen._compositor.render_strips()]


def decode_events(recorder: Recorder) -> list[messages.DecodeEvent]:
    return recorder.of(messages.DecodeEvent)


async def save_live(app: SpectuiApp, pilot: Pilot[Any], path: Path, *keys: str) -> None:
    """Press `keys`, then save the trace with w (to --trace FILE, as the app was started)."""
    await press(pilot, *keys)
    await press(pilot, "w")
    assert app.decode_screen.state.trace_path == path and path.exists()


async def record_live(app: SpectuiApp, path: Path, *keys: str) -> None:
    """Run `app`, press `keys` and save its trace to `path`."""
    async with app.run_test() as pilot:
        await settle(pilot)
        await save_live(app, pilot, path, *keys)


@pytest.fixture
def live_app(make_app: Any, tmp_path: Path) -> Any:
    """An app on the tiny pair that saves its trace to tmp_path/live.jsonl."""

    def make(**overrides: Any) -> SpectuiApp:
        app = make_app(**overrides)
        live = tmp_path / "live.jsonl"
        app.decode_screen.state = replace(app.decode_screen.state, trace_path=live)
        return app

    return make


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"bonus": True}, id="soft"),
        pytest.param({"policy": "sample", "sample_draft": True, "seed": 3}, id="sample"),
    ],
)
async def test_a_finished_decode_replays_message_for_message(
    live_app: Any, tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """Every engine message of the live decode comes back, equal, in the same order."""
    live, replayed = Recorder(), Recorder()
    path = tmp_path / "live.jsonl"

    app = live_app(max_new_tokens=16, **overrides)
    async with app.run_test(message_hook=live) as pilot:
        screen = await settle(pilot)
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        live_stats = screen.state.decode.stats
        live_text = [piece.text for piece in screen.state.decode.pieces()]
    assert path.exists(), "--trace FILE saves when the decode ends"
    async with replay_app(read_trace(path), timings=False).run_test(message_hook=replayed) as pilot:
        screen = await settle(pilot)
        assert isinstance(screen.state.session, TraceSession) and screen.state.pair is None
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        assert screen.state.decode.stats == live_stats
        assert [piece.text for piece in screen.state.decode.pieces()] == live_text
        assert "finished (max tokens)" in screen.status_text

    assert decode_events(replayed) == decode_events(live)


async def test_replay_steps_selects_and_restarts(live_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"

    app = live_app()
    async with app.run_test() as pilot:
        await settle(pilot)
        await save_live(app, pilot, path, "enter", "enter", "enter")
        live_stats = app.decode_screen.state.decode.stats
    async with replay_app(read_trace(path)).run_test() as pilot:
        screen = await settle(pilot)
        assert screen.state.phase == "ready" and screen.state.decode.round is None
        assert f"replay of {path.name}" in screen.status_text
        await press(pilot, "space", "space")  # draft, then one gate check
        assert screen.state.decode.round is not None and screen.state.decode.round.n_checked == 1
        await press(pilot, "enter", "enter", "enter")
        assert screen.state.decode.stats == live_stats
        await press(pilot, "left")
        piece = screen.state.selected_piece()
        assert piece is not None and piece.check is not None
        assert len(piece.check.alternatives) == len(piece.check.check.alternatives) > 0
        # A trace saved mid-decode ends after its last round.
        assert screen.state.phase == "finished" and "end of trace" in screen.status_text
        await press(pilot, "ctrl+r")  # restart replays from the start
        assert screen.state.phase == "ready" and screen.state.decode.round is None
        await press(pilot, "enter")
        assert screen.state.decode.round is not None and screen.state.decode.round.index == 0


async def test_replay_offers_only_what_a_recording_can_do(live_app: Any, tmp_path: Path) -> None:
    """Retuning, branching and decoding again need the models: a replay hides those keys."""
    path = tmp_path / "live.jsonl"

    await record_live(live_app(), path, "enter")
    async with replay_app(read_trace(path)).run_test() as pilot:
        screen = await settle(pilot)
        policy, span = screen.state.config.policy, screen.state.config.draft_span
        for action in ("toggle_policy", "use_policy", "settings", "span", "edit_prompt"):
            assert screen.check_action(action, ()) is False, action
        shown = {key for key, active in pilot.app.active_bindings.items() if active.binding.show}
        assert not {"t", "s", "e"} & shown and {"space", "question_mark", "q"} <= shown
        titles = {c.title for c in pilot.app.get_system_commands(screen)}
        assert "Step" in titles and "Policy" not in titles
        assert not any(title.startswith("Policy:") for title in titles)
        await press(pilot, "t", "s", "e", "right_square_bracket")
        await screen.run_action("use_policy('greedy')")  # as a stale palette entry would
        assert pilot.app.screen is screen
        assert (screen.state.config.policy, screen.state.config.draft_span) == (policy, span)


async def test_replay_loads_no_torch(live_app: Any, tmp_path: Path) -> None:
    """`spectui replay` works where torch is not even imported."""
    path = tmp_path / "live.jsonl"

    await record_live(live_app(), path, "enter", "enter")

    script = f"""
import asyncio, sys
from spectui.app.replay import replay_app
from spectui.engine.trace.reader import read_trace

async def main():
    app = replay_app(read_trace({str(path)!r}))
    async with app.run_test() as pilot:
        screen = app.decode_screen
        await screen.settled()
        for _ in range(3):
            await pilot.press("enter")
            await screen.settled()
        assert screen.state.decode.stats.rounds == 2, screen.state.decode.stats
asyncio.run(main())
assert "torch" not in sys.modules and "transformers" not in sys.modules
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_replayed_screen_equals_the_live_one(
    live_app: Any, tmp_path: Path, snap_compare: Any
) -> None:
    """At the same point, the replay shows the live screen.

    The header adds "replay of", and the Footer offers only the keys a recording can do.
    """
    path = tmp_path / "live.jsonl"
    seen: dict[str, list[str]] = {}

    # A sync test with an async part: snap_compare below runs its own event loop.
    async def scenario() -> None:
        app = live_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, *MIDWAY)
            seen["live"] = screen_lines(pilot)
            await save_live(app, pilot, path, "escape", "enter", "enter")
        async with replay_app(read_trace(path), timings=False).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, *MIDWAY)
            seen["replay"] = screen_lines(pilot)

    run(scenario)

    live, replayed = seen["live"], seen["replay"]
    # The same panels, but for the stream's models line: the replay names its trace, not a device.
    models = [n for n, row in enumerate(live) if "←/→ inspect" in row]
    assert all("live.jsonl: drafter → verifier" in replayed[n] for n in models), replayed
    assert [r for n, r in enumerate(replayed[1:-1], 1) if n not in models] == [
        r for n, r in enumerate(live[1:-1], 1) if n not in models
    ]
    assert "t Policy" in live[-1] and "t Policy" not in replayed[-1] and "q Quit" in replayed[-1]
    # the live header ends in the models, in whichever form fits ("37.8K → 37.8K" at 80)
    status = re.sub(r" · [^·]*→[^·]*$", "", live[0].strip().removeprefix("spectui — "))
    # too wide for 80 columns whole: the app's name gives way before the status and the title
    header = f"spectui — {status} · replay of live.jsonl"
    assert replayed[0].strip() in header and status in replayed[0] and "…" not in replayed[0]

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await press(pilot, *MIDWAY)

    trace = read_trace(path)
    # The stored snapshot names no temporary directory: the trace is shown as live.jsonl.
    assert snap_compare(replay_app(trace, timings=False), terminal_size=SIZE, run_before=run_before)


async def test_autoplay_in_a_replay(live_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"

    app = live_app(max_new_tokens=12)
    async with app.run_test() as pilot:
        screen = await settle(pilot)
        while screen.state.phase != "finished":
            await press(pilot, "enter")
    async with replay_app(read_trace(path)).run_test() as pilot:
        screen = await settle(pilot)
        await pilot.press("plus", "plus", "plus", "p")
        await wait_until(pilot, lambda: screen.state.phase == "finished")
        assert screen.state.decode.n_generated == 12 and not screen.state.playing


async def test_a_replay_saves_the_same_trace(live_app: Any, tmp_path: Path) -> None:
    """w in a replay writes what it replayed: the same rounds, read back equal."""
    path = tmp_path / "live.jsonl"

    await record_live(live_app(), path, "enter", "enter")
    again = tmp_path / "again.jsonl"
    async with replay_app(read_trace(path), trace_path=again).run_test() as pilot:
        await settle(pilot)
        await press(pilot, "enter", "enter", "w")
    original, copy = read_trace(path), read_trace(again)
    assert copy.rounds == original.rounds and copy.header == original.header
    assert copy.appended_texts == original.appended_texts


DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("name", ["trace-v1-soft.jsonl", "trace-v1-sample.jsonl"])
async def test_traces_written_before_policy_records_still_replay(name: str) -> None:
    """Traces saved by spectui before the engine's restructuring read and replay to the end."""
    trace = read_trace(DATA / name)
    assert trace.done is not None and trace.rounds

    async with replay_app(trace, timings=False).run_test() as pilot:
        screen = await settle(pilot)
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        assert screen.state.decode.stats == trace.done.stats  # type: ignore[union-attr]
        view = screen.state.decode
        output = view.history + (view.round.appended if view.round is not None else [])
        assert "".join(piece.text for piece in output) == "".join(trace.appended_texts)
