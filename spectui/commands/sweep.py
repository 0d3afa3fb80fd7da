"""`spectui sweep`: decode the prompts under a grid of settings; chart speed against quality.

Each setting's figures are those of the README's Definitions table; `--out` keeps every
finished setting (a stopped sweep resumes where it was), `--json` prints the same lines.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui.commands.options import add_config_options, api_key_from_args, config_from_args
from spectui.commands.policy_options import policy_list
from spectui.commands.progress import CommandProgress
from spectui.commands.prompt_options import prompt_set_from_args
from spectui.engine.cost.model import CostModel
from spectui.engine.policy.registry import DEFAULT_POLICY, policy_label, policy_names
from spectui.engine.sweep.file import (
    Sweep,
    SweepHeader,
    SweepWriter,
    check_same_sweep,
    cost_record,
    header_record,
    json_line,
    read_sweep,
    row_figures,
    row_key,
    row_record,
    summary_record,
)
from spectui.engine.sweep.grid import (
    GridAxis,
    Setting,
    SweepError,
    SweepRow,
    parse_axis,
    plan_settings,
    unread_axes,
)

if TYPE_CHECKING:
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.sweep.runner import SweepPlan

SUMMARY = "decode the prompts under a grid of acceptance settings and chart speed against quality"
DEFAULT_TOKENS = 64  # tokens per decode with no --max-new-tokens
PLOT_HEIGHT = 20
WIDE_TABLE = 150  # columns the table is laid out in when stdout is no terminal
Emit = Callable[[dict[str, Any], bool], None]  # a record, and whether --out lacks it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `spectui sweep`: every decode setting (the base), the grid, the outputs."""
    add_config_options(
        parser,
        exclude=("policy",),
        overrides={
            "max_new_tokens": {"help": f"tokens per decode (default: {DEFAULT_TOKENS})"},
        },
    )
    group = parser.add_argument_group("sweep")
    group.add_argument(
        "--grid",
        metavar="NAME=V1,V2,...",
        action="append",
        type=_axis,
        default=[],
        help="sweep a setting over these values (a DecodeConfig field, e.g. p_thresh=0.02,0.05);"
        " may repeat: the settings are every combination, within each policy that reads them",
    )
    group.add_argument(
        "--policies",
        "--policy",
        dest="policies",
        metavar="POLICY[,POLICY...]",
        type=policy_list,
        help=f"the policies to sweep, joined by commas (from {', '.join(policy_names())}); "
        "default: soft with --grid, else every policy",
    )
    group.add_argument(
        "--out",
        metavar="FILE",
        type=Path,
        help="append each finished setting to FILE (JSON Lines); run the same sweep with the "
        "same FILE again to resume it: finished settings are read back, not decoded",
    )
    group.add_argument(
        "--json",
        action="store_true",
        help="print JSON Lines instead of the table: the sweep's header, its cost models, one "
        "row per setting, then a summary with the frontier (the --out format; `spectui "
        "--sweep FILE` opens either)",
    )
    group.add_argument("--csv", metavar="FILE", type=Path, help="also write the table as CSV")
    group.add_argument(
        "--cost-seconds",
        metavar="SECONDS",
        type=float,
        default=1.0,
        help="time spent measuring the cost model's c and r_k, per draft span (default: 1)",
    )


def _axis(text: str) -> GridAxis:
    try:
        return parse_axis(text)
    except SweepError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(args: argparse.Namespace) -> int:
    """Run the sweep (resuming --out), then print its table and plot (or JSON Lines)."""
    from spectui.engine.sweep.runner import SweepPlan

    started = time.perf_counter()
    axes: list[GridAxis] = args.grid
    policies: tuple[str, ...] = args.policies or _default_policies(axes)
    config = config_from_args(args, policy=policies[0])
    config = replace(config, max_new_tokens=config.max_new_tokens or DEFAULT_TOKENS)
    settings = plan_settings(config, axes, policies)  # a bad grid is refused before models load
    prompts = tuple(prompt.text for prompt in prompt_set_from_args(args))
    plan = SweepPlan(config, prompts, settings, max(0.0, args.cost_seconds))
    previous = _previous(args.out, SweepHeader(config, prompts, ()))
    with CommandProgress("spectui sweep") as progress:  # on stderr: --json's stdout stays clean
        for policy in policies:
            if unread := unread_axes(axes, policy):
                progress.say(f"{policy_label(policy)} does not read {', '.join(unread)}: once")
        from spectui.engine.models.loading import load_pair

        pair = load_pair(
            config, progress=progress.say, api_key=api_key_from_args(args), bars=progress.bar
        )
        sweep = _run(pair, plan, previous, args, progress)
    if args.json:
        print(json_line(summary_record(sweep, time.perf_counter() - started)), flush=True)
    else:
        _print_report(sweep)
    if args.csv is not None:
        write_csv(args.csv, sweep)
    return 0


