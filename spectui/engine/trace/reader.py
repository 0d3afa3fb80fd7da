"""Reading a trace back: every line checked, every complaint naming the file, line and field.

Each record's fields are read by the generic codec (`codec.py`) from the engine dataclasses'
own type hints; what the types cannot say (round order, checks that match the drafts, texts
for every token id) is checked here.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from spectui import __version__
from spectui.engine.config import ConfigError, DecodeConfig, value_type
from spectui.engine.events import DecodeFinished, FinishReason, RoundFinished, TokenOrigin
from spectui.engine.policy.records import GateCheck
from spectui.engine.policy.registry import policy_named
from spectui.engine.stats import RoundShape, StatsSnapshot, StatsTally
from spectui.engine.trace.codec import CodecError, expected, fields_from_json, from_json
from spectui.engine.trace.header import (
    READABLE_VERSIONS,
    TRACE_FORMAT,
    TokenizerInfo,
    Trace,
    TraceError,
    TraceHeader,
)
from spectui.engine.trace.writer import round_ids
from spectui.engine.tree.record import TreeRecord

T = TypeVar("T")


class Line:
    """One JSON object of a trace and where it sits, read field by field."""

    def __init__(self, where: str, data: dict[str, Any]) -> None:
        self.where = where  # "FILE, line N"
        self.data = data

    def fail(self, problem: str) -> NoReturn:
        """Raise a TraceError about this line."""
        raise TraceError(f"{self.where}: {problem}")

    def read(self, kind: Any, name: str) -> Any:
        """Field `name` read as `kind` (a type hint), or a TraceError naming it."""
        if name not in self.data:
            self.fail(f"field '{name}' is missing; expected {expected(kind)}")
        try:
            return from_json(kind, self.data[name], name)
        except CodecError as error:
            self.fail(str(error))

    def object(self, cls: type[T], name: str) -> T:
        """Field `name` read as dataclass `cls`."""
        return self.read(cls, name)  # type: ignore[no-any-return]


def read_trace(path: str | Path) -> Trace:
    """Read and validate a trace; raises TraceError naming the file and line of any problem."""
    path = Path(path)
    lines = _lines(path)
    if not lines:
        raise TraceError(
            f"{path} is empty: expected a spectui trace (JSON Lines whose line 1 is a "
            f'"{TRACE_FORMAT}" header)'
        )
    first, *body = lines
    header, texts, version = _read_header(first)
    first_number = 1 if version >= 3 else 0  # version 3 numbers rounds from 1, as on screen
    rounds: list[RoundFinished] = []
    appended_texts: list[str] = []
    done: DecodeFinished | None = None
    recount = StatsTally()  # the counts a version-1 trace did not store
    for line in body:
        if done is not None:
            line.fail("a record follows the 'done' record; expected the end of the file")
        kind = line.data.get("event")
        if kind == "round":
            number = len(rounds) + first_number
            rounds.append(_read_round(line, header, number, first_number, texts, recount))
            appended_texts.extend(_read_appended_texts(line, rounds[-1]))
        elif kind == "done":
            done = _read_done(line, header, rounds, texts, recount)
        else:
            line.fail(f"expected a 'round' or 'done' record, got event={kind!r}")
    return Trace(path, header, tuple(rounds), done, texts, tuple(appended_texts))


def _lines(path: Path) -> list[Line]:
    """The file's non-blank lines as JSON objects, or a TraceError naming the bad line."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise TraceError(f"cannot read the trace {path}: {error.strerror or error}") from None
    chunks = raw.split(b"\n")
    lines = []
    for number, chunk in enumerate(chunks, start=1):
        if chunk.strip():
            where = f"{path}, line {number}"
            lines.append(Line(where, _parse(where, chunk, last=number == len(chunks))))
    return lines


