"""The real `spectui` command in a real terminal (tmux, 80×24): step, toggle the policy, quit.

Marked slow: a fresh process imports torch and transformers (5–15 s on a busy machine).
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tmux_session import TmuxSession

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SPECTUI = Path(sys.executable).with_name("spectui")


class Terminal(TmuxSession):
    """A detached tmux session running one command."""

    def __init__(
        self, command: str, env: dict[str, str], width: int = 80, height: int = 24
    ) -> None:
        unset = "" if "NO_COLOR" in env else "-u NO_COLOR "
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        # Keep the pane after the command exits so its last screen can still be read.
        program = f"env {unset}{exports} {command}; sleep 5"
        super().__init__("spectui-test", program, width, height)


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
    term.send("t", "t", "t", "t")  # soft → sampling → relaxed → typical → greedy-exact
    screen = term.wait_for(lambda s: "greedy-exact from next round" in s.splitlines()[0])
    term.send("Enter", "Space")  # finish round 1, draft round 2 under greedy-exact
    screen = term.wait_for(lambda s: "round 2 · greedy-exact" in s)
    assert "greedy-exact" in screen.splitlines()[0] and "next round" not in screen.splitlines()[0]
    # the stats panel has a finished round (once the four "from round 2" toasts have gone)
    term.wait_for(lambda s: "α " in s, timeout=15)
    term.send("q")
    term.wait_for(lambda s: "spectui —" not in s, timeout=15)
