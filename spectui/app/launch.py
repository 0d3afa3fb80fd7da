"""`spectui` with no sub-command: open the app (models load inside it, after the first frame)."""

from __future__ import annotations

import argparse
import sys

from spectui.app.app import SpectuiApp
from spectui.cli import SEED_PROMPTS, config_from_args

# With no --max-new-tokens the app decodes this many tokens (the engine's own default, one
# round, suits `spectui run` reproducing the seed, not watching a decode unfold).
APP_MAX_NEW_TOKENS = 200


def main(args: argparse.Namespace) -> int:
    """Run the app with the parsed `spectui` options; returns the exit status."""
    overrides = {} if args.max_new_tokens else {"max_new_tokens": APP_MAX_NEW_TOKENS}
    config = config_from_args(args, **overrides)  # ConfigError -> a usage error, before the UI
    prompts = list(args.prompt) if args.prompt else list(SEED_PROMPTS)
    app = SpectuiApp(config, prompts[0], prompts, trace_path=args.trace)
    app.run()
    if app.decode_screen.autosave_error:  # the trace could not be saved on the way out
        print(f"spectui: {app.decode_screen.autosave_error}", file=sys.stderr)
        return 1
    return 0