def _default_policies(axes: list[GridAxis]) -> tuple[str, ...]:
    return (DEFAULT_POLICY,) if axes else policy_names()


def _previous(out: Path | None, wanted: SweepHeader) -> Sweep | None:
    """The sweep `out` already holds (checked to be this one), or None for a new file."""
    if out is None or not out.exists() or out.stat().st_size == 0:
        return None
    found = read_sweep(out)
    check_same_sweep(found.header, wanted, str(out))
    return found


def _run(
    pair: ModelPair,
    plan: SweepPlan,
    previous: Sweep | None,
    args: argparse.Namespace,
    progress: CommandProgress,
) -> Sweep:
    """Every setting's row, writing the new ones to --out (and all to stdout with --json)."""
    from spectui.engine.sweep.runner import new_header, run_settings

    header = previous.header if previous else new_header(pair, plan, progress.bar)
    writer = SweepWriter(args.out, None if previous else header) if args.out else None
    emit = _emitter(args.json, writer)
    try:
        emit(header_record(header), False)
        costs = _costs(pair, plan, header, previous, emit, progress)
        finished = {row_key(row.tunables): row for row in previous.rows} if previous else {}
        rows: list[SweepRow] = []
        for row, resumed in run_settings(
            pair, header, costs, plan.settings, finished, progress.bar
        ):
            rows.append(row)
            emit(row_record(row), not resumed)
    except KeyboardInterrupt:
        if writer is not None:
            progress.say(f"stopped: the finished settings are in {args.out}; run again to resume")
        raise
    finally:
        if writer is not None:
            writer.close()
    return Sweep(header, costs, tuple(rows))


def _costs(
    pair: ModelPair,
    plan: SweepPlan,
    header: SweepHeader,
    previous: Sweep | None,
    emit: Emit,
    progress: CommandProgress,
) -> dict[int, CostModel]:
    """The file's cost models, and one measured now for each draft span it lacks."""
    from spectui.engine.sweep.runner import measure_costs

    costs = dict(previous.costs) if previous else {}
    for cost in costs.values():
        emit(cost_record(cost), False)
    spans = {setting.config(plan.config).draft_span for setting in plan.settings}
    missing = sorted(spans - set(costs))
    if missing and pair.verifier is not None and pair.drafter is not None:
        progress.say(f"measuring the cost model (c, r_k) for k = {', '.join(map(str, missing))}")
    for k, cost in measure_costs(pair, header, missing, plan.cost_seconds).items():
        costs[k] = cost
        emit(cost_record(cost), True)
    return costs


def _emitter(as_json: bool, writer: SweepWriter | None) -> Emit:
    """Where a record goes: --out (when `new` to the file) and stdout (with --json)."""

    def emit(record: dict[str, Any], new: bool) -> None:
        if writer is not None and new:
            writer.write(record)
        if as_json:
            print(json_line(record), flush=True)

    return emit


def _print_report(sweep: Sweep) -> None:
    from rich.console import Console
    from rich.text import Text

    from spectui.engine.sweep.report import plot_text, rich_table

    console = Console()
    if not console.is_terminal:  # a file or a pipe: room for every column, not 80
        console = Console(width=WIDE_TABLE)
    console.print(rich_table(sweep))
    if sweep.rows:
        colour = console.is_terminal and console.color_system is not None
        plot = plot_text(sweep, min(console.width, 100), PLOT_HEIGHT, colour)
        console.print(Text.from_ansi(plot) if colour else Text(plot))


def write_csv(path: Path, sweep: Sweep) -> None:
    """The table as CSV: the setting, its swept values, every figure, and the frontier mark."""
    swept = list(dict.fromkeys(name for row in sweep.rows for name, _ in row.setting.values))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer: Any = None
        for row, marked in zip(sweep.rows, sweep.frontier, strict=True):
            record = {**_setting_columns(row.setting, swept), **row_figures(row)}
            record["frontier"] = marked
            if writer is None:
                writer = csv.DictWriter(file, fieldnames=list(record))
                writer.writeheader()
            writer.writerow(record)


def _setting_columns(setting: Setting, swept: list[str]) -> dict[str, Any]:
    values = dict(setting.values)
    return {"setting": setting.label, "policy": setting.policy} | {
        name: values.get(name, "") for name in swept
    }
