"""A sweep as JSON Lines: what `spectui sweep --out` appends and `--json` prints.

Every line is an object with a `kind`:

- `sweep` (first): the base config (every setting not swept; `max_new_tokens` is the sweep's),
  the prompts and the verifier's greedy decode of each (the reference);
- `cost`: the cost model measured for one draft span k (c, r_k and the step times);
- `row`: one finished setting (its tunables, counts, per-prompt outcomes, and its figures
  for readers; the figures are recomputed from the counts when read back);
- `summary` (`--json` only, last): which settings are on the frontier.

A sweep stopped part-way loses nothing finished: the file is appended to line by line, and a
re-run of the same sweep reads it back and decodes only the settings it lacks. "The same
sweep" means the same prompts and the same value of every setting that is not swept.
Pure Python: no torch, no Textual.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from spectui.engine.config import TUNABLE_FIELDS, ConfigError, DecodeConfig
from spectui.engine.cost.model import CostModel
from spectui.engine.sweep.grid import SweepError, SweepRow, frontier
from spectui.engine.trace.codec import CodecError, from_json, to_json

SWEEP_FORMAT = "spectui-sweep"
SWEEP_VERSION = 1


@dataclass(frozen=True)
class SweepHeader:
    """What a sweep decodes, and against what."""

    config: DecodeConfig  # the base every setting changes; max_new_tokens: the sweep's
    prompts: tuple[str, ...]
    references: tuple[tuple[int, ...], ...]  # [i]: the verifier's greedy decode of prompt i
    device: str = ""
    created: str = ""
    spectui: str = ""

    def identity(self) -> dict[str, Any]:
        """What two files must share to be one sweep: prompts and every unswept setting."""
        fixed = {k: v for k, v in to_json(self.config).items() if k not in TUNABLE_FIELDS}
        return {"prompts": list(self.prompts), **fixed}


@dataclass(frozen=True)
class Sweep:
    """A sweep file's contents: its header, cost models and finished rows."""

    header: SweepHeader
    costs: dict[int, CostModel] = field(default_factory=dict)  # by k
    rows: tuple[SweepRow, ...] = ()

    def config_of(self, row: SweepRow) -> DecodeConfig:
        """The config `row` decoded with: the base under its tunables."""
        return self.header.config.retuned(**row.tunables)

    @property
    def frontier(self) -> tuple[bool, ...]:
        """[i]: whether rows[i] is on the speed/quality frontier."""
        return frontier(self.rows)


def row_key(tunables: dict[str, Any]) -> str:
    """A setting's identity in a file: its tunables as canonical JSON."""
    return json.dumps(to_json(tunables), sort_keys=True)


# --- writing -------------------------------------------------------------------------------------


def header_record(header: SweepHeader) -> dict[str, Any]:
    """The first line."""
    return {"kind": "sweep", "format": SWEEP_FORMAT, "version": SWEEP_VERSION, **to_json(header)}


def cost_record(cost: CostModel) -> dict[str, Any]:
    """A cost line, with c, r_k and k·c + r_k for readers."""
    return {
        "kind": "cost",
        **to_json(cost),
        "c": cost.c,
        "r_k": cost.r_k,
        "round_cost": cost.round_cost,
    }


def row_record(row: SweepRow) -> dict[str, Any]:
    """A row line: the counts it is read back from, and every figure for readers."""
    return {"kind": "row", "label": row.label, "figures": row_figures(row), **to_json(row)}


def row_figures(row: SweepRow) -> dict[str, Any]:
    """Every figure of a row by name (the README's Definitions table)."""
    stats = row.stats
    return {
        "draft_acceptance_rate": stats.draft_acceptance_rate,
        "alpha": stats.alpha,
        "tokens_per_round": stats.tokens_per_round,
        "nodes_per_round": stats.nodes_per_round,
        "mean_acceptance_length": stats.mean_acceptance_length,
        "expected_tokens_per_round": stats.predicted_tokens_per_round,  # stats.JSON_NAMES
        "predicted_speedup": row.predicted_speedup,
        "tokens_per_second": stats.tokens_per_second,
        "equal_share": row.equal_share,
        "first_divergence": row.first_divergence,
        "diverged": row.diverged,
        "mean_log_likelihood": row.mean_log_likelihood,
        "off_argmax_share": row.off_argmax_share,
    }


