"""How fast the app feels: time to first frame, and keypress-to-repaint latency under load.

Runs the real `spectui` command in a pseudo-terminal and reads what it paints:

* first frame: from process start to the first painted header (torch is not imported yet:
  the models load in a worker after it), and to "ready" (models loaded, waiting for space);
* latency: press ← / End alternately and time each key until the token-detail panel's title
  changes ("selected token" / "latest check") in the terminal output; first with the engine
  idle, then with autoplay at full speed (the engine worker busy non-stop and the screen
  repainting).

    python benchmarks/app_latency.py                       # the bundled pair
    python benchmarks/app_latency.py --drafter D --verifier V --presses 60 --runs 5
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

WIDTH, HEIGHT = 120, 40  # wide enough that the token-detail panel is always on screen
LEFT, END = b"\x1b[D", b"\x1bOF"  # End, not Escape: a bare ESC waits for a sequence timeout


class Pty:
    """A command running in a pseudo-terminal of a fixed size, with its output buffered."""

    def __init__(self, argv: list[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(WIDTH), "LINES": str(HEIGHT)}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.output = b""

    def wait_for(self, text: str, since: int = 0, timeout: float = 120.0) -> float:
        """Read until `text` appears after byte offset `since`; returns the perf_counter time."""
        needle = text.encode()
        deadline = time.perf_counter() + timeout
        while needle not in self.output[since:]:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or self.process.poll() is not None:
                raise TimeoutError(f"{text!r} never appeared; last output: {self.output[-400:]!r}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self.output += os.read(self.master, 1 << 16)
        return time.perf_counter()

    def drain(self) -> None:
        """Read whatever is pending without waiting."""
        while select.select([self.master], [], [], 0)[0]:
            self.output += os.read(self.master, 1 << 16)

    def press(self, key: bytes) -> tuple[int, float]:
        """Send a key; returns the output offset and time it was sent at."""
        self.drain()
        offset = len(self.output)
        sent = time.perf_counter()
        os.write(self.master, key)
        return offset, sent

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        os.close(self.master)


def autoplay(term: Pty) -> int:
    """Start autoplay and wait until a few rounds have run; returns the output offset."""
    offset, _ = term.press(b"p")
    term.wait_for("playing max", since=offset)
    term.wait_for("round 3", since=offset)
    return offset


def latencies(term: Pty, presses: int, busy: bool) -> list[float]:
    """Milliseconds from each key to its repaint; `busy`: keep the engine working meanwhile."""
    started = autoplay(term) if busy else 0
    samples = []
    for number in range(presses):
        key, title = (LEFT, "selected token") if number % 2 == 0 else (END, "latest check")
        offset, sent = term.press(key)
        samples.append((term.wait_for(title, since=offset) - sent) * 1000)
        time.sleep(0.05)  # a person's pace, not a key-repeat flood
        term.drain()
        if busy and b"finished (" in term.output[started:]:  # keep the engine busy
            term.press(b"\x12")  # ctrl+r: a new decode (the models stay loaded)
            started = autoplay(term)
    if busy:
        term.press(b"p")
    return samples


def measure(argv: list[str], presses: int) -> dict[str, list[float]]:
    """Run the app once: first frame, ready, then key latencies with the engine idle and busy."""
    term = Pty(argv)
    try:
        first_frame = term.wait_for("spectui") - term.started
        ready = term.wait_for("press space to draft one") - term.started
        term.press(b"+")
        term.press(b"+")  # autoplay speed "max"
        offset, _ = term.press(b"\r")  # one round, so there are tokens to select
        term.wait_for("new tokens", since=offset)  # the stats panel: a round is done
        idle = latencies(term, presses, busy=False)
        busy = latencies(term, presses, busy=True)
        term.press(b"q")
    finally:
        term.close()
    return {
        "first_frame": [first_frame * 1000],
        "ready": [ready * 1000],
        "idle": idle,
        "busy": busy,
    }


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafter", default=str(BUNDLED_DRAFTER))
    parser.add_argument("--verifier", default=str(BUNDLED_VERIFIER))
    parser.add_argument("--presses", type=int, default=40, help="per phase and run")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes (medians)")
    args = parser.parse_args()
    for role in ("drafter", "verifier"):
        if not Path(getattr(args, role)).exists() and "/" in getattr(args, role):
            parser.error(f"no {role} at {getattr(args, role)}: pass --{role} DIR")
    command = shutil.which("spectui") or str(Path(sys.executable).with_name("spectui"))
    argv = [
        command,
        "--drafter",
        args.drafter,
        "--verifier",
        args.verifier,
        "--max-new-tokens",
        "100000",
    ]
    results: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for key, values in measure(argv, args.presses).items():
            results.setdefault(key, []).extend(values)
    print(
        f"time to first frame  median {statistics.median(results['first_frame']):6.0f} ms"
        f"  (runs: {', '.join(f'{v:.0f}' for v in results['first_frame'])})"
    )
    print(
        f"time to ready        median {statistics.median(results['ready']):6.0f} ms"
        "  (models loaded)"
    )
    for phase, label in (("idle", "engine idle"), ("busy", "autoplay at full speed")):
        samples = results[phase]
        print(
            f"keypress → repaint   p50 {percentile(samples, 0.5):5.1f} ms · "
            f"p95 {percentile(samples, 0.95):5.1f} ms · max {max(samples):5.1f} ms  "
            f"({len(samples)} presses, {label})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
