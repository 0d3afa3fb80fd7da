"""`spectui run`: decode headlessly and print, like the seed's main, drafts, verdicts and text."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui.cli import config_from_args, prompts_from_args, set_option_choices
from spectui.engine.config import POLICY_LABELS, DecodeConfig, PolicyName
from spectui.engine.errors import PromptError

if TYPE_CHECKING:
    from rich.console import Console

    from spectui.engine.events import DecodeFinished, RoundFinished
    from spectui.engine.loading import ModelPair

POLICY_CHOICES: dict[str, tuple[PolicyName, ...]] = {
    "greedy": ("greedy",),
    "soft": ("soft",),
    "sample": ("sample",),
    "both": ("soft", "greedy"),  # the seed's main prints soft-guarded first
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `spectui run` beyond the shared engine options."""
    set_option_choices(parser, "--policy", sorted(POLICY_CHOICES))
    parser.set_defaults(policy="both")
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
    policy: PolicyName
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

    policies = POLICY_CHOICES[args.policy]
    config = config_from_args(args, policy=policies[0])
    pair = load_pair(config, progress=None if args.json else _stderr_progress)
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
    from spectui.engine.decode import SpeculativeDecoder
    from spectui.engine.events import DecodeFinished, RoundFinished
    from spectui.engine.serialize import done_as_dict, round_as_dict
    from spectui.engine.trace import TraceWriter, header_for

    try:
        decoder = SpeculativeDecoder(pair, config, record.prompt)
    except PromptError as error:
        record.error = str(error)
        yield {
            "event": "error",
            "prompt": record.prompt,
            "policy": config.policy,
            "message": record.error,
        }
        return
    with ExitStack() as stack:
        trace = None
        if record.trace is not None:
            header = header_for(pair, config, record.prompt, decoder.prompt_ids)
            writer = TraceWriter(record.trace, header, pair.token_text, _decoder_of(pair))
            trace = stack.enter_context(writer)
        for event in decoder.events():
            if isinstance(event, RoundFinished):
                record.rounds.append(event)
                if trace is not None:
                    trace.round(event)
                yield {"prompt": record.prompt, **round_as_dict(event)}
            elif isinstance(event, DecodeFinished):
                record.done = event
                if trace is not None:
                    trace.done(event)
                text = pair.text(event.output_ids)
                yield done_as_dict(event, record.prompt, config.policy, text)


def _decoder_of(pair: ModelPair) -> Callable[[Sequence[int]], str]:
    """Token ids to text with special tokens kept, as the app's stream shows them."""
    return lambda ids: str(pair.tokenizer.decode(list(ids), skip_special_tokens=False))


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
        console.print(_results_table(pair, chosen, POLICY_LABELS[policy]))
        if show_gates:
            for record in chosen:
                _print_gates(console, pair, record)
        console.print(_stats_table(chosen, POLICY_LABELS[policy]))


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

    for event in record.rounds:
        table = Table(
            title=f"{record.prompt!r} round {event.round_index + 1}",
            title_justify="left",
            caption="gates: p=p≥p_thresh k=top-k m=margin c=max_accept cap",
            caption_justify="left",
        )
        for name in (
            "#",
            "token",
            "q",
            "p",
            "rank",
            "top-1 (p)",
            "margin",
            "gates",
            "greedy",
            "soft",
        ):
            table.add_column(name, no_wrap=True, min_width=8 if name == "token" else None)
        for check in event.checks:
            gates = " ".join(
                f"{letter}{'✓' if ok else '✗'}"
                for letter, ok in zip("pkmc", check.gates.as_dict().values(), strict=True)
            )
            table.add_row(
                str(check.position + 1),
                repr(pair.token_text(check.token_id)),
                f"{check.q:.2f}",
                f"{check.p:.2f}",
                str(check.rank),
                f"{pair.token_text(check.top1_id)!r} {check.p_top1:.2f}",
                f"{check.margin:.2f}",
                gates,
                *("✓" if check.verdicts[name] else "✗" for name in ("greedy", "soft")),
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
