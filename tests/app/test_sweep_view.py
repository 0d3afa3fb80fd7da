"""The sweep view: a finished sweep's table and plot; enter decodes the highlighted setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_helpers import Recorder, plain, settle
from textual.widgets import DataTable, Static

from spectui.app.app import SpectuiApp
from spectui.app.screens.decode import DecodeScreen
from spectui.app.screens.sweep import SweepScreen
from spectui.cli import build_parser, main
from spectui.commands.app import sweep_start
from spectui.engine.events import RoundDrafted
from spectui.engine.sweep.file import Sweep, read_sweep
from spectui.engine.sweep.grid import SweepError

PROMPTS = ("Once upon a time,", "She walked into the")


@pytest.fixture(scope="module")
def sweep_file(tiny_pair: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """greedy, and soft at two p thresholds, on the tiny pair: 2 prompts × 8 tokens."""
    out = tmp_path_factory.mktemp("sweep") / "sweep.jsonl"
    status = main(
        [
            "sweep",
            "--drafter",
            tiny_pair.drafter,
            "--verifier",
            tiny_pair.verifier,
            *(arg for prompt in PROMPTS for arg in ("--prompt", prompt)),
            "--max-new-tokens",
            "8",
            "--policies",
            "greedy,soft",
            "--grid",
            "p_thresh=0.0,0.3",
            "--margin-gate",
            "1",
            "--cost-seconds",
            "0",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    return out


def sweep_app(sweep: Sweep) -> SpectuiApp:
    header = sweep.header
    return SpectuiApp(header.config, header.prompts[0], header.prompts, timings=False, sweep=sweep)


async def test_enter_on_a_row_decodes_that_setting(sweep_file: Path) -> None:
    sweep = read_sweep(sweep_file)
    assert [row.label for row in sweep.rows] == ["greedy", "soft p_thresh=0", "soft p_thresh=0.3"]
    recorder = Recorder()

    app = sweep_app(sweep)
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        decode = await settle(pilot)
        view = app.screen
        assert isinstance(view, SweepScreen)
        table = view.query_one(DataTable)
        assert table.row_count == 3
        assert [str(table.get_row_at(i)[1]) for i in range(3)] == [r.label for r in sweep.rows]
        plot = plain(view.query_one("#sweep-plot", Static), 140)
        assert "★" in plot and "equal share" in plot
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        assert app.screen is decode
        chosen = sweep.config_of(sweep.rows[2])
        assert chosen.policy == "soft" and chosen.p_thresh == 0.3
        assert decode.state.config == chosen and decode.state.prompt == PROMPTS[0]
        await pilot.press("enter")  # one round of the new decode
        await settle(pilot)
        drafted = recorder.events(RoundDrafted)
        assert drafted and drafted[-1].config == chosen
        await pilot.press("v")  # the sweep again; esc leaves the decode as it was
        assert isinstance(app.screen, SweepScreen)
        await pilot.press("escape")
        assert app.screen is decode and decode.state.config == chosen


async def test_the_sweep_key_is_offered_only_with_a_sweep(make_app: Any, sweep_file: Path) -> None:
    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        assert isinstance(screen, DecodeScreen)
        assert screen.check_action("sweep", ()) is False
        commands = [c.title for c in pilot.app.get_system_commands(screen)]
        assert "Sweep" not in commands
    async with sweep_app(read_sweep(sweep_file)).run_test() as pilot:
        screen = await settle(pilot)
        commands = [c.title for c in pilot.app.get_system_commands(screen)]
        assert "Sweep" in commands
        view_commands = [c.title for c in pilot.app.get_system_commands(pilot.app.screen)]
        assert "Decode it" in view_commands


def test_spectui_sweep_file_opens_on_the_sweeps_own_settings(sweep_file: Path) -> None:
    sweep = read_sweep(sweep_file)
    config, prompts, loaded = sweep_start(build_parser().parse_args(["--sweep", str(sweep_file)]))
    assert config == sweep.header.config and [p.text for p in prompts] == list(PROMPTS)
    assert [row.label for row in loaded.rows] == [row.label for row in sweep.rows]
    args = build_parser().parse_args(["--sweep", str(sweep_file), "--draft-span", "3"])
    with pytest.raises(SweepError, match="drop --draft-span"):
        sweep_start(args)


async def test_a_setting_chosen_while_the_models_load_starts_the_decode(
    sweep_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enter before the models are in: the decode the app is starting takes the setting."""
    import threading

    from spectui.app import sessions

    loaded = threading.Event()
    real_load = sessions.load

    def slow_load(*args: Any) -> Any:
        loaded.wait(30)
        return real_load(*args)

    monkeypatch.setattr(sessions, "load", slow_load)
    sweep = read_sweep(sweep_file)
    recorder = Recorder()

    app = sweep_app(sweep)
    async with app.run_test(size=(140, 44), message_hook=recorder) as pilot:
        await pilot.pause()
        decode = app.decode_screen
        assert decode.state.phase == "loading"
        await pilot.press("down", "enter")
        assert app.screen is decode and decode.state.config == sweep.config_of(sweep.rows[1])
        loaded.set()
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert recorder.events(RoundDrafted)[0].config == sweep.config_of(sweep.rows[1])
