"""`spectui run`: decode headlessly and print, like the seed's main, drafts, verdicts and text."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui.commands.gate_table import FORMATS, write_gates
from spectui.commands.options import (
    add_config_options,
    api_key_from_args,
    check_writable,
    config_from_args,
)
from spectui.commands.policy_options import policy_list
from spectui.commands.progress import CommandProgress
from spectui.commands.prompt_options import (
    add_chat_options,
    chat_prompts_from_args,
    prompt_set_from_args,
)
from spectui.engine.config import DecodeConfig
from spectui.engine.errors import PromptError
from spectui.engine.policy.registry import SEED_REPORT, policy_label, policy_names
from spectui.engine.prompts import ChatPrompt

if TYPE_CHECKING:
    from spectui.engine.events import DecodeFinished, RoundFinished
    from spectui.engine.models.loading import ModelPair

SUMMARY = "decode headlessly and print drafts, verdicts and stats"
BOTH = "both"  # the seed's main: soft-guarded, then greedy-exact
# A long decode says where it is every this many rounds (a line on stderr): at the default
# pair's ~2 rounds a second on a loaded 2-core machine, about every 10-20 s.
PROGRESS_ROUNDS = 25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `spectui run`: every decode setting, and its own."""
    add_config_options(
        parser,
        overrides={
            "policy": {
                "dest": "policies",
                "type": partial(policy_list, aliases={BOTH: SEED_REPORT}),
                "choices": None,
                "metavar": "POLICY[,POLICY...]",
                "help": f"acceptance policies to decode every prompt under, one after another, "
                f"joined by commas (from {', '.join(policy_names())}), or {BOTH} (the seed's "
                f"main: {' then '.join(policy_label(name) for name in SEED_REPORT)}; the default)",
            }
        },
    )
    add_chat_options(parser)
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
        help="also print every round's gate checks (human output only): in a pipe or a file "
        "every field whole, in a terminal the columns that fit (the app's order)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress lines on stderr (by default one per decode as it starts and ends, "
        f"and one every {PROGRESS_ROUNDS} rounds of a long one, terminal or not)",
    )
    parser.add_argument(
        "--gates-format",
        choices=FORMATS,
        default="table",
        help="how --gates writes them: an aligned plain table (default), tab-separated values "
        "or a Markdown table; tokens are JSON strings, probabilities 4 decimals",
    )


@dataclass
class DecodeRecord:
    """One prompt decoded under one policy."""

    prompt: str
    policy: str
    category: str | None = None  # the prompt's category in its prompts file, if any
    chat: ChatPrompt | None = None  # with --chat: the prompt in the verifier's chat template
    rounds: list[RoundFinished] = field(default_factory=list)
    done: DecodeFinished | None = None
    error: str | None = None
    trace: Path | None = None  # where to save the decode's trace, if anywhere


def prompt_seed(seed: int, number: int) -> int:
    """The seed prompt `number` (from 1) decodes with: --seed + number − 1, so a set of
    prompts is a set of independent samples, and `--prompt <that one> --seed <its seed>`
    reproduces any one of them (its trace header and `done` record name it)."""
    return (seed + number - 1) % 2**63


def trace_path(path: Path, number: int, policy: str) -> Path:
    """The trace of prompt `number` under `policy` when one run makes several: out-2-soft.jsonl."""
    return path.with_name(f"{path.stem}-{number}-{policy}{path.suffix}")


def main(args: argparse.Namespace) -> int:
    """Run every prompt under the chosen policies; exit 1 if any prompt failed."""
    policies: tuple[str, ...] = getattr(args, "policies", SEED_REPORT)
    # Every argument is checked before torch is imported (seconds): a mistake is told at once.
    config = config_from_args(args, policy=policies[0])
    prompts = prompt_set_from_args(args)  # a bad prompts file is refused before models load
    check_writable(args.trace, "--trace")
    from spectui.engine.decode import empty_prompt_note
    from spectui.engine.models.loading import load_pair

    with CommandProgress("spectui") as progress:  # on stderr: --json's stdout stays clean
        pair = load_pair(
            config, progress=progress.say, api_key=api_key_from_args(args), bars=progress.bar
        )
    chats = chat_prompts_from_args(args, pair.tokenizer, prompts)
    records: list[DecodeRecord] = []
    total = len(prompts) * len(policies)
    line = _progress_line(quiet=args.quiet)
    for number, (prompt, chat) in enumerate(zip(prompts, chats, strict=True), start=1):
        for policy in policies:
            record = DecodeRecord(prompt.text, policy, prompt.category, chat)
            label = f"decode {len(records) + 1}/{total} · prompt {number} · {policy}"
            say = partial(line, label)
            if args.trace is not None:
                several = len(prompts) * len(policies) > 1
                record.trace = trace_path(args.trace, number, policy) if several else args.trace
            decoded = replace(config.retuned(policy=policy), seed=prompt_seed(config.seed, number))
            if chat is None and (note := empty_prompt_note(pair, prompt.text)) is not None:
                print(f"spectui: {note}", file=sys.stderr, flush=True)
            for json_line in _decode(pair, decoded, record, say):
                if args.json:
                    print(json.dumps(json_line), flush=True)
            if record.trace is not None and record.error is None:
                print(f"spectui: trace saved to {record.trace}", file=sys.stderr, flush=True)
            records.append(record)
    if not args.json:
        gates = args.gates_format if args.gates or args.gates_format != "table" else None
        _print_report(pair, records, config, gates)
    return 1 if any(record.error for record in records) else 0


