"""`spectui bench`: time the engine against plain decoding, HF assisted generation and the seed.

Only argparse is imported at module level: the CLI imports this module to build its parser,
and `spectui --help` must stay instant. torch and transformers load inside `main`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectui.bench.synthetic_pairs import SYNTHETIC_PAIRS
from spectui.commands.options import add_config_options, api_key_from_args, config_from_args
from spectui.commands.progress import CommandProgress
from spectui.commands.prompt_options import prompt_set_from_args
from spectui.engine.config import ConfigError
from spectui.engine.drafters.methods import drafter_problem, is_draft_method

SUMMARY = "benchmark the engine against plain and HF decoding"


@dataclass(frozen=True)
class Preset:
    """Defaults of a full run or of --quick."""

    new_tokens: int
    repeats: int
    prompts: int | None  # the first n prompts; None: all
    cost_budget: float  # seconds spent timing the cost model's steps, over all repeats
    spans: tuple[int, ...]  # draft spans the chain is timed at beside k
    kernel_repeats: int  # timed forwards per block size and kernel
    alphas: tuple[float, ...]  # the oracle sweep
    seed_prompts: int  # prompts the seed's no-cache algorithm runs on
    drafters: tuple[str, ...]  # other drafting methods
    tree: bool  # a token tree beside the chain
    kernel_all_cores: bool  # the kernel table at every core too
    kernel_dtypes: tuple[str, ...]  # precisions the kernel table loads the verifier in
    block_check_every_kernel: bool  # block vs step on each kernel's copy (else the pair's)


# --quick answers "does speculation pay here, at which k, on which kernel" in under a minute
# on 2 idle cores with the default pair; the oracle sweep, the seed, the tree and the other
# drafters are a full run's (or asked for by their options).
QUICK = Preset(
    new_tokens=32,
    repeats=2,
    prompts=2,
    cost_budget=1.0,
    spans=(3,),
    kernel_repeats=2,
    alphas=(),
    seed_prompts=0,
    drafters=(),
    tree=False,
    kernel_all_cores=False,
    kernel_dtypes=("float32",),  # both kernels, exact: bfloat16's row is a full run's
    block_check_every_kernel=False,
)
FULL = Preset(
    new_tokens=128,
    repeats=5,
    prompts=None,
    cost_budget=10.0,
    spans=(1, 2, 3, 4, 5, 6, 7),
    kernel_repeats=7,
    alphas=(0.0, 0.5, 0.7, 0.9, 1.0),
    seed_prompts=1,
    drafters=("ngram",),
    tree=True,
    kernel_all_cores=True,
    kernel_dtypes=("float32", "bfloat16"),
    block_check_every_kernel=True,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `spectui bench`: the decode settings it does not decide itself, and its own."""
    # bench runs both policies, greedy drafts, always with the bonus token (as HF assisted
    # generation): those settings are not options here.
    add_config_options(
        parser,
        exclude=("policy", "bonus", "sample_draft"),
        overrides={
            "max_new_tokens": {
                "help": "tokens every method generates, EOS off (default: 128; --quick 32)"
            }
        },
    )
    group = parser.add_argument_group("benchmark")
    group.add_argument(
        "--quick",
        action="store_true",
        help="32 new tokens, 2 prompts, 2 repeats; plain (on both kernels), the chain at k and "
        "at 3, soft-guarded, and the kernel table at the bench's threads",
    )
    group.add_argument(
        "--repeats", type=int, metavar="N", help="interleaved repeats (default: 5; --quick 2)"
    )
    group.add_argument(
        "--n-prompts",
        type=int,
        metavar="N",
        help="use the first N prompts (default: all; --quick 2)",
    )
    group.add_argument(
        "--alphas",
        type=_alphas,
        metavar="A,B,...",
        help="oracle-drafter acceptances to sweep (default: 0,0.5,0.7,0.9,1; --quick none; "
        "'none' skips the sweep)",
    )
    group.add_argument(
        "--drafters",
        type=_drafters,
        metavar="M,M,...",
        help="drafting methods timed beside the pair's drafter model at the same k, "
        "greedy-exact: ngram (prompt lookup, --prompt-lookup-min/max) and early-exit:N (the "
        "verifier's first N layers) (default: ngram; --quick none; 'none' skips them)",
    )
    group.add_argument(
        "--tree-method",
        action=argparse.BooleanOptionalAction,
        help="time a token tree at the chain's verifier budget beside the chain "
        "(default: on; --quick off)",
    )
    group.add_argument(
        "--spans",
        type=_spans,
        metavar="K,K,...",
        help="draft spans the greedy-exact chain is also timed at, beside --draft-span, for "
        "the best k (default: 1-7; --quick 3; 'none': only --draft-span)",
    )
    group.add_argument(
        "--kernel-repeats",
        type=int,
        metavar="N",
        help="timed verifier forwards per block size (1-8 rows) on each kernel and precision "
        "(default: 7, at the bench's threads and every core; --quick 2, the bench's threads "
        "only; 0 skips the kernel table)",
    )
    group.add_argument(
        "--seed-prompts",
        type=int,
        metavar="N",
        help="run the seed's slow no-cache algorithm on the first N prompts "
        "(default: 1; --quick 0; 0 skips it)",
    )
    group.add_argument(
        "--seed-repeats",
        type=int,
        metavar="N",
        help="... in the first N repeats only (default: every repeat)",
    )
    group.add_argument(
        "--synthetic",
        choices=tuple(SYNTHETIC_PAIRS),
        help="instead of loading a pair, build random-weight GPT-2s of these "
        "shapes: gpt2 (124M) -> gpt2-medium (355M), or the bundled pair's",
    )
    group.add_argument(
        "--synthetic-drafter",
        choices=("own", "perturbed"),
        default="own",
        help="synthetic drafter: random at its own size (acceptance ~0 or ~1; "
        "use the oracle sweep), or a perturbed copy of the verifier (acceptance "
        "in between, c ≈ 1) (default: %(default)s)",
    )
    group.add_argument(
        "--synthetic-noise",
        type=float,
        default=0.3,
        help="perturbed drafter: noise in units of each weight tensor's std (default: %(default)s)",
    )
    group.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object instead of tables"
    )
    group.add_argument(
        "--save-json", type=Path, metavar="PATH", help="also write the JSON object to PATH"
    )


