"""The app as a browser visit (`spectui serve`, where Textual's `App.is_web`): w hands the trace
to the browser as a download instead of writing it on the server's disk, and the Footer, the
help and the palette say so. In a terminal nothing changes: the snapshots and
tests/app/test_states.py keep that."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from app_helpers import press, screen_lines, settle
from test_sizes import footer_text

from spectui.app.app import SpectuiApp, decode_commands
from spectui.app.screens.help import HelpScreen
from spectui.engine.trace.reader import read_trace


class Delivered:
    """What `App.deliver_text` was handed (under textual-serve: a download in the browser)."""

    def __init__(self) -> None:
        self.files: list[tuple[str, str | None, str | None]] = []

    def __call__(
        self, path_or_file: Any, *, save_filename: str | None = None, mime_type: str | None = None
    ) -> str:
        assert isinstance(path_or_file, io.StringIO)
        self.files.append((path_or_file.getvalue(), save_filename, mime_type))
        return "key"


@pytest.fixture
def in_browser(monkeypatch: pytest.MonkeyPatch) -> Delivered:
    """Every SpectuiApp runs as a browser visit; what it delivers is kept."""
    delivered = Delivered()
    monkeypatch.setattr(SpectuiApp, "is_web", property(lambda app: True))
    monkeypatch.setattr(SpectuiApp, "deliver_text", lambda app, *a, **k: delivered(*a, **k))
    return delivered


async def test_w_in_a_browser_downloads_the_trace_and_writes_nothing(
    make_app: Any, in_browser: Delivered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with make_app().run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await press(pilot, "enter", "enter", "w")
        status = " ".join(screen_lines(pilot.app))
    assert len(in_browser.files) == 1
    text, name, mime_type = in_browser.files[0]
    assert name == "spectui-trace.jsonl" and mime_type == "application/jsonl"
    saved = tmp_path / "downloaded.jsonl"
    saved.write_text(text, encoding="utf-8")
    trace = read_trace(saved)  # what the browser gets is a trace `spectui replay` opens
    assert len(trace.rounds) == 2 and trace.header.prompt == screen.state.prompt
    assert "Trace sent to the browser: 2 rounds as spectui-trace.jsonl" in status, status
    assert sorted(tmp_path.iterdir()) == [saved], "nothing written on the server's disk"


async def test_before_a_round_w_in_a_browser_says_there_is_nothing_yet(
    make_app: Any, in_browser: Delivered
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")  # at once: the models are still loading
        await pilot.pause()
        status = " ".join(screen_lines(pilot.app))
        await settle(pilot)
    assert in_browser.files == []
    assert "Trace not downloaded: nothing to save yet" in status, status


async def test_the_footer_help_and_palette_say_that_w_downloads(
    make_app: Any, in_browser: Delivered
) -> None:
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        footer = footer_text(pilot)
        assert "w Download" in footer and "? Help" in footer and "q Quit" in footer, footer
        commands = {command.title: command.help for command in decode_commands(screen)}
        assert "through the browser" in commands["Download trace"] and "Save trace" not in commands
        assert "https or on localhost" in commands["Copy text"]
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        help_text = " ".join(screen_lines(pilot.app))
    assert "Download this decode as a trace" in help_text, help_text
    assert "Save this decode as a trace" not in help_text, help_text
