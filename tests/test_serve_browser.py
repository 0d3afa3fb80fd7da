"""`spectui serve --pair tiny` in a real headless browser (Debian's Chromium): the page draws
the app, keys reach it, `w` downloads the trace through the browser, `y` copies to the
browser's clipboard and ctrl+p opens the palette.

Each test starts the command on a free loopback port with a token and opens the URL it
printed, as a person would; the terminal's text is read from xterm.js in the page
(tests/browser.py). Skipped where no Chromium is installed (`.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from browser import Chromium, chromium_binary
from served import free_port, serving

from spectui.engine.trace.reader import read_trace

CHROMIUM = chromium_binary()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Chromium (apt-get install chromium; .ci/run installs it)"
    ),
]

WINDOW = (1280, 800)  # pixels: about 142×36 cells at the page's 16 px font
FIRST_FRAME = r"spectui — "  # the header, drawn before the models load
# A gate row once judged: "▶1 ␣and 0.13 0.15 1 ␣and 0.15 0.00 ✓ ✓ ✓ ✓ ✓ ✓ ▸✓ ✗ ✓ ✓":
# its number, the token, q and p, and the policies' verdicts.
GATE_ROW = r"▶1 ␣\S+ +\d\.\d\d +\d\.\d\d .*▸[✓✗]"


@pytest.fixture
def served_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """`spectui serve --pair tiny --new-token` on a free port, run in tmp_path/server (a
    test's `serve_options` mark adds options)."""
    (tmp_path / "server").mkdir()
    marked = request.node.get_closest_marker("serve_options")
    argv = ("--pair", "tiny", "--new-token", "--port", str(free_port()))
    argv += tuple(marked.args) if marked else ()
    with serving(*argv, log=tmp_path / "serve.log", cwd=tmp_path / "server") as url:
        yield url


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Chromium]:
    assert CHROMIUM is not None
    chromium = await Chromium.start(CHROMIUM, tmp_path / "profile", WINDOW)
    try:
        yield chromium
    finally:
        await chromium.close()


async def open_app(browser: Chromium, url: str) -> str:
    """Open spectui's page and wait for its first frame and Footer; keys then reach the app."""
    await browser.open(url)
    await browser.wait_for_screen(FIRST_FRAME, timeout=60)
    await browser.evaluate("window.spectuiTerminal.focus()")  # as a click into it would
    return await browser.wait_for_screen(r"q Quit", timeout=30)  # the Footer, once focused


async def test_the_app_draws_in_the_browser_and_space_reveals_a_gate_row(
    served_url: str, browser: Chromium, tmp_path: Path
) -> None:
    first = await open_app(browser, served_url)
    assert "tokens" in first and "q Quit" in first, first
    await browser.press("space")  # drafts round 1 (pressed while loading: kept)
    await browser.wait_for_screen(r"round 1 · soft-guarded · 0/\d+ checked", timeout=60)
    await browser.press("space")  # reveals its first gate check
    screen = await browser.wait_for_screen(GATE_ROW, timeout=30)
    assert "1/5 checked" in screen and "w Download" in screen, screen
    shot = tmp_path / "served.png"
    await browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


async def test_w_downloads_the_trace_through_the_browser(
    served_url: str, browser: Chromium, tmp_path: Path
) -> None:
    await open_app(browser, served_url)
    await browser.press("enter")  # the whole of round 1
    await browser.wait_for_screen(r"round 1 · soft-guarded · \d+/\d+ checked", timeout=60)
    await browser.press("w")
    await browser.wait_for_screen(r"Trace sent to the browser: 1 rounds", timeout=30)
    downloaded = await finished_download(browser.downloads, timeout=30)
    assert re.fullmatch(r"spectui-trace-\d{8}-\d{6}\.jsonl", downloaded.name), downloaded
    trace = read_trace(downloaded)
    assert len(trace.rounds) == 1 and trace.header.prompt == "Once upon a time,"
    assert list((tmp_path / "server").iterdir()) == [], "nothing written on the server's disk"


async def test_y_copies_to_the_browser_clipboard_and_ctrl_p_opens_the_palette(
    served_url: str, browser: Chromium
) -> None:
    origin = re.match(r"https?://[^/]+", served_url).group(0)  # type: ignore[union-attr]
    await browser.browser_command(
        "Browser.grantPermissions",
        origin=origin,
        permissions=["clipboardReadWrite", "clipboardSanitizedWrite"],
    )
    await open_app(browser, served_url)
    await browser.press("enter")
    await browser.wait_for_screen(r"round 1 · soft-guarded · \d+/\d+ checked", timeout=60)
    await browser.press("y")
    await browser.wait_for_screen(r"Copied the committed text", timeout=30)
    copied = await clipboard_text(browser, starting="Once upon a time,", timeout=10)
    assert len(copied) > len("Once upon a time,"), copied
    await browser.press("ctrl+p")
    palette = await browser.wait_for_screen(r"Search for commands", timeout=30)
    assert "Download trace" in palette or "Step" in palette, palette
    await browser.press("escape")
    await browser.wait_for_screen(r"q Quit", timeout=30)


@pytest.mark.serve_options("--max-visits", "1")
async def test_leaving_the_page_ends_its_visit_and_frees_its_place(
    served_url: str, browser: Chromium
) -> None:
    await open_app(browser, served_url)
    full = httpx.get(served_url, timeout=10)
    assert full.status_code == 503 and "at most 1 at once" in full.text
    await browser.open("about:blank")  # the visitor goes elsewhere in the same tab
    for _ in range(100):  # 20 s at most
        if (page := httpx.get(served_url, timeout=10)).status_code == 200:
            break
        await asyncio.sleep(0.2)
    assert page.status_code == 200, "the page left behind still held the only place"
    await open_app(browser, served_url)  # and the next visit opens


async def finished_download(folder: Path, timeout: float) -> Path:
    """The one file the browser downloaded into `folder`, once it is complete."""
    for _ in range(int(timeout / 0.2)):
        done = [path for path in folder.iterdir() if not path.name.endswith(".crdownload")]
        if done:
            assert len(done) == 1, done
            return done[0]
        await asyncio.sleep(0.2)
    raise TimeoutError(f"nothing downloaded into {folder} in {timeout} s")


async def clipboard_text(browser: Chromium, starting: str, timeout: float) -> str:
    """The browser's clipboard once it holds text that starts with `starting`."""
    text = ""
    for _ in range(int(timeout / 0.2)):
        text = await browser.evaluate("navigator.clipboard.readText()") or ""
        if text.startswith(starting):
            return text
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the clipboard held {text!r}")
