"""A detached tmux session the real-terminal tests drive: start, read the screen, send keys."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable


class TmuxSession:
    """One detached tmux session running `program` at a fixed size."""

    wait_timeout = 60.0
    # A session whose program was exec'd vanishes when it exits: reading it then gives "".
    check_capture = True

    def __init__(self, prefix: str, program: str, width: int = 80, height: int = 24) -> None:
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        # A tmux server started before this test keeps its own environment: the pair the suite
        # means (conftest's SPECTUI_PAIR) is handed to the session explicitly.
        pair = (
            ["-e", f"SPECTUI_PAIR={os.environ['SPECTUI_PAIR']}"]
            if "SPECTUI_PAIR" in os.environ
            else []
        )
        argv = [
            "tmux", "new-session", "-d", "-s", self.name, *pair,
            "-x", str(width), "-y", str(height), program,
        ]  # fmt: skip
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
            check=self.check_capture,
        ).stdout

    def send(self, *keys: str) -> None:
        """Send tmux key names (Space, Enter, C-r, t, …)."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, condition: Callable[[str], bool], timeout: float | None = None) -> str:
        """Poll the screen until `condition(screen)` holds; returns that screen."""
        deadline = time.monotonic() + (self.wait_timeout if timeout is None else timeout)
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the screen was:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
