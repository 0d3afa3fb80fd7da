"""`spectui run`: decode headlessly and print, like the seed's main, drafts, verdicts and text."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui.commands.options import (
    add_config_options,
    api_key_from_args,
    config_from_args,
    prompts_from_args,
)
from spectui.engine.config import DecodeConfig
from spectui.engine.errors import PromptError
from spectui.engine.policies import SEED_REPORT, all_gates, policy_label, policy_names

if TYPE_CHECKING:
    from rich.console import Console

    from spectui.engine.events import DecodeFinished, RoundFinished
    from spectui.engine.loading import ModelPair

SUMMARY = "decode headlessly and print drafts, verdicts and stats"
BOTH = "both"  # the seed's main: soft-guarded, then greedy-exact


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `spectui run`: every decode setting, and its own."""
    add_config_options(
        parser,
        overrides={
            "policy": {
                "choices": [*policy_names(), BOTH],
                "help": f"acceptance policy, or {BOTH} (the seed's main: "
                f"{' then '.join(policy_label(name) for name in SEED_REPORT)}; the default)",
            }
        },
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON Lines: one object per round and one per finished decode",
    )
    parser.add_argument(
        "--trace",
        metavar="FILE",
        type=Path,
        help="save each decode as a trace (JSON Lines) for `spectui replay`: FILE itself "
        "when there is one decode, otherwise FILE's name with -<n>-<policy> added per decode "
        "(n the prompt's number from 1), e.g. out.jsonl -> out-1-soft.jsonl, out-1-greedy.jsonl",
    )
    parser.add_argument(
        "--gates",
        action="store_true",
        help="also print every round's gate checks (human output only)",
    )


@dataclass
class DecodeRecord:
    """One prompt decoded under one policy."""

    prompt: str
    policy: str
    rounds: list[RoundFinished] = field(default_factory=list)
    done: DecodeFinished | None = None
    error: str | None = None
    trace: Path | None = None  # where to save the decode's trace, if anywhere


def trace_path(path: Path, number: int, policy: str) -> Path:
    """The trace of prompt `number` under `policy` when one run makes several: out-2-soft.jsonl."""
    return path.with_name(f"{path.stem}-{number}-{policy}{path.suffix}")


def main(args: argparse.Namespace) -> int:
    """Run every prompt under the chosen policies; exit 1 if any prompt failed."""
    from spectui.engine.loading import load_pair

    chosen = getattr(args, "policy", BOTH)
    policies = SEED_REPORT if chosen == BOTH else (chosen,)
    config = config_from_args(args, policy=policies[0])
    progress = None if args.json else _stderr_progress
    pair = load_pair(config, progress=progress, api_key=api_key_from_args(args))
    prompts = prompts_from_args(args)
    records = []
    for number, prompt in enumerate(prompts, start=1):
        for policy in policies:
            record = DecodeRecord(prompt, policy)
            if args.trace is not None:
                several = len(prompts) * len(policies) > 1
                record.trace = trace_path(args.trace, number, policy) if several else args.trace
            for line in _decode(pair, config.retuned(policy=policy), record):
                if args.json:
                    print(json.dumps(line), flush=True)
            if record.trace is not None and record.error is None:
                print(f"spectui: trace saved to {record.trace}", file=sys.stderr, flush=True)
            records.append(record)
    if not args.json:
        _print_report(pair, records, config, show_gates=args.gates)
    return 1 if any(record.error for record in records) else 0


def _decode(
    pair: ModelPair, config: DecodeConfig, record: DecodeRecord
) -> Iterator[dict[str, Any]]:
    """Decode one prompt, filling `record` and yielding the JSON lines as they happen."""
    from spectui.engine.events import DecodeFinished, RoundFinished, TokenAppended
    from spectui.engine.log import EventLog
    from spectui.engine.source import LiveSource
    from spectui.engine.trace import TraceWriter, done_record, round_record

    try:
        source = LiveSource(pair, config, record.prompt)
    except PromptError as error:
        record.error = str(error)
        yield {
            "event": "error",
            "prompt": record.prompt,
            "policy": config.policy,
            "message": record.error,
        }
        return
    log = EventLog(source.header)
    with ExitStack() as stack:
        trace = None
        if record.trace is not None:
            trace = stack.enter_context(TraceWriter(record.trace, source.header))
        for event in source.events():
            shown = source.shown(event) if isinstance(event, TokenAppended) else None
            log.record(event, source.texts(event), shown)
            if isinstance(event, RoundFinished):
                record.rounds.append(event)
                if trace is not None:
                    trace.round(event, log)
                yield {"prompt": record.prompt, **round_record(event)}
            elif isinstance(event, DecodeFinished):
                record.done = event
                if trace is not None:
                    trace.done(event, log)
                yield done_record(event, record.prompt, config.policy, pair.text(event.output_ids))


