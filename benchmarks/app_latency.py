"""How fast the app feels: time to first frame, and keypress-to-repaint latency under load.

Runs the real `spectui` command in a pseudo-terminal and reads what it paints:

* first frame: from process start to the first painted header (torch is not imported yet:
  the models load in a worker after it), and to "ready" (models loaded, waiting for space);
* latency: press ← / End alternately and time each key until the token-detail panel's title
  changes ("selected token" / "latest check") in the terminal output; first with the engine
  idle, then with autoplay at full speed (the engine worker busy non-stop and the screen
  repainting), then during fast-forward (f);
* fast-forward throughput: press f on a fresh decode of PROMPT and time it to "finished",
  in tokens/s, against the headless engine (`SpeculativeDecoder`, same pair, config and
  prompt, in this process) decoding the same tokens.

    python benchmarks/app_latency.py                       # the bundled pair
    python benchmarks/app_latency.py --drafter D --verifier V --presses 60 --runs 5
    python benchmarks/app_latency.py --threads 1     # while other work holds a core
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
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
PROMPT = "Once upon a time,"
FAST_TOKENS = 400  # the fast-forward decode's length (the bundled pair's context allows it)
MISS_SECONDS = 10.0  # a key whose repaint has not come by then is a miss


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


def autoplay(term: Pty, key: bytes = b"p") -> int:
    """Start autoplay (p at "max", or fast-forward: f; both run at engine speed) and let a few
    rounds run; returns the output offset it started at."""
    offset, _ = term.press(b"\x12")  # ctrl+r: a fresh decode (the last may have ended)
    term.wait_for("press space to draft one", since=offset)
    offset, _ = term.press(key)
    term.wait_for("playing max" if key == b"p" else "fast-forward", since=offset)
    time.sleep(0.5)  # a few rounds (at engine speed a given round may never be painted)
    return offset


def latencies(term: Pty, presses: int, busy: bool, play: bytes = b"p") -> list[float]:
    """Milliseconds from each key to its repaint; `busy`: keep the engine working meanwhile
    (autoplay started with `play`: p at "max", or f)."""
    started = autoplay(term, play) if busy else 0
    samples: list[float] = []
    selected = False  # whether a token is selected (← selects one, End goes back to live)
    for _ in range(presses):
        key, title = (END, "latest check") if selected else (LEFT, "selected token")
        offset, sent = term.press(key)
        try:
            samples.append((term.wait_for(title, since=offset, timeout=MISS_SECONDS) - sent) * 1000)
        except TimeoutError:  # counted, not timed: see `missed` in the report
            samples.append(float("nan"))
            selected = _back_to_live(term)
            continue
        selected = not selected
        time.sleep(0.05)  # a person's pace, not a key-repeat flood
        term.drain()
        if busy and b"finished (" in term.output[started:]:  # keep the engine busy
            started = autoplay(term, play)  # a new decode (the models stay loaded) ...
            selected = False  # ... with nothing selected
    if busy:
        term.press(play)
    return samples


def _back_to_live(term: Pty) -> bool:
    """After a key whose repaint never came (e.g. the decode ended in between and the panel's
    title did not change), End returns to the live view; returns `selected` (False)."""
    offset, _ = term.press(END)
    with contextlib.suppress(TimeoutError):  # it already was live
        term.wait_for("latest check", since=offset, timeout=MISS_SECONDS)
    return False


def fast_forward_seconds(term: Pty) -> float:
    """Restart the decode, press f, and time it to its end (the app runs FAST_TOKENS)."""
    offset, _ = term.press(b"\x12")
    term.wait_for("press space to draft one", since=offset)
    offset, sent = term.press(b"f")
    return term.wait_for("finished (", since=offset) - sent


def headless_tokens_per_second(model_args: list[str], threads: int | None) -> tuple[float, int]:
    """The engine alone on the same decode: tokens/s (best of 3, models loaded) and tokens,
    with the models and settings the app gets from `model_args` (its own option parsing)."""
    from dataclasses import replace

    from spectui.cli import build_parser
    from spectui.commands.options import config_from_args
    from spectui.engine.decode import SpeculativeDecoder
    from spectui.engine.models.loading import load_pair

    args = build_parser().parse_args(model_args)
    config = replace(config_from_args(args), max_new_tokens=FAST_TOKENS, threads=threads)
    pair = load_pair(config)
    best, tokens = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        done = SpeculativeDecoder(pair, config, PROMPT).run()
        best = min(best, time.perf_counter() - started)
        tokens = len(done.output_ids)
    return tokens / best, tokens


def measure(argv: list[str], presses: int) -> dict[str, list[float]]:
    """Run the app once: first frame, ready, then key latencies with the engine idle and busy."""
    term = Pty(argv)
    try:
        first_frame = term.wait_for("spectui") - term.started
        ready = term.wait_for("press space to draft one") - term.started
        term.press(b"+")
        term.press(b"+")  # autoplay speed "max"
        offset, _ = term.press(b"\r")  # one round, so there are tokens to select
        term.wait_for("judged", since=offset)  # the stats panel: a round is done
        idle = latencies(term, presses, busy=False)
        busy = latencies(term, presses, busy=True)
        fast = latencies(term, presses, busy=True, play=b"f")
        fast_seconds = fast_forward_seconds(term)
        term.press(b"q")
    finally:
        term.close()
    return {
        "first_frame": [first_frame * 1000],
        "ready": [ready * 1000],
        "idle": idle,
        "busy": busy,
        "fast": fast,
        "fast_seconds": [fast_seconds],
    }


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafter", default=str(BUNDLED_DRAFTER))
    parser.add_argument("--verifier", default=str(BUNDLED_VERIFIER))
    parser.add_argument(
        "--pair",
        help="a named pair instead (smollm2-135m: the default app's, its drafter in bfloat16)",
    )
    parser.add_argument("--presses", type=int, default=40, help="per phase and run")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes (medians)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for the app and the engine alike (default: spectui's own, half "
        "the cores)",
    )
    parser.add_argument(
        "--hog",
        type=int,
        default=0,
        metavar="N",
        help="run N busy processes beside the app (a shared machine), ended with the script",
    )
    args = parser.parse_args()
    for role in ("drafter", "verifier"):
        if not Path(getattr(args, role)).exists() and "/" in getattr(args, role):
            parser.error(f"no {role} at {getattr(args, role)}: pass --{role} DIR")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hog)]
    try:
        return report(args)
    finally:
        for hog in hogs:
            hog.kill()


def model_args(args: argparse.Namespace) -> list[str]:
    """The models as spectui's options: --pair NAME (the pair's own settings too), else the
    drafter and the verifier."""
    if args.pair:
        return ["--pair", args.pair]
    return ["--drafter", args.drafter, "--verifier", args.verifier]


def report(args: argparse.Namespace) -> int:
    """Measure and print every figure."""
    # The spectui this script imports (a checkout's, run from its root), not whichever
    # `spectui` command is first on PATH (an installed copy may be another checkout's).
    argv = [
        sys.executable,
        "-m",
        "spectui.cli",
        *model_args(args),
        "--max-new-tokens",
        str(FAST_TOKENS),
        "--prompt",
        PROMPT,
        *(["--threads", str(args.threads)] if args.threads else []),
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
    phases = (("idle", "engine idle"), ("busy", "autoplay at max"), ("fast", "fast-forward"))
    for phase, label in phases:
        samples = [v for v in results[phase] if v == v]  # NaN: a miss
        missed = len(results[phase]) - len(samples)
        print(
            f"keypress → repaint   p50 {percentile(samples, 0.5):5.1f} ms · "
            f"p95 {percentile(samples, 0.95):5.1f} ms · max {max(samples):5.1f} ms  "
            f"({len(samples)} presses, {label}; {missed} missed: no repaint in "
            f"{MISS_SECONDS:.0f} s)"
        )
    engine, tokens = headless_tokens_per_second(model_args(args), args.threads)
    app = tokens / min(results["fast_seconds"])
    print(
        f"fast-forward         {app:6.0f} tokens/s · headless engine {engine:6.0f} tokens/s · "
        f"{app / engine:4.0%} of the engine  ({tokens} tokens, best of {args.runs} and of 3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
