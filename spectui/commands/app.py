"""`spectui` with no sub-command: open the app (models load inside it, after the first frame)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spectui.commands.options import (
    add_config_options,
    api_key_from_args,
    config_from_args,
    prompts_from_args,
)

SUMMARY = (
    "Watch and step through speculative decoding. With no sub-command, opens the terminal "
    "app on the bundled offline model pair."
)

# With no --max-new-tokens the app decodes this many tokens (the engine's own default, one
# round, suits `spectui run` reproducing the seed, not watching a decode unfold).
APP_MAX_NEW_TOKENS = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The app's options: the trace file and every decode setting."""
    parser.add_argument(
        "--trace",
        metavar="FILE",
        type=Path,
        help="save the session's trace (JSON Lines) to FILE when the decode ends and on quit; "
        "the w key saves it there too (else to ./spectui-trace-<time>.jsonl)",
    )
    add_config_options(parser)


def main(args: argparse.Namespace) -> int:
    """Run the app with the parsed `spectui` options; returns the exit status."""
    from spectui.app.app import SpectuiApp
    from spectui.app.sessions import LiveSession

    overrides = (
        {} if getattr(args, "max_new_tokens", None) else {"max_new_tokens": APP_MAX_NEW_TOKENS}
    )
    config = config_from_args(args, **overrides)  # ConfigError -> a usage error, before the UI
    prompts = prompts_from_args(args)
    session = LiveSession(api_key=api_key_from_args(args))
    app = SpectuiApp(config, prompts[0], prompts, trace_path=args.trace, session=session)
    app.run()
    if app.decode_screen.autosave_error:  # the trace could not be saved on the way out
        print(f"spectui: {app.decode_screen.autosave_error}", file=sys.stderr)
        return 1
    return 0
