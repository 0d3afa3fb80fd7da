"""`spectui serve` as a command: started on a free loopback port, stopped when done."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(*argv: str, log: Path, cwd: Path = ROOT) -> Iterator[str]:
    """`spectui serve ARGV` in its own process (output to `log`) until the block ends; the
    URL it printed to open."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "spectui.cli", "serve", *argv],
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        found = None
        for _ in range(300):  # 30 s at most
            found = re.search(r"spectui serve: open (\S+)", log.read_text())
            if found or process.poll() is not None:
                break
            time.sleep(0.1)
        assert found, f"no URL printed:\n{log.read_text()}"
        yield found.group(1)
    finally:
        process.terminate()  # the server ends its visits' processes on the way out
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
