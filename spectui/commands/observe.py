"""`spectui observe URL`: a speculating server's own requests, step by step, and checked.

Sends each prompt to an OpenAI-compatible server that speculates (vLLM with
`--per-request-spec-decode-metrics detailed`) and reads, per request, the steps the server
reports. With `--drafter ngram` (vLLM's n-gram method, drafted exactly as vLLM drafts) spectui
rebuilds every step's drafts, the draftless ones and the rejected drafts included, and says
whether its steps are the server's, step by step. Only argparse is imported at module level.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui.engine.config import ConfigError

if TYPE_CHECKING:
    from spectui.engine.observe.client import Observed

SUMMARY = "watch a speculating server's own requests (vLLM), step by step"
DEFAULT_TOKENS = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `spectui observe`."""
    parser.add_argument(
        "url", metavar="URL", help="the server's API, e.g. http://127.0.0.1:8000/v1"
    )
    parser.add_argument("--model", metavar="NAME", help="the served model (default: the only one)")
    parser.add_argument(
        "--prompt",
        action="append",
        metavar="TEXT",
        help="a prompt (repeatable; default: the seed's six)",
    )
    parser.add_argument("--prompts-file", type=Path, metavar="FILE", help="prompts, one a line")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=DEFAULT_TOKENS,
        metavar="N",
        help=f"tokens per request (default: {DEFAULT_TOKENS})",
    )
    parser.add_argument("--temperature", type=float, default=0.0, help="default: 0 (greedy)")
    parser.add_argument("--top-p", type=float, default=1.0, help="default: 1 (off)")
    parser.add_argument("--seed", type=int, default=None, help="the request's sampling seed")
    parser.add_argument(
        "--drafter",
        metavar="ngram|DIR",
        help="the server's drafter, to rebuild every step here and check it against the "
        "server's counts (greedy requests): ngram (vLLM's method, with the server's sizes), or "
        "the draft model's directory (needs --verifier)",
    )
    parser.add_argument(
        "--verifier",
        metavar="DIR",
        help="a local copy of the served model: spectui's engine decodes each request again "
        "with it and --drafter, recording every draft and its gate check (--trace keeps them)",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="FILE",
        help="with --verifier: save each request's rebuilt decode as a trace for `spectui "
        "replay` (FILE itself for one request, else FILE-<n>.jsonl)",
    )
    parser.add_argument(
        "--prompt-lookup-min",
        type=int,
        default=1,
        metavar="N",
        help="the server's prompt_lookup_min (default: 1)",
    )
    parser.add_argument(
        "--prompt-lookup-max",
        type=int,
        default=3,
        metavar="N",
        help="the server's prompt_lookup_max (default: 3)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a request may take")
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="bearer token (default: $SPECTUI_API_KEY, else $OPENAI_API_KEY)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per request (JSON Lines)"
    )


def main(args: argparse.Namespace) -> int:
    """Observe every prompt; 0 when all were observed (and rebuilt alike), 1 if a rebuild
    differed, 2 for a server that cannot be observed (RemoteError, from the CLI)."""
    from spectui.commands.options import api_key_from_args
    from spectui.commands.prompt_options import prompts_from_args
    from spectui.engine.observe.client import Sampling, SpeculatingServer

    if args.max_new_tokens < 1:
        raise ConfigError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    if not 1 <= args.prompt_lookup_min <= args.prompt_lookup_max:
        raise ConfigError("--prompt-lookup-min must be ≥ 1 and at most --prompt-lookup-max")
    _check_rebuild_options(args)
    prompts = prompts_from_args(args)
    sampling = Sampling(args.max_new_tokens, args.temperature, args.top_p, args.seed)
    records = []
    with SpeculatingServer(args.url, args.model, api_key_from_args(args), args.timeout) as server:
        server.check()  # reachable, and the model named: before any local model loads
        pair = _local_pair(args)
        for number, prompt in enumerate(prompts, start=1):
            print(f"spectui: request {number}/{len(prompts)}", file=sys.stderr, flush=True)
            observed = server.observe(prompt, sampling)
            trace = _trace_path(args.trace, number, len(prompts))
            record = request_record(observed, args, pair, trace)
            records.append(record)
            if args.json:
                print(json.dumps(record), flush=True)
    if not args.json:
        print_table(records)
    return 1 if any(record["divergence"] for record in records) else 0


def _check_rebuild_options(args: argparse.Namespace) -> None:
    """A rebuild needs greedy requests, and a draft model needs the verifier beside it."""
    if args.drafter is not None and args.temperature != 0:
        raise ConfigError(
            "--drafter rebuilds greedy requests only (the server's sampling draws are not "
            "returned): leave out --temperature, or --drafter"
        )
    if args.drafter not in (None, "ngram") and args.verifier is None:
        raise ConfigError(
            f"--drafter {args.drafter} is a model: rebuilding its drafts needs the verifier "
            "too, --verifier DIR (a local copy of the served model)"
        )
    if args.verifier is not None and args.drafter is None:
        raise ConfigError("--verifier needs the server's drafter: --drafter ngram or DIR")
    if args.trace is not None and args.verifier is None:
        raise ConfigError("--trace keeps the rebuilt decodes: it needs --verifier DIR")


