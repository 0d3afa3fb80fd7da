"""`spectui` and `spectui replay` with no terminal exit at once, pointing to `spectui run`.

Textual reads keys from stdin and draws on stderr. With stdin at its end (`< /dev/null`) its
input thread read nothing in a loop: the command spun at 100% CPU until killed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spectui.commands.app import terminal_problem

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "tests" / "data" / "trace-v1-soft.jsonl"
# The installed `spectui` command, or what it runs where it is not on PATH.
INSTALLED = shutil.which("spectui")
SPECTUI = [INSTALLED] if INSTALLED else [sys.executable, "-m", "spectui.cli"]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        super().isatty()  # raises ValueError once closed, as a real stream does
        return True


@pytest.mark.parametrize("command", [[], ["replay", str(TRACE)]], ids=["spectui", "spectui replay"])
def test_with_no_terminal_the_command_exits_at_once_pointing_to_spectui_run(
    command: list[str],
) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [*SPECTUI, *command],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert time.monotonic() - started < 15, "refused before any model or app starts"
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spectui: the app needs a terminal (stdin and stderr are not one)")
    assert "`spectui run`" in lines[0] and "Traceback" not in result.stderr


def test_the_app_needs_stdin_and_stderr_to_be_terminals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # `spectui > log`: the app still draws
    assert terminal_problem() is None
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert "(stdin is not one)" in (terminal_problem() or "")
    monkeypatch.setattr(sys, "stdin", None)  # no stdin at all (a detached process)
    assert "(stdin is not one)" in (terminal_problem() or "")
    closed = Terminal()
    closed.close()
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(sys, "stderr", closed)
    assert "(stderr is not one)" in (terminal_problem() or "")
