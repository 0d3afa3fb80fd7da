"""The `spectui` command: the app by default, plus headless sub-commands.

Nothing heavy is imported here: torch and transformers load only when a command needs them,
so `spectui --help` is instant and the app paints its first frame before models load.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

from spectui import __version__
from spectui.engine.config import DTYPE_NAMES, ConfigError, DecodeConfig
from spectui.engine.errors import SpectuiError
from spectui.models import PAIR_PRESETS

SEED_PROMPTS = (
    "Once upon a time,",
    "The capital of France is",
    "She walked into the",
    "It is important to",
    "This is a simple",
    "In the beginning,",
)

# sub-command -> module with add_arguments(parser) and main(args) -> int
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("spectui.commands.run", "decode headlessly and print drafts, verdicts and stats"),
    "bench": ("spectui.bench.command", "benchmark the engine against plain and HF decoding"),
    "replay": ("spectui.commands.replay", "open the app on a saved trace, with no model loaded"),
}


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """The options every command shares; they mirror DecodeConfig's fields."""
    defaults = DecodeConfig()
    group = parser.add_argument_group("models and decoding")
    group.add_argument(
        "--pair",
        choices=sorted(PAIR_PRESETS),
        help="named pair: bundled (default, offline) or seed (gpt2 -> gpt2-medium, needs the hub)",
    )
    group.add_argument("--drafter", help="drafter: HF id or local directory (default: bundled)")
    group.add_argument("--verifier", help="verifier: HF id or local directory (default: bundled)")
    group.add_argument(
        "--policy",
        choices=["greedy", "soft", "sample"],
        default=defaults.policy,
        help=(
            "acceptance policy: greedy-exact, soft-guarded or speculative-sampling "
            "(default: %(default)s)"
        ),
    )
    group.add_argument(
        "--draft-span",
        type=int,
        default=defaults.draft_span,
        metavar="K",
        help="tokens the drafter proposes per round (default: %(default)s)",
    )
    group.add_argument(
        "--p-thresh",
        type=float,
        default=defaults.p_thresh,
        help="soft gate: verifier probability >= this (default: %(default)s)",
    )
    group.add_argument(
        "--topk-gate",
        type=int,
        default=defaults.topk_gate,
        help="soft gate: draft token in the verifier's top-k (default: %(default)s)",
    )
    group.add_argument(
        "--margin-gate",
        type=float,
        default=defaults.margin_gate,
        help="soft gate: p_top1 - p <= this (default: %(default)s)",
    )
    group.add_argument(
        "--max-accept",
        type=int,
        default=defaults.max_accept,
        help="soft gate: accepted tokens per round at most (default: %(default)s)",
    )
    group.add_argument(
        "--sample-draft", action="store_true", help="sample drafts (T=1, top_p=1) instead of greedy"
    )
    group.add_argument("--seed", type=int, default=defaults.seed, help="(default: %(default)s)")
    group.add_argument(
        "--device", default=defaults.device, help="auto (mps -> cuda -> cpu), cpu, cuda[:N] or mps"
    )
    group.add_argument(
        "--dtype", choices=DTYPE_NAMES, default=defaults.dtype, help="auto = float32 (default)"
    )
    group.add_argument("--threads", type=int, help="torch CPU threads")
    group.add_argument(
        "--max-new-tokens",
        type=int,
        help="decode this many tokens (default: one round, as the seed's step)",
    )
    group.add_argument(
        "--bonus",
        action=argparse.BooleanOptionalAction,
        default=defaults.bonus,
        help="extra verifier token when the whole draft is accepted",
    )
    group.add_argument(
        "--prompt",
        action="append",
        help="prompt text; may repeat (default: the seed's six prompts)",
    )


def set_option_choices(parser: argparse.ArgumentParser, option: str, choices: list[str]) -> None:
    """Let one sub-command accept other values for a shared option (e.g. run's --policy both)."""
    for action in parser._actions:
        if option in action.option_strings:
            action.choices = choices


def config_from_args(args: argparse.Namespace, **overrides: object) -> DecodeConfig:
    """A validated DecodeConfig from parsed options (raises ConfigError)."""
    drafter, verifier = PAIR_PRESETS[args.pair or "bundled"]
    values: dict[str, object] = {
        "drafter": args.drafter or drafter,
        "verifier": args.verifier or verifier,
        "policy": args.policy or "soft",
        "draft_span": args.draft_span,
        "p_thresh": args.p_thresh,
        "topk_gate": args.topk_gate,
        "margin_gate": args.margin_gate,
        "max_accept": args.max_accept,
        "sample_draft": args.sample_draft,
        "seed": args.seed,
        "device": args.device,
        "dtype": args.dtype,
        "threads": args.threads,
        "max_new_tokens": args.max_new_tokens,
        "bonus": args.bonus,
    }
    values.update(overrides)
    return DecodeConfig(**values)  # type: ignore[arg-type]


def prompts_from_args(args: argparse.Namespace) -> list[str]:
    """The prompts asked for, or the seed's six."""
    return list(args.prompt) if args.prompt else list(SEED_PROMPTS)


def build_parser() -> argparse.ArgumentParser:
    """The full `spectui` argument parser."""
    parser = argparse.ArgumentParser(
        prog="spectui",
        description="Watch and step through speculative decoding. With no sub-command, "
        "opens the terminal app on the bundled offline model pair.",
    )
    parser.add_argument("--version", action="version", version=f"spectui {__version__}")
    parser.add_argument(
        "--trace",
        metavar="FILE",
        type=Path,
        help="save the session's trace (JSON Lines) to FILE when the decode ends and on quit; "
        "the w key saves it there too (else to ./spectui-trace-<time>.jsonl)",
    )
    add_engine_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, summary) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        module = _command_module(module_name)
        if getattr(module, "ENGINE_OPTIONS", True):  # replay loads no model: no model options
            add_engine_options(sub)
        module.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `spectui` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module_name = SUBCOMMANDS[args.command][0] if args.command else "spectui.app.launch"
    command: Callable[[argparse.Namespace], int] = _command_module(module_name).main
    try:
        return command(args)
    except ConfigError as error:
        parser.error(str(error))
    except SpectuiError as error:
        print(f"spectui: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _command_module(name: str):  # type: ignore[no-untyped-def]
    return import_module(name)


if __name__ == "__main__":
    sys.exit(main())