def _decode(
    pair: ModelPair, config: DecodeConfig, record: DecodeRecord, say: Callable[[str], None]
) -> Iterator[dict[str, Any]]:
    """Decode one prompt, filling `record` and yielding the JSON lines as they happen;
    `say` hears where it is (a progress line)."""
    from spectui.engine.events import DecodeFinished, RoundFinished, TokenAppended
    from spectui.engine.trace.log import EventLog
    from spectui.engine.trace.source import LiveSource
    from spectui.engine.trace.writer import TraceWriter, done_record, round_record

    chat = record.chat
    started = time.perf_counter()
    say(f"decoding {_short(record.prompt)}")
    try:
        if chat is None:
            source = LiveSource(pair, config, record.prompt)
        else:  # the trace header keeps the template's text; the decode starts from its ids
            source = LiveSource(pair, config, chat.text, chat.ids)
    except PromptError as error:
        record.error = str(error)
        yield {
            "event": "error",
            "prompt": record.prompt,
            "category": record.category,
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
                if len(record.rounds) % PROGRESS_ROUNDS == 0:
                    tokens = sum(len(done.appended_ids) for done in record.rounds)
                    say(
                        f"round {len(record.rounds)}, {tokens} tokens, "
                        f"{time.perf_counter() - started:.0f} s"
                    )
                if trace is not None:
                    trace.round(event, log)
                yield {"prompt": record.prompt, **_with_texts(round_record(event), event, log)}
            elif isinstance(event, DecodeFinished):
                record.done = event
                say(
                    f"done, {len(event.output_ids)} tokens in "
                    f"{len(record.rounds)} rounds, {time.perf_counter() - started:.1f} s"
                )
                if trace is not None:
                    trace.done(event, log)
                text = pair.text(event.output_ids)
                yield {
                    **done_record(event, record.prompt, config.policy, text),
                    "category": record.category,
                    "seed": config.seed,
                }


def _progress_line(quiet: bool) -> Callable[[str, str], None]:
    """`line(label, text)`: one line on stderr, flushed, whether stderr is a terminal or a
    file (nothing with --quiet)."""
    if quiet:
        return lambda _label, _text: None
    return lambda label, text: print(f"spectui: {label}: {text}", file=sys.stderr, flush=True)


def _short(prompt: str, width: int = 40) -> str:
    """A prompt in at most `width` characters, as a JSON string (quotes and escapes)."""
    text = prompt if len(prompt) <= width else prompt[: width - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def _with_texts(line: dict[str, Any], event: RoundFinished, log: Any) -> dict[str, Any]:
    """A round's JSON line with each token's text beside its id: `draft_texts`, each check's
    `token_text` and `top1_text`, and `appended_texts` (what each appended token added to the
    output's text, as the stream shows it)."""
    start = len(log.shown) - len(event.appended_ids)
    texts = log.texts
    checks = [
        {**check, "token_text": texts[check["token_id"]], "top1_text": texts[check["top1_id"]]}
        for check in line["checks"]
    ]
    return {
        **line,
        "draft_texts": [texts[token] for token in event.draft_ids],
        "checks": checks,
        "appended_texts": list(log.shown[start:]),
    }


def _precision(pair: ModelPair) -> str:
    """`float32 on spectui panels`; `, not exact` where the pair is not (`ModelPair.exact`:
    below float32 a block's argmax can differ from a step's)."""
    dtype = str(pair.dtype).removeprefix("torch.")
    kernel = f" on {pair.kernels.label}" if pair.kernels is not None else ""
    return f"{dtype}{kernel}{'' if pair.exact else ', not exact'}"


def _print_report(
    pair: ModelPair, records: list[DecodeRecord], config: DecodeConfig, gates: str | None
) -> None:
    """The human report; `gates`: the --gates-format to print every check in (None: not)."""
    from rich.console import Console

    console = Console()
    console.print(  # whole on one line, however long the model paths (a pipe is 80 wide)
        f"[bold]drafter[/] {pair.drafter_id}  [bold]verifier[/] {pair.verifier_id}  "
        f"device {pair.device} {_precision(pair)}  k={config.draft_span}  "
        f"bonus={'on' if config.bonus else 'off'}",
        soft_wrap=True,
    )
    for policy in dict.fromkeys(record.policy for record in records):
        chosen = [record for record in records if record.policy == policy]
        console.print(_results_table(pair, chosen, policy_label(policy)))
        if gates is not None:
            numbers = {
                prompt: n for n, prompt in enumerate(dict.fromkeys(r.prompt for r in records), 1)
            }
            rounds = [
                (numbers[record.prompt], event) for record in chosen for event in record.rounds
            ]
            console.file.flush()
            width = console.width if console.is_terminal else None
            write_gates(sys.stdout, rounds, policy, pair.token_text, gates, width)
            sys.stdout.flush()
        console.print(_stats_table(chosen, policy_label(policy)))
        if _categories(chosen):
            console.print(_category_table(chosen, policy_label(policy)))


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


def _stats_table(records: list[DecodeRecord], title: str) -> Any:
    from rich.table import Table

    from spectui.engine.stats import combined

    done = [record.done for record in records if record.done is not None]
    stats = combined(d.stats for d in done)
    table = Table(title=f"{title}: statistics over {len(done)} prompt(s)", show_header=False)
    rows = [
        ("rounds", str(stats.rounds)),
        ("drafted / judged / accepted", f"{stats.drafted} / {stats.judged} / {stats.accepted}"),
        ("draft acceptance rate (accepted / drafted)", _share(stats.draft_acceptance_rate)),
        ("α per token (accepted / judged)", _share(stats.alpha)),
        ("τ tokens per round (incl. the verifier's token)", f"{stats.tokens_per_round:.2f}"),
        ("expected τ (each round's k, cap and bonus)", f"{stats.predicted_tokens_per_round:.2f}"),
        ("accepted per round (draft tokens only)", f"{stats.accepted_per_round:.2f}"),
        ("vLLM mean acceptance length (1+accepted/round)", f"{stats.mean_acceptance_length:.2f}"),
        ("per position, accepted / drafted there", _positions(stats.per_position_acceptance)),
        ("per position, accepted / judged there", _positions(stats.per_position_conditional)),
        ("verifier forwards (incl. prefill)", str(stats.verifier_forwards)),
        ("drafter forwards (incl. prefill)", str(stats.drafter_forwards)),
        ("draft / verify seconds", f"{stats.draft_seconds:.3f} / {stats.verify_seconds:.3f}"),
        ("tokens/s (prefill excluded)", f"{stats.tokens_per_second:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _category_table(records: Sequence[DecodeRecord], title: str) -> Any:
    """One row per prompt category and one over all prompts: how acceptance differs by kind."""
    from rich.table import Table

    from spectui.engine.stats import combined

    table = Table(title=f"{title}: statistics per category")
    for name in ("category", "prompts", "rounds", "draft acc.", "α", "τ", "tokens/s"):
        table.add_column(name, justify="left" if name == "category" else "right")
    groups = [(name, [r for r in records if r.category == name]) for name in _categories(records)]
    if any(record.category is None for record in records):
        groups.append(("(none)", [r for r in records if r.category is None]))
    groups.append(("all", list(records)))
    for index, (name, group) in enumerate(groups):
        done = [record.done for record in group if record.done is not None]
        stats = combined(d.stats for d in done)
        table.add_row(
            name,
            str(len(done)),
            str(stats.rounds),
            _share(stats.draft_acceptance_rate),
            _share(stats.alpha),
            f"{stats.tokens_per_round:.2f}",
            f"{stats.tokens_per_second:.1f}",
            end_section=index == len(groups) - 2,  # a rule above the overall row
        )
    return table


def _categories(records: Sequence[DecodeRecord]) -> tuple[str, ...]:
    """The records' prompt categories, in order of first appearance."""
    return tuple(dict.fromkeys(r.category for r in records if r.category is not None))


def _share(value: float) -> str:
    return f"{value:.1%}"


def _positions(figures: tuple[float, ...]) -> str:
    return " ".join(f"{value:.2f}" for value in figures) or "-"