def _local_pair(args: argparse.Namespace) -> Any:
    """The server's drafter and a copy of its verifier, loaded here (None: no --verifier)."""
    if args.verifier is None:
        return None
    from spectui.engine.models.loading import load_pair

    return load_pair(_local_config(args))


def _local_config(args: argparse.Namespace) -> Any:
    from spectui.engine.config import DecodeConfig

    return DecodeConfig(
        drafter=args.drafter,
        verifier=args.verifier,
        prompt_lookup_min=args.prompt_lookup_min,
        prompt_lookup_max=args.prompt_lookup_max,
    )


def _trace_path(path: Path | None, number: int, total: int) -> Path | None:
    if path is None or total == 1:
        return path
    return path.with_name(f"{path.stem}-{number}{path.suffix}")


def request_record(
    observed: Observed, args: argparse.Namespace, pair: Any = None, trace: Path | None = None
) -> dict[str, Any]:
    """One request as `--json` prints it: spectui's reading, the rebuild, the server's own."""
    from spectui.engine.observe.steps import StepReading, counted_reading, server_steps

    reading = counted_reading(observed.server, len(observed.output_ids))
    rebuilt: list[dict[str, Any]] | None = None
    divergence = note = None
    if pair is not None:
        from spectui.engine.observe.local import decode_locally

        local = decode_locally(pair, _local_config(args), observed, trace)
        reading = StepReading(local.steps)
        rebuilt = [{"drafted": step.drafted, "accepted": step.accepted} for step in local.steps]
        divergence = local.cause
        note = local.note
        if trace is not None:
            print(f"spectui: trace saved to {trace}", file=sys.stderr, flush=True)
    elif args.drafter == "ngram":
        from spectui.engine.drafters.ngram import lookup
        from spectui.engine.observe.rebuild import first_divergence, rebuild

        steps = rebuild(
            observed.prompt_ids,
            observed.output_ids,
            observed.k,
            lambda tokens, k: lookup(tokens, args.prompt_lookup_min, args.prompt_lookup_max, k),
        )
        reading = StepReading(tuple(step.step for step in steps))
        rebuilt = [
            {"drafted": len(step.drafts), "accepted": step.accepted, "drafts": list(step.drafts)}
            for step in steps
        ]
        found = first_divergence(reading.steps, server_steps(observed.server))
        divergence = None if found is None else found.words()
    return {
        "prompt": observed.prompt,
        "completion_tokens": len(observed.output_ids),
        "finish_reason": observed.finish_reason,
        "text": observed.text,
        "seconds": observed.seconds,
        "per_step_accepted": reading.per_step_accepted,
        "per_step_drafted": reading.per_step_drafted,
        "tokens_per_step": reading.tokens_per_step,
        "draftless_steps_unplaced": reading.unplaced_draftless,
        "figures": reading.figures(),
        "rebuilt": rebuilt,
        "divergence": divergence,
        "note": note,
        "server": dict(observed.server),
    }


def print_table(records: Sequence[dict[str, Any]]) -> None:
    """One row per request, the lowest τ first; every list whole (no cell is cut)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Requests, the lowest τ first", title_justify="left")
    for name in ("#", "prompt", "steps", "τ", "α judged", "acc/drafted", "vLLM len", "rebuilt"):
        table.add_column(name, justify="left" if name in ("prompt", "rebuilt") else "right")
    table.add_column("accepted per step (0/0: drafted nothing)")
    ordered = sorted(enumerate(records, 1), key=lambda item: item[1]["figures"]["tau"] or 0)
    for number, record in ordered:
        figures = record["figures"]
        steps = [
            f"{a}" if d else "·"
            for a, d in zip(record["per_step_accepted"], record["per_step_drafted"], strict=True)
        ]
        rebuilt = (
            "not asked (--drafter ngram)"
            if record["rebuilt"] is None
            else record["divergence"] or "= the server's, every step"
        )
        table.add_row(
            str(number),
            json.dumps(record["prompt"][:40], ensure_ascii=False),
            str(figures["steps"]),
            _num(figures["tau"]),
            _num(figures["alpha_per_judged"]),
            _num(figures["draft_acceptance_rate"]),
            _num(figures["mean_acceptance_length"]),
            rebuilt,
            " ".join(steps),
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=240)
    console.print(table)
    console.print(
        "τ: tokens per step, the verifier's included; α judged: accepted / judged drafts; "
        "acc/drafted: vLLM's draft acceptance rate; vLLM len: 1 + accepted / drafting steps "
        "(the server's mean_acceptance_length); · a step that drafted nothing"
    )


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