def main(args: argparse.Namespace) -> int:
    """Run the benchmark and print tables (or JSON); 0 on success."""
    import torch
    from transformers.utils import logging as transformers_logging

    from spectui.bench.report import print_report
    from spectui.bench.suite import BenchSettings, run_bench

    preset = QUICK if args.quick else FULL
    threads = getattr(args, "threads", None) or 1  # one thread is stable on a shared machine
    max_new_tokens = getattr(args, "max_new_tokens", None)
    config = config_from_args(
        args,
        threads=threads,
        bonus=True,
        stop_at_eos=False,
        sample_draft=False,
        max_new_tokens=None,
    )
    if is_draft_method(config.drafter):
        raise ConfigError(
            f"spectui bench times the pair's drafter model against plain and HF decoding; "
            f"compare --drafter {config.drafter} with it by --drafters {config.drafter}"
        )
    prompts = prompt_set_from_args(args)
    n_prompts = args.n_prompts or preset.prompts
    repeats = args.repeats or preset.repeats
    for name, value in (
        ("--max-new-tokens", max_new_tokens),
        ("--repeats", repeats),
        ("--n-prompts", n_prompts),
    ):
        if value is not None and value < 1:
            print(f"spectui bench: {name} must be at least 1, got {value}", file=sys.stderr)
            return 2
    settings = BenchSettings(
        config=config,
        new_tokens=max_new_tokens or preset.new_tokens,
        repeats=repeats,
        prompts=tuple(prompt.text for prompt in prompts[:n_prompts]),
        categories=tuple(prompt.category for prompt in prompts[:n_prompts]),
        alphas=preset.alphas if args.alphas is None else args.alphas,
        seed_prompts=preset.seed_prompts if args.seed_prompts is None else args.seed_prompts,
        seed_repeats=args.seed_repeats,
        cost_budget_seconds=preset.cost_budget,
        drafters=preset.drafters if args.drafters is None else args.drafters,
        tree=preset.tree if args.tree_method is None else args.tree_method,
        kernel_all_cores=preset.kernel_all_cores,
        kernel_dtypes=preset.kernel_dtypes,
        block_check_every_kernel=preset.block_check_every_kernel,
        spans=preset.spans if args.spans is None else args.spans,
        kernel_repeats=(
            preset.kernel_repeats if args.kernel_repeats is None else args.kernel_repeats
        ),
    )
    torch.set_num_threads(threads)
    # HF assisted generation warns about its own internal generate() call on every decode.
    transformers_logging.set_verbosity_error()
    remote = config.verifier_url is not None
    with CommandProgress("spectui bench") as progress:  # on stderr, a bar per stage
        if remote:
            result = _remote_bench(args, settings, progress)
        else:
            pair = _pair(args, config, progress)
            result = run_bench(pair, settings, progress=progress.say, bars=progress.bar)
    _emit(args, result, _remote_report if remote else print_report)
    return 0


