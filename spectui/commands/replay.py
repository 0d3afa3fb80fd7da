"""`spectui replay FILE`: open the app on a saved trace, with no model, tokenizer or torch.

Stepping, selecting, the gate panel, token details and stats work as in a live decode; what
would need the models (another policy, other settings, another prompt) is refused with a
reason. A damaged or foreign file is a one-line error naming the file and line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spectui.commands.app import refuse, stdout_on_the_terminal, terminal_problem

SUMMARY = "open the app on a saved trace, with no model loaded"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `spectui replay` (no model or decoding options: the trace holds them)."""
    parser.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        help="a trace saved by `spectui run --trace FILE` or by the app (w, or --trace FILE)",
    )
    parser.add_argument(
        "--no-timings",
        dest="timings",
        action="store_false",
        help="hide the recorded timings (tokens/s) in the stats panel",
    )
    parser.add_argument(
        "--text-marks",
        action="store_true",
        help="write each token's kind into the stream's text (the m key): [-rejected-], "
        "{correction}, [~discarded~], [?pending?], {+bonus}",
    )


def main(args: argparse.Namespace) -> int:
    """Check the trace (TraceError: exit status 2), then open the app on it (no terminal: 2)."""
    from spectui.engine.trace.reader import read_trace

    trace = read_trace(args.file)
    if (problem := terminal_problem()) is not None:
        return refuse(problem)
    from spectui.app.replay import replay_app

    with stdout_on_the_terminal():
        replay_app(trace, timings=args.timings, text_marks=args.text_marks).run()
    return 0
