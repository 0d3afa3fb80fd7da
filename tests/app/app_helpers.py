"""Helpers for the app tests: waiting on the engine worker, pressing keys, recording."""

from __future__ import annotations

import asyncio
import io
import threading
import unicodedata
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from rich.console import Console
from textual import events
from textual.app import App
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Static

from spectui.app import messages
from spectui.app.app import SpectuiApp
from spectui.app.control import StepControl
from spectui.app.screens.decode import DecodeScreen

PROMPT = "Once upon a time,"


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async body from a sync test. Prefer `async def test_...`: anyio's plugin runs it."""
    asyncio.run(scenario())


def screen_of(pilot: Pilot[Any]) -> DecodeScreen:
    """The app's decode screen."""
    app = pilot.app
    assert isinstance(app, SpectuiApp)
    return app.decode_screen


async def settle(pilot: Pilot[Any]) -> DecodeScreen:
    """Wait until the engine worker has done all it was asked, then let the UI catch up."""
    screen = screen_of(pilot)
    await screen.settled()
    await pilot.pause()
    return screen


async def press(pilot: Pilot[Any], *keys: str) -> DecodeScreen:
    """Press keys one at a time, letting the worker finish after each."""
    screen = screen_of(pilot)
    for key in keys:
        await pilot.press(key)
        await settle(pilot)
    return screen


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30.0
) -> None:
    """Let the app run until `condition()` holds (for autoplay, which never goes idle)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await pilot.pause(0.02)


def plain(widget: Static, width: int = 80) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


class Recorder:
    """A `message_hook` that keeps every message posted, for asserting on what was sent."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> None:
        self.messages.append(message)

    def of(self, kind: type[Message]) -> list[Any]:
        """The messages of one type, in order."""
        return [m for m in self.messages if isinstance(m, kind)]

    def decode_events(self, run: int | None = None) -> list[messages.DecodeEvent]:
        """The worker's engine-event messages in order (of `run`, if given), whether posted
        alone or inside a fast-forward `DecodeBatch`."""
        found: list[messages.DecodeEvent] = []
        for m in self.messages:
            if isinstance(m, messages.DecodeBatch):
                found.extend(m.events)
            elif isinstance(m, messages.DecodeEvent):
                found.append(m)
        return [m for m in found if run is None or m.run == run]

    def events(self, kind: type) -> list[Any]:
        """The engine events of one type the worker posted, in order."""
        return [m.event for m in self.decode_events() if isinstance(m.event, kind)]


def send_key(app: App[Any], key: str) -> None:
    """Queue a key press as Pilot does, without its wait for the app to idle after it.

    Keys sent this way arrive as fast as a person mashing them (or a paste) can: the next one
    may come before the app has finished with the last. (Pilot's wait also measures CPU time,
    so it crawls while the engine computes in its thread.)
    """
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    app.post_message(event)


Before = Callable[[Pilot[Any]], Awaitable[None]]  # a snapshot's run_before


def keys(*pressed: str) -> Before:
    """A run_before that waits for the models, then presses keys one by one."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await press(pilot, *pressed)

    return run_before


def screen_lines(app: App[Any]) -> list[str]:
    """What the terminal shows, one string per row (what a person reads, colour aside)."""
    width, height = app.size
    console = Console(
        width=width, height=height, record=True, color_system=None, file=io.StringIO()
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()[:height]


def region_lines(app: App[Any], widget: Any) -> list[str]:
    """The screen rows a widget covers, cut to its columns (its borders included)."""
    region = widget.region
    rows = screen_lines(app)[region.y : region.bottom]
    return [row[region.x : region.right] for row in rows]


def passes(control: StepControl, timeout: float = 0.2) -> bool:
    """Whether `control.wait()` lets a worker through within `timeout` seconds."""
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(control.wait()), daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        control.stop()
        worker.join()
        return False
    return result[0]
