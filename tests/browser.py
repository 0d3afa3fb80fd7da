"""A headless Chromium driven over the Chrome DevTools Protocol, for the `spectui serve` tests.

Debian's `chromium` package is the browser; the protocol is JSON over a websocket, spoken here
with aiohttp's client (textual-serve's own dependency), so no driver binary or browser download
is needed. The browser is kept off the network: every name but loopback fails to resolve.

The page's terminal is xterm.js drawing on a canvas (WebGL or 2D), so its text is not in the
DOM. `TERMINAL_HOOK` runs before the page's own script and catches the xterm `Terminal` that
textual-serve's script makes (its terminal wrapper assigns `this.fitAddon` right after
`this.terminal`); the tests then read what xterm holds in its screen buffer, row by row: what
the canvas draws.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

TERMINAL_HOOK = """
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "fitAddon", {
      value, writable: true, configurable: true, enumerable: true,
    });
    if (this.terminal !== undefined) window.spectuiTerminal = this.terminal;
  },
});
"""

SCREEN_TEXT = """
(() => {
  const terminal = window.spectuiTerminal;
  if (terminal === undefined) return null;
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line === undefined ? "" : line.translateToString(true));
  }
  return rows.join("\\n");
})()
"""

# The keys the tests press: (key, code, Windows key code, text it types, modifiers).
KEYS: dict[str, tuple[str, str, int, str, int]] = {
    "space": (" ", "Space", 32, " ", 0),
    "enter": ("Enter", "Enter", 13, "\r", 0),
    "escape": ("Escape", "Escape", 27, "", 0),
    "ctrl+p": ("p", "KeyP", 80, "", 2),
}
for _letter in "qwyb":
    KEYS[_letter] = (_letter, f"Key{_letter.upper()}", ord(_letter.upper()), _letter, 0)


def chromium_binary() -> str | None:
    """Where a Chromium is installed, or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


class DevToolsError(RuntimeError):
    """The browser answered a command with an error, or did not answer."""


class Chromium:
    """One headless Chromium and one page in it, driven over the DevTools protocol."""

    def __init__(self, process: subprocess.Popen[bytes], profile: Path) -> None:
        self.process = process
        self.profile = profile
        self.downloads = profile / "downloads"
        self._http: aiohttp.ClientSession | None = None
        self._page: aiohttp.ClientWebSocketResponse | None = None
        self._browser: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    @classmethod
    async def start(cls, binary: str, profile: Path, size: tuple[int, int]) -> Chromium:
        """Start the browser with an empty profile in `profile`, a window of `size` pixels."""
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a profile used before
        process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",  # the tests run as root, where the sandbox cannot start
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--window-size={size[0]},{size[1]}",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(profile / "chromium.log").open("wb"),  # read only when it fails to start
        )
        browser = cls(process, profile)
        try:
            await browser._connect()
        except BaseException:
            await browser.close()
            raise
        return browser

    async def _connect(self) -> None:
        port, path = await self._devtools_port(timeout=30)
        endpoint = f"ws://127.0.0.1:{port}{path}"
        self._http = aiohttp.ClientSession()
        async with self._http.get(f"http://127.0.0.1:{port}/json/list") as answer:
            targets = await answer.json()
        page = next(target for target in targets if target["type"] == "page")
        self._browser = await self._http.ws_connect(endpoint, max_msg_size=0)
        self._page = await self._http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self.downloads.mkdir(exist_ok=True)
        await self.browser_command(
            "Browser.setDownloadBehavior", behavior="allow", downloadPath=str(self.downloads)
        )
        await self.command("Page.enable")
        # A headless page never has the window's focus, so focusing the terminal would fire
        # no focus event, and Textual keeps a blurred app's Footer empty.
        await self.command("Emulation.setFocusEmulationEnabled", enabled=True)
        await self.command("Page.addScriptToEvaluateOnNewDocument", source=TERMINAL_HOOK)

    async def _devtools_port(self, timeout: float) -> tuple[str, str]:
        """The port and path the browser listens on for DevTools: it writes them to the
        profile's DevToolsActivePort once it does (port 0 above: a free one)."""
        written = self.profile / "DevToolsActivePort"
        for _ in range(int(timeout / 0.1)):
            if self.process.poll() is not None:
                log = (self.profile / "chromium.log").read_text(errors="replace")
                raise DevToolsError(f"chromium exited before it listened for DevTools:\n{log}")
            lines = written.read_text().split() if written.exists() else []
            if len(lines) == 2:
                return lines[0], lines[1]
            await asyncio.sleep(0.1)
        raise DevToolsError(f"chromium did not listen for DevTools within {timeout} s")

    async def command(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command to the page; its result."""
        assert self._page is not None
        return await self._send(self._page, method, params)

    async def browser_command(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command to the browser itself (downloads, permissions)."""
        assert self._browser is not None
        return await self._send(self._browser, method, params)

    async def _send(
        self, socket: aiohttp.ClientWebSocketResponse, method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        message_id = next(self._ids)
        await socket.send_str(json.dumps({"id": message_id, "method": method, "params": params}))

        async def answer() -> dict[str, Any]:
            while True:  # events arrive in between: skipped, the tests poll instead
                message: dict[str, Any] = json.loads((await socket.receive()).data)
                if message.get("id") == message_id:
                    return message

        message = await asyncio.wait_for(answer(), 30)
        if "error" in message:
            raise DevToolsError(f"{method}: {message['error']}")
        result: dict[str, Any] = message["result"]
        return result

    async def open(self, url: str) -> None:
        """Navigate the page to `url`."""
        await self.command("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if a promise)."""
        result = await self.command(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screen_text(self) -> str | None:
        """The terminal's screen as text, one line a row (None before the terminal exists)."""
        text: str | None = await self.evaluate(SCREEN_TEXT)
        return text

    async def wait_for_screen(self, pattern: str, timeout: float) -> str:
        """Poll the terminal's text until `pattern` (a regex) is on it; the text then.
        Raises TimeoutError with what the screen last showed."""
        last = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            last = await self.screen_text() or ""
            if re.search(pattern, last):
                return last
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{pattern!r} not on screen after {timeout} s; it showed:\n{last}")

    async def page_text(self) -> str:
        """The page's text (a plain HTML page's, not the terminal's)."""
        text: str = await self.evaluate("document.body ? document.body.innerText : ''")
        return text

    async def press(self, key: str) -> None:
        """Press and release `key` (a name in KEYS) in the focused terminal."""
        name, code, key_code, text, modifiers = KEYS[key]
        common = {
            "key": name,
            "code": code,
            "windowsVirtualKeyCode": key_code,
            "modifiers": modifiers,
        }
        await self.command("Input.dispatchKeyEvent", type="keyDown", text=text, **common)
        await self.command("Input.dispatchKeyEvent", type="keyUp", **common)

    async def screenshot(self, path: Path) -> None:
        """Save the page as a PNG."""
        shot = await self.command("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        """Close the connections and the browser."""
        for socket in (self._page, self._browser):
            if socket is not None:
                await socket.close()
        if self._http is not None:
            await self._http.close()
        self.kill()

    def kill(self) -> None:
        """End the browser process (bounded: 10 s, then killed)."""
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
            return
        self.process.kill()
        self.process.wait(timeout=10)