def _parse(where: str, chunk: bytes, last: bool) -> dict[str, Any]:
    if b"\0" in chunk:
        raise TraceError(f"{where}: binary data; a spectui trace is JSON Lines text")
    try:
        data = json.loads(chunk.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise TraceError(
            f"{where}: not UTF-8 text (byte {error.start + 1}); a spectui trace is JSON Lines text"
        ) from None
    except json.JSONDecodeError as error:
        if last:  # a file written to the end finishes with a newline
            raise TraceError(
                f"{where}: the record is cut short (the file ends in the middle of it, so the "
                "trace was truncated or is still being written); expected a complete JSON object"
            ) from None
        raise TraceError(
            f"{where}: not JSON ({error.msg} at column {error.colno}); expected one JSON "
            "object per line"
        ) from None
    if not isinstance(data, dict):
        raise TraceError(f"{where}: a JSON {type(data).__name__}; expected a JSON object")
    return data


def _read_header(line: Line) -> tuple[TraceHeader, dict[int, str], int]:
    if line.data.get("format") != TRACE_FORMAT:
        line.fail(
            f'not a spectui trace: expected a header with "format": "{TRACE_FORMAT}" on the '
            "first line"
        )
    version = line.read(int, "version")
    if version not in READABLE_VERSIONS:
        line.fail(
            f"trace format version {version} is not supported: spectui {__version__} "
            f"reads versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    config = _read_config(line)
    tokenizer = line.read(dict[str, Any], "tokenizer")
    texts = _read_texts(line, {})
    prompt_ids = line.read(tuple[int, ...], "prompt_ids")
    _check_texts(line, prompt_ids, texts)
    header = TraceHeader(
        config=config,
        prompt=line.read(str, "prompt"),
        prompt_ids=prompt_ids,
        tokenizer=_read_tokenizer(line, tokenizer),
        context_length=line.read(int, "context_length"),
        device=line.read(str, "device"),
        dtype=line.read(str, "dtype"),
        prompt_texts={token_id: texts[token_id] for token_id in prompt_ids},
        spectui=line.read(str, "spectui"),
        created=line.read(str, "created"),
    )
    return header, texts, version


def _read_config(line: Line) -> DecodeConfig:
    data = line.read(dict[str, Any], "config")
    names = [f.name for f in fields(DecodeConfig)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        line.fail(f"unknown config field(s) {', '.join(unknown)}; expected {', '.join(names)}")
    try:
        return DecodeConfig(**fields_from_json(DecodeConfig, data, "config"))
    except CodecError as error:
        line.fail(str(error))
    except ConfigError as error:
        line.fail(f"invalid config: {error}")


def _read_tokenizer(line: Line, data: dict[str, Any]) -> TokenizerInfo:
    # Stored as "class" (the JSON's word), read into `cls` (Python's).
    renamed = {("cls" if key == "class" else key): value for key, value in data.items()}
    try:
        return TokenizerInfo(**fields_from_json(TokenizerInfo, renamed, "tokenizer"))
    except CodecError as error:
        line.fail(str(error).replace("tokenizer.cls", "tokenizer.class"))


def _read_texts(line: Line, texts: dict[int, str]) -> dict[int, str]:
    """Add a line's `token_texts` ({"id": "text"}) to `texts`."""
    mapping = line.read(dict[str, str], "token_texts")
    if not all(key.isdigit() for key in mapping):
        line.fail('field \'token_texts\' must map token ids to texts, e.g. {"464": " The"}')
    texts.update((int(token_id), text) for token_id, text in mapping.items())
    return texts


def _check_texts(line: Line, ids: Iterable[int], texts: Mapping[int, str]) -> None:
    missing = sorted({token_id for token_id in ids if token_id not in texts})
    if missing:
        line.fail(
            f"no text for token id(s) {', '.join(map(str, missing[:5]))}; expected each "
            "id's text in this or an earlier line's token_texts"
        )


def _read_settings(line: Line, header: TraceHeader) -> DecodeConfig:
    settings = line.read(dict[str, Any], "settings")
    values = {"policy": line.read(str, "policy")}
    for name in header.config.tunables():
        # A setting a round does not record keeps the header's value: traces written before
        # that setting existed (relaxed_topk, temperature, …) ran with what is its default.
        if name != "policy" and name in settings:
            try:
                values[name] = from_json(value_type(name), settings[name], f"settings.{name}")
            except CodecError as error:
                line.fail(str(error))
    try:
        return header.config.retuned(**values)
    except ConfigError as error:
        line.fail(f"invalid settings: {error}")


def _read_round(
    line: Line,
    header: TraceHeader,
    expected_number: int,
    first_number: int,
    texts: dict[int, str],
    recount: StatsTally,
) -> RoundFinished:
    number = line.read(int, "round")
    if number != expected_number:
        line.fail(f"round {number} is out of order; expected round {expected_number}")
    index = number - first_number
    config = _read_settings(line, header)
    draft_ids, q = line.read(tuple[int, ...], "draft_ids"), line.read(tuple[float, ...], "q")
    if len(q) != len(draft_ids):
        line.fail(f"{len(q)} q values for {len(draft_ids)} draft tokens; expected one each")
    checks = line.read(tuple[GateCheck, ...], "checks")
    for number, check in enumerate(checks):
        _check_check(line, number, check, draft_ids)
    appended_ids = line.read(tuple[int, ...], "appended_ids")
    origins = line.read(tuple[TokenOrigin, ...], "origins")
    if len(origins) != len(appended_ids):
        line.fail(f"{len(origins)} origins for {len(appended_ids)} appended tokens")
    n_accepted = line.read(int, "n_accepted")
    tree = line.read(TreeRecord, "tree") if "tree" in line.data else None
    if tree is not None:
        _check_tree(line, tree, draft_ids, checks, n_accepted, len(appended_ids))
        shape = _recorded_shape(config, tree.depth, n_accepted, len(appended_ids))
        recount.record_round(
            shape,
            len(checks),
            n_accepted,
            len(appended_ids),
            n_drafted=len(draft_ids),
            depths_judged=tree.depths_judged,
        )
    else:
        if not len(checks) <= len(appended_ids) <= len(checks) + 1:
            line.fail(
                f"{len(appended_ids)} appended tokens after {len(checks)} gate checks; "
                "expected one per check, plus at most one bonus token"
            )
        shape = _recorded_shape(config, len(draft_ids), n_accepted, len(appended_ids))
        recount.record_round(shape, len(checks), n_accepted, len(appended_ids))
    event = RoundFinished(
        round_index=index,
        draft_ids=draft_ids,
        q=q,
        checks=checks,
        appended_ids=appended_ids,
        origins=origins,
        n_accepted=n_accepted,
        config=config,
        stats=_read_stats(line, recount),
        tree=tree,
    )
    _check_texts(line, round_ids(event), _read_texts(line, texts))
    return event


def _recorded_shape(config: DecodeConfig, k: int, n_accepted: int, n_appended: int) -> RoundShape:
    """A finished round's shape; whether a bonus had room is known only if all k were accepted."""
    bonus = config.bonus and not (n_accepted == k and n_appended == k)
    return RoundShape(k, policy_named(config.policy).accept_cap(config), bonus)


def _read_stats(line: Line, recount: StatsTally) -> StatsSnapshot:
    """A record's statistics; a version-1 trace's counts are recounted from its rounds.

    Version 1 stored derived figures but not the judged, per-position and shape counts; its
    forwards and timings (which rounds cannot tell) are kept.
    """
    stored = line.read(dict[str, Any], "stats")
    if "judged" in stored:
        return line.object(StatsSnapshot, "stats")
    kinds = typing.get_type_hints(StatsSnapshot)
    try:
        measured = {
            name: from_json(kinds[name], stored[name], f"stats.{name}")
            for name in MEASURED_STATS
            if name in stored
        }
    except CodecError as error:
        line.fail(str(error))
    return replace(recount.snapshot(), **measured)


# What a version-1 trace's stats hold that its rounds do not.
MEASURED_STATS = (
    "verifier_forwards",
    "drafter_forwards",
    "prefill_seconds",
    "draft_seconds",
    "verify_seconds",
)


def _check_check(line: Line, number: int, check: GateCheck, draft_ids: tuple[int, ...]) -> None:
    position = check.position
    if not 0 <= position < len(draft_ids) or draft_ids[position] != check.token_id:
        line.fail(
            f"check of token {check.token_id} at position {position} does not match the "
            f"round's draft_ids {list(draft_ids)}"
        )
    if check.policy not in check.verdicts:
        line.fail(
            f"field 'checks[{number}].verdicts' has no verdict of its policy {check.policy!r}"
        )


def _check_tree(
    line: Line,
    tree: TreeRecord,
    draft_ids: tuple[int, ...],
    checks: tuple[GateCheck, ...],
    n_accepted: int,
    n_appended: int,
) -> None:
    """A tree round's record agrees with itself: nodes, walk, path, checks and tokens."""
    if tuple(node.node_id for node in tree.nodes) != tuple(range(len(tree.nodes))):
        line.fail("field 'tree.nodes' must be numbered 0, 1, … in order")
    if tuple(node.token_id for node in tree.verified) != draft_ids:
        line.fail("the tree's verified nodes differ from the round's draft_ids")
    if any(not -1 <= node.parent < node.node_id for node in tree.nodes):
        line.fail("a tree node's parent must be -1 (the root) or an earlier node")
    if tuple(check.position for check in checks) != tree.walk:
        line.fail(f"the checks' positions differ from the tree's walk {list(tree.walk)}")
    if not set(tree.path) <= set(tree.walk) or len(tree.path) != n_accepted:
        line.fail(f"the tree's path {list(tree.path)} is not {n_accepted} walked nodes")
    if not n_accepted <= n_appended <= n_accepted + 1:
        line.fail(
            f"{n_appended} appended tokens after an accepted path of {n_accepted}; expected "
            "the path, plus at most one correction or bonus token"
        )


def _read_appended_texts(line: Line, event: RoundFinished) -> list[str]:
    shown = line.read(tuple[str, ...], "appended_texts")
    if len(shown) != len(event.appended_ids):
        line.fail(f"{len(shown)} appended_texts for {len(event.appended_ids)} appended tokens")
    return list(shown)


def _read_done(
    line: Line,
    header: TraceHeader,
    rounds: list[RoundFinished],
    texts: dict[int, str],
    recount: StatsTally,
) -> DecodeFinished:
    reason = line.read(FinishReason, "reason")
    prompt_ids = line.read(tuple[int, ...], "prompt_ids")
    if prompt_ids != header.prompt_ids:
        line.fail("prompt_ids differ from the header's; expected the same prompt")
    output_ids = line.read(tuple[int, ...], "output_ids")
    appended = tuple(token_id for event in rounds for token_id in event.appended_ids)
    if output_ids != appended:
        line.fail(
            f"output_ids ({len(output_ids)} tokens) differ from the rounds' appended tokens "
            f"({len(appended)}); expected the same tokens"
        )
    _read_texts(line, texts)
    return DecodeFinished(reason, prompt_ids, output_ids, _read_stats(line, recount))
