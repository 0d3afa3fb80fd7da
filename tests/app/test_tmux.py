"""The real `spectui` command in a real terminal (tmux, 80×24): step, toggle the policy, quit.

Marked slow: a fresh process imports torch and transformers (5–15 s on a busy machine).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SPECTUI = Path(sys.executable).with_name("spectui")


class Terminal:
    """A detached tmux session running one command."""

    def __init__(
        self, command: str, env: dict[str, str], width: int = 80, height: int = 24
    ) -> None:
        self.name = f"spectui-test-{uuid.uuid4().hex[:8]}"
        unset = "" if "NO_COLOR" in env else "-u NO_COLOR "
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        # Keep the pane after the command exits so its last screen can still be read.
        argv = [
            "tmux",
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(width),
            "-y",
            str(height),
            f"env {unset}{exports} {command}; sleep 5",
        ]
        for attempt in range(3):  # a tmux server still exiting after the last test refuses
            if subprocess.run(argv, capture_output=True).returncode == 0:
                return
            time.sleep(0.5 * (attempt + 1))
        subprocess.run(argv, check=True)

    def screen(self) -> str:
        """The visible text."""
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def send(self, *keys: str) -> None:
        """Send tmux key names (Space, Enter, C-r, t, …)."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 60.0) -> str:
        """Poll the screen until `condition(screen)` holds; returns that screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the screen was:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def terminal(tiny_pair: Any) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def open_terminal(*options: str, **kwargs: Any) -> Terminal:
        command = shlex.join(
            [
                str(SPECTUI) if SPECTUI.exists() else "spectui",
                "--drafter",
                tiny_pair.drafter,
                "--verifier",
                tiny_pair.verifier,
                *options,
            ]
        )
        opened.append(Terminal(command, **kwargs))
        return opened[-1]

    yield open_terminal
    for term in opened:
        term.close()


def ready(screen: str) -> bool:
    return "press space to draft one" in screen and "space Step" in screen


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"TERM": "xterm-256color"}, id="256-colours"),
        pytest.param({"TERM": "xterm", "TEXTUAL_COLOR_SYSTEM": "standard"}, id="16-colours"),
        pytest.param({"TERM": "xterm-256color", "NO_COLOR": "1"}, id="no-color"),
    ],
)
def test_step_toggle_policy_and_quit(
    terminal: Callable[..., Terminal], env: dict[str, str]
) -> None:
    term = terminal("--prompt", "Once upon a time,", env=env)
    screen = term.wait_for(ready)
    assert "soft-guarded" in screen.splitlines()[0]
    assert "space Step" in screen and "q Quit" in screen  # the Footer at 80 columns
    term.send("Space")  # draft round 1
    term.wait_for(lambda s: "round 1 · soft-guarded · 0/5 checked" in s)
    term.send("Space")  # reveal the first gate check
    screen = term.wait_for(lambda s: "1/5 checked" in s)
    assert "✓" in screen or "✗" in screen
    term.send("t", "t")  # soft-guarded → speculative-sampling → greedy-exact
    screen = term.wait_for(lambda s: "greedy-exact from next round" in s.splitlines()[0])
    term.send("Enter", "Space")  # finish round 1, draft round 2 under greedy-exact
    screen = term.wait_for(lambda s: "round 2 · greedy-exact" in s)
    assert "greedy-exact" in screen.splitlines()[0] and "next round" not in screen.splitlines()[0]
    assert "α " in screen  # the stats panel has a finished round
    term.send("q")
    term.wait_for(lambda s: "spectui —" not in s, timeout=15)
