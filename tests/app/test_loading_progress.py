"""The loading state: a bar per download and weight load, at 80×24; q cancels the load."""

from __future__ import annotations

import threading
from typing import Any

from app_helpers import PROMPT, plain, wait_until

from spectui.app import messages
from spectui.app.app import SpectuiApp
from spectui.app.driver import Post
from spectui.app.sessions import LiveSession
from spectui.app.widgets import TokenStream
from spectui.engine import DecodeConfig
from spectui.engine.models.progress import Bar, LoadCancelled

# Mid-way through a verifier's download, the drafter done (fixed figures: a stable snapshot).
BARS = (
    Bar("drafter", "model.safetensors", 12.5e6, 12.5e6, "B", elapsed=2.5, finished=True),
    Bar("drafter", "Loading weights", 40, 40, "it", elapsed=0.5, finished=True),
    Bar("verifier", "model.safetensors", 250e6, 500e6, "B", elapsed=10.0),
)


class DownloadingSession(LiveSession):
    """Reports the downloads above, then holds the load until the app stops it (q)."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = threading.Event()

    def open(self, post: Post, run: int, config: DecodeConfig, prompt: str) -> Any:
        post(messages.LoadProgress(run, "loading verifier org/big-model"))
        for bar in BARS:
            post(messages.LoadBar(run, bar))
        self.cancel.wait(timeout=30)
        self.cancelled.set()
        raise LoadCancelled("loading the verifier was cancelled")


def downloading_app() -> tuple[SpectuiApp, DownloadingSession]:
    session = DownloadingSession()
    app = SpectuiApp(DecodeConfig(), PROMPT, timings=False, session=session)
    return app, session


def loading_text(app: SpectuiApp) -> str:
    """What the token stream's panel shows ("" until the decode screen is up)."""
    streams = app.screen.query(TokenStream)
    return plain(streams.first().query_one("#stream-text")) if streams else ""


def test_loading_screen_mid_download(snap_compare: Any) -> None:
    """Each stage's bars with done/total, rate and time left, the stage line above them."""

    async def run_before(pilot: Any) -> None:
        await wait_until(pilot, lambda: "left" in loading_text(pilot.app))

    app, _ = downloading_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_bars_show_at_80x24_and_q_cancels_the_download() -> None:
    app, session = downloading_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "left" in loading_text(app))
        shown = loading_text(app)
        assert "⏳ loading verifier org/big-model" in shown
        assert "verifier · model.safetensors" in shown
        assert "250.0/500.0 MB · 25.0 MB/s · 10 s left" in shown
        assert "drafter · Loading weights" in shown and "40/40 weights" in shown
        assert "12.5/12.5 MB · 5.0 MB/s · done" in shown
        await pilot.press("q")
    assert session.cancelled.wait(timeout=10), "quitting did not stop the load"
