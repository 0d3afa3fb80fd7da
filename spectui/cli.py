"""The `spectui` command: the app by default, plus headless sub-commands.

Each command is a module in `spectui/commands/` with `SUMMARY`, `add_arguments(parser)` (the
options it takes) and `main(args) -> int`. Nothing heavy is imported here: torch and
transformers load only when a command needs them, so `spectui --help` is instant and the app
paints its first frame before models load.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from types import ModuleType

from spectui import __version__
from spectui.engine.config import ConfigError
from spectui.engine.errors import SpectuiError
from spectui.engine.prompts import SEED_PROMPTS

__all__ = ["SEED_PROMPTS", "build_parser", "main"]

APP_COMMAND = "spectui.commands.app"  # what `spectui` with no sub-command runs
SUBCOMMANDS: dict[str, str] = {
    "run": "spectui.commands.run",
    "bench": "spectui.commands.bench",
    "replay": "spectui.commands.replay",
    "sweep": "spectui.commands.sweep",
    "observe": "spectui.commands.observe",
    "serve": "spectui.commands.serve",
}


def build_parser() -> argparse.ArgumentParser:
    """The full `spectui` argument parser."""
    app = _command(APP_COMMAND)
    parser = argparse.ArgumentParser(prog="spectui", description=app.SUMMARY)
    parser.set_defaults(usage_of=parser)  # a sub-command's own parser replaces it
    parser.add_argument("--version", action="version", version=f"spectui {__version__}")
    app.add_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = _command(module_name)
        sub = commands.add_parser(name, help=module.SUMMARY, description=module.SUMMARY)
        module.add_arguments(sub)
        sub.set_defaults(usage_of=sub)  # an argument error prints this command's usage
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `spectui` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module_name = SUBCOMMANDS[args.command] if args.command else APP_COMMAND
    command: Callable[[argparse.Namespace], int] = _command(module_name).main
    try:
        if args.command and (note := half_pair_note(args)) is not None:
            print(f"spectui: {note}", file=sys.stderr)  # the app shows it on screen
        return command(args)
    except ConfigError as error:
        usage: argparse.ArgumentParser = args.usage_of
        usage.error(str(error))  # exits with status 2
    except SpectuiError as error:
        print(f"spectui: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2  # not reached: error() exits


def half_pair_note(args: argparse.Namespace) -> str | None:
    """Which model filled the half of the pair the options left out (commands.options)."""
    from spectui.commands.options import half_pair_note as note

    return note(args)


def _command(name: str) -> ModuleType:
    return import_module(name)


if __name__ == "__main__":
    sys.exit(main())
