"""How long `spectui` takes to start on a pair, against the floor its imports set.

Side by side in one run, alternating, `--runs` times each:

* the import floor: `python -c "import torch; from transformers.models.llama import
  modeling_llama"` (what any Llama-based start must pay);
* the real app in a pseudo-terminal (120×40): its first frame (the header painted) and
  "ready" (models loaded, a step possible: "press space to draft one"), from process start;

and once, with `--first-start`, the first start of all: an empty spectui cache, so the GGUF
file is converted (the conversion's own seconds, as the app reports them, printed too).

    python benchmarks/startup.py                       # the default pair (SPECTUI_PAIR unset)
    python benchmarks/startup.py --pair tiny --runs 5
    python benchmarks/startup.py --first-start
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_latency import Pty  # noqa: E402

FLOOR = "import torch; from transformers.models.llama import modeling_llama"


def floor_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR], check=True)
    return time.perf_counter() - started


def app_seconds(argv: list[str]) -> tuple[float, float]:
    term = Pty(argv)
    try:
        first = term.wait_for("spectui") - term.started
        ready = term.wait_for("press space to draft one", timeout=600) - term.started
        term.press(b"q")
    finally:
        term.close()
    return first, ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default=None, help="a named pair (default: spectui's default)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--first-start", action="store_true", help="also time an uncached start")
    args = parser.parse_args()
    os.environ.pop("SPECTUI_PAIR", None)
    argv = [sys.executable, "-m", "spectui.cli", *(["--pair", args.pair] if args.pair else [])]
    if args.first_start:
        with tempfile.TemporaryDirectory() as cache:
            os.environ["SPECTUI_CACHE"] = cache
            first, ready = app_seconds(argv)
            os.environ.pop("SPECTUI_CACHE")
        print(
            f"first start (empty cache: GGUF converted): first frame {first:.2f} s, "
            f"ready {ready:.1f} s"
        )
    app_seconds(argv)  # the cache filled, the page cache warm: what every later start sees
    floors, firsts, readies = [], [], []
    for _ in range(args.runs):
        floors.append(floor_seconds())
        first, ready = app_seconds(argv)
        firsts.append(first)
        readies.append(ready)
    floor, ready = statistics.median(floors), statistics.median(readies)
    print(f"import floor   median {floor:.2f} s  (runs: {', '.join(f'{v:.2f}' for v in floors)})")
    print(
        f"first frame    median {statistics.median(firsts):.2f} s  "
        f"(runs: {', '.join(f'{v:.2f}' for v in firsts)})"
    )
    print(f"ready          median {ready:.2f} s  (runs: {', '.join(f'{v:.2f}' for v in readies)})")
    print(f"ready − floor  {ready - floor:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