def _remote_bench(
    args: argparse.Namespace, settings: Any, progress: CommandProgress
) -> dict[str, Any]:
    """The verifier served vs loaded here, on the same prompts (`--verifier` names the model)."""
    from dataclasses import replace

    from spectui.bench.remote import run_remote_bench
    from spectui.engine.models.loading import load_pair

    config = settings.config
    here = replace(config, verifier_url=None, verifier_model=None)
    pairs = {
        "local": load_pair(here, progress=progress.say, bars=progress.bar),
        "remote": load_pair(
            config, progress=progress.say, api_key=api_key_from_args(args), bars=progress.bar
        ),
    }
    return run_remote_bench(
        pairs,
        config,
        settings.prompts,
        settings.new_tokens,
        settings.repeats,
        progress.say,
        bars=progress.bar,
    )


def _emit(args: argparse.Namespace, result: dict[str, Any], report: Any) -> None:
    """Print `result` as JSON or as tables, and save it where --save-json says."""
    text = json.dumps(result, indent=2)
    if args.save_json:
        args.save_json.parent.mkdir(parents=True, exist_ok=True)
        args.save_json.write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    else:
        report(result)


def _remote_report(result: dict[str, Any]) -> None:
    from spectui.bench.remote import print_remote_report

    print_remote_report(result)


def _pair(args: argparse.Namespace, config, progress: CommandProgress):  # type: ignore[no-untyped-def]
    if args.synthetic:
        from spectui.bench.synthetic import build_synthetic_pair

        progress.say(f"building a random-weight {args.synthetic} pair")
        return build_synthetic_pair(
            args.synthetic,
            drafter_kind=args.synthetic_drafter,
            noise=args.synthetic_noise,
            seed=config.seed,
            device=config.device,
            dtype=config.dtype,
        )
    from spectui.engine.models.loading import load_pair

    return load_pair(config, progress=progress.say, bars=progress.bar)


def _drafters(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "none":
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        problem = drafter_problem("--drafters", name)
        if problem is None and not is_draft_method(name):
            problem = f"{name!r} is not a drafting method: ngram or early-exit:N"
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
    return names


def _spans(text: str) -> tuple[int, ...]:
    if text.strip().lower() == "none":
        return ()
    try:
        spans = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"draft spans are whole numbers, got {text!r}") from None
    if any(not 1 <= k <= 64 for k in spans):
        raise argparse.ArgumentTypeError(f"draft spans are 1 to 64, got {text!r}")
    return spans


def _alphas(text: str) -> tuple[float, ...]:
    if text.strip().lower() == "none":
        return ()
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {text!r}"
        ) from None
    if any(not 0.0 <= value <= 1.0 for value in values):
        raise argparse.ArgumentTypeError(f"every α must be in 0..1, got {text!r}")
    return values
