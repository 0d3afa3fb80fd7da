"""`spectui observe URL`: a speculating server's own requests, step by step, and checked.

Sends each prompt to an OpenAI-compatible server that speculates (vLLM with
`--per-request-spec-decode-metrics detailed`) and reads, per request, the steps the server
reports. With `--drafter ngram` (vLLM's n-gram method, drafted exactly as vLLM drafts) spectui
rebuilds every step's drafts, the draftless ones and the rejected drafts included, and says
whether its steps are the server's, step by step. The requests then open in the app
(`spectui/app/observe/`), or print: `--json`, `--table`, or without a terminal. Only argparse
and the error types are imported at module level.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui.engine.config import ConfigError
from spectui.engine.errors import SpectuiError

if TYPE_CHECKING:
    from spectui.engine.observe.client import Sampling, SpeculatingServer
    from spectui.engine.observe.request import ObservedRequest

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
    parser.add_argument(
        "--table",
        action="store_true",
        help="print the requests' table instead of opening the app (also without a terminal)",
    )


def main(args: argparse.Namespace) -> int:
    """Observe every prompt, then open the app on the requests (or print them: --json, --table,
    or no terminal); 0 when all were observed (and rebuilt alike), 1 if a rebuild differed, 2
    for a server that cannot be observed (RemoteError, from the CLI)."""
    from spectui.commands.app import terminal_problem
    from spectui.engine.observe.request import as_json

    if args.max_new_tokens < 1:
        raise ConfigError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    if not 1 <= args.prompt_lookup_min <= args.prompt_lookup_max:
        raise ConfigError("--prompt-lookup-min must be ≥ 1 and at most --prompt-lookup-max")
    _check_rebuild_options(args)
    in_app = not args.json and not args.table and terminal_problem() is None
    with tempfile.TemporaryDirectory(prefix="spectui-observe-") as folder:
        # The app replays each rebuilt decode from its trace: kept here when no --trace asks.
        traces = args.trace or (Path(folder) / "observed.jsonl" if in_app else None)
        requests, failure = observe_all(args, traces, keep_going=in_app)
        if in_app and requests:
            return _run_app(requests, failure)
    if failure is not None:
        raise failure
    if not args.json:
        print_table([as_json(request) for request in requests])
    return 1 if any(request.divergence for request in requests) else 0


def observe_all(
    args: argparse.Namespace, traces: Path | None, keep_going: bool = False
) -> tuple[list[ObservedRequest], SpectuiError | None]:
    """Send every prompt and read (and rebuild) each answer; with --json print each as it
    comes. `keep_going`: a server error after the first request ends the run but keeps what
    was observed (the app opens on it and shows the error); else it is raised."""
    from spectui.commands.options import api_key_from_args
    from spectui.commands.prompt_options import prompts_from_args
    from spectui.engine.observe.client import Sampling, SpeculatingServer
    from spectui.engine.observe.request import as_json

    prompts = prompts_from_args(args)
    sampling = Sampling(args.max_new_tokens, args.temperature, args.top_p, args.seed)
    requests: list[ObservedRequest] = []
    with SpeculatingServer(args.url, args.model, api_key_from_args(args), args.timeout) as server:
        server.check()  # reachable, and the model named: before any local model loads
        pair = _local_pair(args)
        for number, prompt in enumerate(prompts, start=1):
            print(f"spectui: request {number}/{len(prompts)}", file=sys.stderr, flush=True)
            try:
                trace = _trace_path(traces, number, len(prompts))
                request = _observe_one(server, args, pair, number, prompt, sampling, trace)
            except SpectuiError as error:
                if not (keep_going and requests):
                    raise
                return requests, error
            requests.append(request)
            if args.json:
                print(json.dumps(as_json(request)), flush=True)
    return requests, None


def _observe_one(
    server: SpeculatingServer,
    args: argparse.Namespace,
    pair: Any,
    number: int,
    prompt: str,
    sampling: Sampling,
    trace: Path | None,
) -> ObservedRequest:
    """One prompt observed, and rebuilt as the options ask (a local decode's trace to `trace`)."""
    from spectui.engine.observe.request import observe_request, rejected_ids

    observed = server.observe(prompt, sampling)
    if pair is not None:
        request = observe_request(number, observed, local=(pair, _local_config(args)), trace=trace)
        if args.trace is not None and trace is not None:
            print(f"spectui: trace saved to {trace}", file=sys.stderr, flush=True)
        return request
    if args.drafter != "ngram":
        return observe_request(number, observed)
    from spectui.engine.drafters.ngram import lookup

    low, high = args.prompt_lookup_min, args.prompt_lookup_max
    request = observe_request(number, observed, lambda tokens, k: lookup(tokens, low, high, k))
    if args.json or args.table:
        return request  # the printed forms show no draft's text
    return replace(request, draft_texts=server.token_texts(rejected_ids(request)))


def _run_app(requests: list[ObservedRequest], failure: SpectuiError | None) -> int:
    from spectui.app.observe.app import ObserveApp
    from spectui.commands.app import stdout_on_the_terminal

    app = ObserveApp(requests, failure=None if failure is None else str(failure))
    with stdout_on_the_terminal():
        app.run()
    return 1 if any(request.divergence for request in requests) else 0


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
