"""What one visit of `spectui serve` costs: seconds to the first frame and to "ready" in a real
(headless) browser, and the visit's memory.

Each visit runs spectui in a process of its own, so each loads the models again. This starts
`spectui serve` on a free loopback port, then, `--runs` times, opens its page in Debian's
Chromium (tests/browser.py drives it) and times, from the navigation:

* first frame: the app's header drawn in the page (the app paints it before models load);
* ready: the models loaded and a step possible ("press space to draft one");

and reads the visit process's resident memory (VmRSS) once it is ready. Between runs the page
goes to about:blank, which ends the visit. `--screenshot FILE` then steps once and saves the
page as a PNG (screenshots/served-1280x800.png is made so).

    python benchmarks/serve_visit.py --pair tiny --runs 5
    python benchmarks/serve_visit.py --runs 3                   # the default pair
    python benchmarks/serve_visit.py --replay tests/data/trace-v1-soft.jsonl --runs 5
    python benchmarks/serve_visit.py --pair tiny --screenshot screenshots/served-1280x800.png
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser import Chromium, chromium_binary  # noqa: E402
from served import free_port, serving  # noqa: E402

FIRST_FRAME = r"spectui — "
READY = r"press space to (draft one|play the trace)"  # live, or a replay: a step possible
GATE_ROW = r"▶1 ␣\S+ +\d\.\d\d +\d\.\d\d .*▸[✓✗]"


def visit_memory_mb(server_log: Path) -> float | None:
    """Resident memory of the newest `spectui.cli` process that is not a server, in MB."""
    newest: tuple[float, float] | None = None
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            command = (status.parent / "cmdline").read_bytes().split(b"\0")
            if b"spectui.cli" not in command or b"serve" in command:
                continue
            started = status.parent.stat().st_mtime
            rss = next(
                int(line.split()[1]) / 1024
                for line in status.read_text().splitlines()
                if line.startswith("VmRSS:")
            )
        except (OSError, StopIteration):
            continue
        if newest is None or started > newest[0]:
            newest = (started, rss)
    return None if newest is None else newest[1]


async def one_visit(browser: Chromium, url: str, log: Path) -> tuple[float, float, float | None]:
    await browser.open("about:blank")  # ends the previous visit
    await asyncio.sleep(1.5)  # its process exits before this one starts
    started = time.perf_counter()
    await browser.open(url)
    await browser.wait_for_screen(FIRST_FRAME, timeout=120)
    first = time.perf_counter() - started
    await browser.evaluate("window.spectuiTerminal.focus()")
    await browser.wait_for_screen(READY, timeout=600)
    ready = time.perf_counter() - started
    return first, ready, visit_memory_mb(log)


async def measure(args: argparse.Namespace, serve_argv: list[str]) -> None:
    binary = chromium_binary()
    if binary is None:
        sys.exit("needs Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "serve.log"
        with serving(*serve_argv, "--port", str(free_port()), log=log) as url:
            browser = await Chromium.start(binary, Path(folder) / "profile", (1280, 800))
            try:
                results = [await one_visit(browser, url, log) for _ in range(args.runs)]
                if args.screenshot is not None:
                    await browser.press("space")
                    await asyncio.sleep(1.0)
                    await browser.press("space")
                    await browser.wait_for_screen(GATE_ROW, timeout=60)
                    await asyncio.sleep(0.5)  # the canvas catches up with the buffer
                    await browser.screenshot(args.screenshot)
            finally:
                await browser.close()
    report(serve_argv, results)


def report(serve_argv: list[str], results: list[tuple[float, float, float | None]]) -> None:
    print(f"spectui serve {' '.join(serve_argv)}: {len(results)} visits")
    for name, values in (
        ("first frame, s", [first for first, _, _ in results]),
        ("ready, s", [ready for _, ready, _ in results]),
        ("visit RSS, MB", [rss for _, _, rss in results if rss is not None]),
    ):
        if values:
            print(
                f"  {name:15} median {statistics.median(values):7.2f}   "
                f"min {min(values):7.2f}   max {max(values):7.2f}   "
                f"({', '.join(f'{v:.2f}' for v in values)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", help="--pair for spectui serve (default: spectui's default)")
    parser.add_argument("--replay", type=Path, help="serve this trace instead of models")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="after the last visit, step and save")
    args = parser.parse_args()
    serve_argv = [*(["--pair", args.pair] if args.pair else [])]
    if args.replay is not None:
        serve_argv = ["--replay", str(args.replay.resolve())]
    asyncio.run(measure(args, serve_argv))


if __name__ == "__main__":
    main()
