"""Generate the SVG screenshots in screenshots/ by driving the real app (`save_screenshot`).

    python scripts/export_screenshots.py                  # the default pair (smollm2-135m)
    python scripts/export_screenshots.py --pair tiny      # the tiny bundled pair
    python scripts/export_screenshots.py --drafter D --verifier V

Each state is reached with key presses, waiting for the engine worker between them, at 60×20
(the smallest supported terminal), 80×24 and 160×48. Timings (tokens/s, round times, the cost
model) are hidden so the images only change when the app does.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from spectui.app.app import SpectuiApp
from spectui.engine.config import DecodeConfig
from spectui.models import PAIR_ALIASES, PAIR_NAMES, default_pair_name, named_pair

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZES = ((60, 20), (80, 24), (160, 48))
SETTLE_SECONDS = 900.0  # "finished" fast-forwards 200 tokens: minutes on the real pair
# name -> (policy, keys): each starts from a freshly loaded app.
STATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mid-round": ("soft", ("enter", "enter", "space", "space")),
    "stats": ("soft", ("enter",) * 6 + ("space", "space")),
    "greedy-rejection": ("greedy", ("enter", "enter", "enter", "space", "space")),
    "selected-token": ("soft", ("enter", "enter", "enter", "home", "right")),
    "help": ("soft", ("question_mark",)),
    "finished": ("soft", ("f",)),  # fast-forward to the end of the 200-token decode
    "six-settings-changes": ("soft", ("enter",) + ("right_square_bracket",) * 3 + ("t",) * 3),
}


async def capture(
    config: DecodeConfig, prompt: str, name: str, keys: tuple[str, ...], size: tuple[int, int]
) -> Path:
    """Run the app at `size`, press `keys`, save one SVG; returns its path."""
    app = SpectuiApp(config, prompt, timings=False)
    async with app.run_test(size=size) as pilot:
        screen = app.decode_screen
        await screen.settled(SETTLE_SECONDS)
        for key in keys:
            await pilot.press(key)
            await screen.settled(SETTLE_SECONDS)
        await pilot.pause()
        if screen.state.error is not None:
            raise SystemExit(f"spectui: {screen.state.error}")
        path = OUT / f"{name}-{size[0]}x{size[1]}.svg"
        app.save_screenshot(filename=path.name, path=str(OUT))
        return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", choices=(*PAIR_NAMES, *PAIR_ALIASES), default=None)
    parser.add_argument("--drafter", help="default: --pair's")
    parser.add_argument("--verifier", help="default: --pair's")
    parser.add_argument("--prompt", default="Once upon a time,")
    parser.add_argument("--states", default=",".join(STATES), help="comma-separated")
    args = parser.parse_args()
    pair = named_pair(args.pair or default_pair_name())
    drafter, verifier = args.drafter or pair.drafter, args.verifier or pair.verifier
    OUT.mkdir(exist_ok=True)
    for name in args.states.split(","):
        policy, keys = STATES[name]
        config = DecodeConfig(drafter=drafter, verifier=verifier, policy=policy, max_new_tokens=200)
        for size in SIZES:
            print(asyncio.run(capture(config, args.prompt, name, keys, size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