def summary_record(sweep: Sweep, elapsed_seconds: float) -> dict[str, Any]:
    """The last line of `--json`: the frontier's settings, in row order."""
    on = [row.label for row, marked in zip(sweep.rows, sweep.frontier, strict=True) if marked]
    return {
        "kind": "summary",
        "settings": len(sweep.rows),
        "frontier": on,
        "elapsed_seconds": elapsed_seconds,
    }


def json_line(record: dict[str, Any]) -> str:
    """One record as its line (no newline)."""
    return json.dumps(record, ensure_ascii=False)


class SweepWriter:
    """Appends a sweep's lines to a file, each flushed as written (a stop loses no row)."""

    def __init__(self, path: Path, header: SweepHeader | None) -> None:
        """Open `path` to append; write `header` first when it is a new sweep (else None)."""
        self.path = path
        _drop_partial_line(path)
        self._file: IO[str] = path.open("a", encoding="utf-8")
        if header is not None:
            self.write(header_record(header))

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and flush it to disk."""
        self._file.write(json_line(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _drop_partial_line(path: Path) -> None:
    """Cut a last line left unfinished (a killed write), so the next append starts clean."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


# --- reading -------------------------------------------------------------------------------------


def read_sweep(path: Path) -> Sweep:
    """The sweep in a `--out` or `--json` file (raises SweepError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SweepError(f"cannot read the sweep file {path}: {error.strerror}") from None
    return parse_sweep(text.splitlines(keepends=True), str(path))


def parse_sweep(lines: Iterable[str], source: str) -> Sweep:
    """A sweep from its lines; an unfinished last line (a killed write) is left out."""
    header: SweepHeader | None = None
    costs: dict[int, CostModel] = {}
    rows: dict[str, SweepRow] = {}
    for number, record in _records(lines, source):
        kind = record.get("kind")
        if header is None:
            if record.get("format") == "spectui-trace":
                raise SweepError(
                    f"{source} is a trace, not a sweep: open it with `spectui replay {source}`"
                )
            if kind != "sweep" or record.get("format") != SWEEP_FORMAT:
                raise SweepError(f"{source} is not a spectui sweep file (line 1 is no header)")
            header = _read(SweepHeader, record, source, number)
        elif kind == "cost":
            cost = _read(CostModel, record, source, number)
            costs[cost.k] = cost
        elif kind == "row":
            row = _read(SweepRow, record, source, number)
            rows[row_key(row.tunables)] = row  # a setting twice: the later line wins
    if header is None:
        raise SweepError(f"{source} holds no sweep (it is empty)")
    return Sweep(header, costs, tuple(rows.values()))


def _records(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if not line.endswith("\n"):
                return  # the unfinished last line of a stopped write
            raise SweepError(f"{source}:{number} is not JSON") from None
        if not isinstance(record, dict):
            raise SweepError(f"{source}:{number} is not a JSON object")
        yield number, record


def _read(kind: Any, record: dict[str, Any], source: str, number: int) -> Any:
    """A record read as `kind`; keys it does not know (a `kind`, figures) are skipped."""
    names = {f.name for f in fields(kind)}
    try:
        return from_json(kind, {k: v for k, v in record.items() if k in names})
    except (CodecError, ConfigError) as error:
        raise SweepError(f"{source}:{number}: {error}") from None


def check_same_sweep(found: SweepHeader, wanted: SweepHeader, source: str) -> None:
    """Refuse to resume `found` (a file's) as the sweep `wanted`, naming what differs."""
    mine, theirs = wanted.identity(), found.identity()
    differing = [name for name in mine if mine.get(name) != theirs.get(name)]
    if differing:
        raise SweepError(
            f"{source} holds another sweep (it differs in {', '.join(differing)}): resume it "
            "with the same prompts, models, --max-new-tokens and unswept settings, or give "
            "another --out FILE"
        )