def _stderr_progress(message: str) -> None:
    print(f"spectui: {message}", file=sys.stderr, flush=True)


def _print_report(
    pair: ModelPair, records: list[DecodeRecord], config: DecodeConfig, show_gates: bool
) -> None:
    from rich.console import Console

    console = Console()
    console.print(
        f"[bold]drafter[/] {pair.drafter_id}  [bold]verifier[/] {pair.verifier_id}  "
        f"device {pair.device}  k={config.draft_span}  bonus={'on' if config.bonus else 'off'}"
    )
    for policy in dict.fromkeys(record.policy for record in records):
        chosen = [record for record in records if record.policy == policy]
        console.print(_results_table(pair, chosen, policy_label(policy)))
        if show_gates:
            for record in chosen:
                _print_gates(console, pair, record)
        console.print(_stats_table(chosen, policy_label(policy)))


def _results_table(pair: ModelPair, records: list[DecodeRecord], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_lines=True, expand=False)
    table.add_column("Prompt")
    table.add_column("Draft (round 1)")
    table.add_column("Accepted", justify="right")
    table.add_column("Final text")
    for record in records:
        if record.error or record.done is None:
            table.add_row(repr(record.prompt), "", "", f"[red]{record.error}[/]")
            continue
        first = record.rounds[0] if record.rounds else None
        draft = pair.text(first.draft_ids) if first else ""
        accepted = " ".join(str(r.n_accepted) for r in record.rounds[:8])
        if len(record.rounds) > 8:
            accepted += f" … (total {record.done.stats.accepted})"
        final = pair.text(record.done.prompt_ids + record.done.output_ids)
        table.add_row(record.prompt, draft, accepted, final)
    return table


def _print_gates(console: Console, pair: ModelPair, record: DecodeRecord) -> None:
    from rich.table import Table

    gates = all_gates()
    caption = " ".join(f"{gate.symbol}={gate.key}" for gate in gates)
    for event in record.rounds:
        config = event.config
        rules = ", ".join(gate.rule(config) for gate in gates)
        table = Table(
            title=f"{record.prompt!r} round {event.round_index + 1}",
            title_justify="left",
            caption=f"gates: {caption} ({rules})",
            caption_justify="left",
        )
        names = list(event.checks[0].verdicts) if event.checks else list(policy_names())
        for name in ("#", "token", "q", "p", "rank", "top-1 (p)", "margin", "gates", *names):
            table.add_column(name, no_wrap=True, min_width=8 if name == "token" else None)
        for check in event.checks:
            marks = " ".join(
                f"{gate.symbol}{'✓' if check.gates.get(gate.key) else '✗'}" for gate in gates
            )
            table.add_row(
                str(check.position + 1),
                repr(pair.token_text(check.token_id)),
                f"{check.q:.2f}",
                f"{check.p:.2f}",
                str(check.rank),
                f"{pair.token_text(check.top1_id)!r} {check.p_top1:.2f}",
                f"{check.margin:.2f}",
                marks,
                *("✓" if check.verdicts[name] else "✗" for name in names),
            )
        console.print(table)


def _stats_table(records: list[DecodeRecord], title: str) -> Any:
    from rich.table import Table

    done = [record.done for record in records if record.done is not None]
    drafted = sum(d.stats.drafted for d in done)
    accepted = sum(d.stats.accepted for d in done)
    rounds = sum(d.stats.rounds for d in done)
    new_tokens = sum(d.stats.new_tokens for d in done)
    busy = sum(d.stats.draft_seconds + d.stats.verify_seconds for d in done)
    table = Table(title=f"{title}: statistics over {len(done)} prompt(s)", show_header=False)
    rows = [
        ("rounds", str(rounds)),
        ("drafted / accepted", f"{drafted} / {accepted}"),
        ("acceptance rate", f"{accepted / drafted:.1%}" if drafted else "-"),
        (
            "mean accepted per round (draft tokens only)",
            f"{accepted / rounds:.2f}" if rounds else "-",
        ),
        (
            "mean tokens per round (incl. verifier's token)",
            f"{new_tokens / rounds:.2f}" if rounds else "-",
        ),
        ("verifier forwards (incl. prefill)", str(sum(d.stats.verifier_forwards for d in done))),
        ("drafter forwards (incl. prefill)", str(sum(d.stats.drafter_forwards for d in done))),
        (
            "draft / verify seconds",
            f"{sum(d.stats.draft_seconds for d in done):.3f} / "
            f"{sum(d.stats.verify_seconds for d in done):.3f}",
        ),
        ("tokens/s (prefill excluded)", f"{new_tokens / busy:.1f}" if busy else "-"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
