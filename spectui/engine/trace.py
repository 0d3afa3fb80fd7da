"""Traces: a decode session as JSON Lines, and a reader that turns one back into engine events.

Line 1 is a versioned header (every config field, the models, the tokenizer, the prompt and
its ids, the spectui version, when it was made). Then one `round` record per finished round:
its policy and settings (the fields that may change between rounds; the rest are the
header's), drafts, every gate check (each gate, every policy's verdict, speculative sampling's
coin, the verifier's top alternatives), the appended tokens with their origins and the
statistics so far. A `done` record ends a decode that ran to its end. Each record also
carries the text of every token id it introduces (`token_texts`) and the text each appended
token added to the output (`appended_texts`: a character split over several tokens shows whole
in the last of them), so a trace can be shown with no model and no tokenizer loaded.

`read_trace` validates every field and rebuilds the engine's own event dataclasses, so a
replay feeds the app exactly the stream a live engine would. Pure Python: no torch, no Textual.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from spectui import __version__
from spectui.engine.config import POLICY_NAMES, ConfigError, DecodeConfig, PolicyName
from spectui.engine.errors import SpectuiError
from spectui.engine.events import (
    DecodeFinished,
    EngineEvent,
    FinishReason,
    RoundDrafted,
    RoundFinished,
    TokenAppended,
    TokenChecked,
    TokenOrigin,
)
from spectui.engine.policies import Chance, GateCheck, Gates
from spectui.engine.serialize import config_as_dict, done_as_dict, round_as_dict
from spectui.engine.stats import StatsSnapshot
from spectui.engine.text import StreamText

if TYPE_CHECKING:
    from spectui.engine.loading import ModelPair

TRACE_FORMAT = "spectui-trace"
TRACE_VERSION = 1

TokenText = Callable[[int], str]


class TraceError(SpectuiError):
    """A file is not a trace this spectui can read; the message names the file and line."""


@dataclass(frozen=True)
class TokenizerInfo:
    """The tokenizer a trace was made with (for the record: replay never loads it)."""

    name: str  # hub id or directory
    cls: str  # its class name
    vocab_size: int
    eos_id: int | None
    bos_id: int | None


@dataclass(frozen=True)
class TraceHeader:
    """Line 1 of a trace: what was decoded, with what, where."""

    config: DecodeConfig  # the settings the decode started with (rounds record their own)
    prompt: str
    prompt_ids: tuple[int, ...]
    tokenizer: TokenizerInfo
    context_length: int  # the smaller of the two models' position limits
    device: str  # e.g. "cpu", "cuda"
    dtype: str  # e.g. "float32"
    prompt_texts: Mapping[int, str] = field(default_factory=dict)  # text of each prompt id
    spectui: str = __version__  # the version that wrote the trace
    created: str = ""  # ISO 8601, UTC


@dataclass(frozen=True)
class Trace:
    """A trace read back: its header, finished rounds, how it ended and every token's text."""

    path: Path
    header: TraceHeader
    rounds: tuple[RoundFinished, ...]
    done: DecodeFinished | None  # None: saved before the decode ended
    token_texts: Mapping[int, str]
    appended_texts: tuple[str, ...]  # [i]: the text output token i added to the stream

    def token_text(self, token_id: int) -> str:
        """One token as text (as `ModelPair.token_text` showed it when the trace was made)."""
        return self.token_texts[token_id]

    def events(self) -> Iterator[EngineEvent]:
        """The engine's events, in the order the engine yielded them."""
        n_generated = 0
        for record in self.rounds:
            index = record.round_index
            yield RoundDrafted(index, record.draft_ids, record.q, record.config)
            appended = zip(record.appended_ids, record.origins, strict=True)
            for position, (token_id, origin) in enumerate(appended):
                if position < len(record.checks):  # the last one may be a bonus: no check
                    yield TokenChecked(index, record.checks[position])
                yield TokenAppended(index, token_id, origin, n_generated)
                n_generated += 1
            yield record
        if self.done is not None:
            yield self.done


# --- writing ---------------------------------------------------------------------------------


def header_for(
    pair: ModelPair, config: DecodeConfig, prompt: str, prompt_ids: Iterable[int]
) -> TraceHeader:
    """The header of a live decode on `pair` (token texts decoded now, while it is loaded)."""
    tokenizer = pair.tokenizer
    ids = tuple(prompt_ids)
    return TraceHeader(
        config=config,
        prompt=prompt,
        prompt_ids=ids,
        tokenizer=TokenizerInfo(
            name=str(getattr(tokenizer, "name_or_path", "")),
            cls=type(tokenizer).__name__,
            vocab_size=len(tokenizer),
            eos_id=tokenizer.eos_token_id,
            bos_id=tokenizer.bos_token_id,
        ),
        context_length=pair.context_length,
        device=pair.device.type,
        dtype=str(pair.dtype).removeprefix("torch."),
        prompt_texts={token_id: pair.token_text(token_id) for token_id in ids},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def header_as_dict(header: TraceHeader) -> dict[str, Any]:
    """Line 1 of a trace."""
    config = header.config
    return {
        "format": TRACE_FORMAT,
        "version": TRACE_VERSION,
        "spectui": header.spectui,
        "created": header.created,
        "config": config_as_dict(config),
        "drafter": config.drafter,
        "verifier": config.verifier,
        "policy": config.policy,
        "tokenizer": {
            "name": header.tokenizer.name,
            "class": header.tokenizer.cls,
            "vocab_size": header.tokenizer.vocab_size,
            "eos_id": header.tokenizer.eos_id,
            "bos_id": header.tokenizer.bos_id,
        },
        "context_length": header.context_length,
        "device": header.device,
        "dtype": header.dtype,
        "prompt": header.prompt,
        "prompt_ids": list(header.prompt_ids),
        "token_texts": _texts_as_dict(header.prompt_texts),
    }


def round_ids(event: RoundFinished) -> list[int]:
    """Every token id a round record mentions: drafts, verifier alternatives, appended."""
    ids = list(event.draft_ids) + list(event.appended_ids)
    for check in event.checks:
        ids.append(check.top1_id)
        ids.extend(token_id for token_id, _ in check.alternatives)
    return ids


class TraceWriter:
    """Writes one decode's trace line by line, flushing each, so a crash keeps what was done.

    `text` gives one token's text; `decode` (ids -> text), when given, works out what each
    appended token adds to the output, as the app's stream shows it (see `StreamText`).
    """

    def __init__(
        self,
        path: str | Path,
        header: TraceHeader,
        text: TokenText,
        decode: Callable[[Sequence[int]], str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._text = text
        self._stream = StreamText(decode) if decode is not None else None
        self._output: list[str] = []
        self._known = set(header.prompt_texts)
        self._header = header
        try:
            self._file = self.path.open("w", encoding="utf-8")
        except OSError as error:
            raise TraceError(
                f"cannot write the trace {self.path}: {error.strerror or error}"
            ) from None
        self._write(header_as_dict(header))

    def round(self, event: RoundFinished, appended_texts: Sequence[str] | None = None) -> None:
        """Append a finished round; `appended_texts` as the stream showed them, if known."""
        if appended_texts is None:
            stream = self._stream
            add = self._text if stream is None else stream.add
            appended_texts = [add(token_id) for token_id in event.appended_ids]
        self._output.extend(appended_texts)
        self._write(
            {
                **round_as_dict(event),
                "appended_texts": list(appended_texts),
                "token_texts": self._new_texts(round_ids(event)),
            }
        )

    def done(self, event: DecodeFinished) -> None:
        """Append the end of the decode (`text`: the output as the stream showed it)."""
        text = "".join(self._output)
        record = done_as_dict(event, self._header.prompt, self._header.config.policy, text)
        self._write({**record, "token_texts": self._new_texts(event.output_ids)})

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _new_texts(self, ids: Iterable[int]) -> dict[str, str]:
        fresh = {token_id: self._text(token_id) for token_id in ids if token_id not in self._known}
        self._known.update(fresh)
        return _texts_as_dict(fresh)

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        except OSError as error:
            raise TraceError(
                f"cannot write the trace {self.path}: {error.strerror or error}"
            ) from None


def write_trace(
    path: str | Path,
    header: TraceHeader,
    rounds: Iterable[RoundFinished],
    done: DecodeFinished | None,
    text: TokenText,
    appended_texts: Sequence[Sequence[str]],
) -> Path:
    """Write a whole trace at once (`appended_texts`: per round); returns its path."""
    with TraceWriter(path, header, text) as writer:
        for event, shown in zip(rounds, appended_texts, strict=True):
            writer.round(event, shown)
        if done is not None:
            writer.done(event=done)
    return writer.path


def _texts_as_dict(texts: Mapping[int, str]) -> dict[str, str]:
    return {str(token_id): text for token_id, text in texts.items()}


# --- reading ---------------------------------------------------------------------------------


def read_trace(path: str | Path) -> Trace:
    """Read and validate a trace; raises TraceError naming the file and line of any problem."""
    path = Path(path)
    records = _records(path)
    if not records:
        raise TraceError(
            f"{path} is empty: expected a spectui trace (JSON Lines whose line 1 is a "
            f'"{TRACE_FORMAT}" header)'
        )
    header_record, *body = records
    header, texts = _read_header(header_record)
    rounds: list[RoundFinished] = []
    appended_texts: list[str] = []
    done: DecodeFinished | None = None
    for record in body:
        if done is not None:
            record.fail("a record follows the 'done' record; expected the end of the file")
        kind = record.data.get("event")
        if kind == "round":
            rounds.append(_read_round(record, header, len(rounds), texts))
            appended_texts.extend(_read_appended_texts(record, rounds[-1]))
        elif kind == "done":
            done = _read_done(record, header, rounds, texts)
        else:
            record.fail(f"expected a 'round' or 'done' record, got event={kind!r}")
    return Trace(path, header, tuple(rounds), done, texts, tuple(appended_texts))


class _Record:
    """A JSON object from one line of a trace, read field by field with clear complaints."""

    def __init__(self, where: str, data: dict[str, Any], prefix: str = "") -> None:
        self.where = where  # "FILE, line N"
        self.data = data
        self.prefix = prefix  # where this object sits in the line's record, e.g. "checks[2]."

    def fail(self, problem: str) -> NoReturn:
        raise TraceError(f"{self.where}: {problem}")

    def get(self, name: str, expected: str, accept: Callable[[Any], bool]) -> Any:
        if name not in self.data:
            self.fail(f"field '{self.prefix}{name}' is missing; expected {expected}")
        value = self.data[name]
        if not accept(value):
            shown = json.dumps(value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            self.fail(f"field '{self.prefix}{name}' is {shown}; expected {expected}")
        return value

    def integer(self, name: str) -> int:
        return int(self.get(name, "an integer", _is_int))

    def optional_integer(self, name: str) -> int | None:
        value = self.get(name, "an integer or null", lambda v: v is None or _is_int(v))
        return None if value is None else int(value)

    def number(self, name: str) -> float:
        return float(self.get(name, "a number", _is_number))

    def flag(self, name: str) -> bool:
        return bool(self.get(name, "true or false", lambda v: isinstance(v, bool)))

    def text(self, name: str) -> str:
        return str(self.get(name, "a string", lambda v: isinstance(v, str)))

    def integers(self, name: str) -> tuple[int, ...]:
        accept = _list_of(_is_int)
        return tuple(int(v) for v in self.get(name, "a list of integers", accept))

    def numbers(self, name: str) -> tuple[float, ...]:
        accept = _list_of(_is_number)
        return tuple(float(v) for v in self.get(name, "a list of numbers", accept))

    def choice(self, name: str, allowed: Iterable[str]) -> str:
        options = tuple(allowed)
        expected = "one of " + ", ".join(repr(option) for option in options)
        return str(self.get(name, expected, lambda v: v in options))

    def child(self, name: str) -> _Record:
        value = self.get(name, "an object", lambda v: isinstance(v, dict))
        return _Record(self.where, value, f"{self.prefix}{name}.")

    def children(self, name: str) -> list[_Record]:
        values = self.get(name, "a list of objects", _list_of(lambda v: isinstance(v, dict)))
        return [
            _Record(self.where, value, f"{self.prefix}{name}[{index}].")
            for index, value in enumerate(values)
        ]

    def dataclass_fields(self, cls: type) -> dict[str, Any]:
        """Values for every field of a flat dataclass, each read by its annotation."""
        readers: dict[str, Callable[[str], Any]] = {
            "int": self.integer,
            "int | None": self.optional_integer,
            "float": self.number,
            "bool": self.flag,
            "str": self.text,
            "PolicyName": lambda name: self.choice(name, POLICY_NAMES),
            "tuple[int, ...]": self.integers,
            "tuple[float, ...]": self.numbers,
        }
        return {f.name: readers[str(f.type)](f.name) for f in fields(cls)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_alternative(value: Any) -> bool:
    return (
        isinstance(value, list) and len(value) == 2 and _is_int(value[0]) and _is_number(value[1])
    )


def _list_of(accept: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(accept(item) for item in value)


def _records(path: Path) -> list[_Record]:
    """The file's non-blank lines as JSON objects, or a TraceError naming the bad line."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise TraceError(f"cannot read the trace {path}: {error.strerror or error}") from None
    lines = raw.split(b"\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        last = number == len(lines)  # a file written to the end finishes with a newline
        if b"\0" in line:
            raise TraceError(f"{where}: binary data; a spectui trace is JSON Lines text")
        try:
            data = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise TraceError(
                f"{where}: not UTF-8 text (byte {error.start + 1}); "
                "a spectui trace is JSON Lines text"
            ) from None
        except json.JSONDecodeError as error:
            if last:
                raise TraceError(
                    f"{where}: the record is cut short (the file ends in the middle of it, "
                    "so the trace was truncated or is still being written); expected a "
                    "complete JSON object"
                ) from None
            raise TraceError(
                f"{where}: not JSON ({error.msg} at column {error.colno}); expected one JSON "
                "object per line"
            ) from None
        if not isinstance(data, dict):
            raise TraceError(f"{where}: a JSON {type(data).__name__}; expected a JSON object")
        records.append(_Record(where, data))
    return records


def _read_header(record: _Record) -> tuple[TraceHeader, dict[int, str]]:
    if record.data.get("format") != TRACE_FORMAT:
        record.fail(
            f'not a spectui trace: expected a header with "format": "{TRACE_FORMAT}" on the '
            "first line"
        )
    version = record.get("version", "an integer", _is_int)
    if version != TRACE_VERSION:
        record.fail(
            f"trace format version {version} is not supported: spectui {__version__} "
            f"reads version {TRACE_VERSION}"
        )
    config_record = record.child("config")
    names = {f.name for f in fields(DecodeConfig)}
    unknown = sorted(set(config_record.data) - names)
    if unknown:
        record.fail(f"unknown config field(s) {', '.join(unknown)}; expected {', '.join(names)}")
    try:
        config = DecodeConfig(**config_record.dataclass_fields(DecodeConfig))
    except ConfigError as error:
        record.fail(f"invalid config: {error}")
    tokenizer = record.child("tokenizer")
    texts = _read_texts(record)
    prompt_ids = record.integers("prompt_ids")
    _check_texts(record, prompt_ids, texts)
    header = TraceHeader(
        config=config,
        prompt=record.text("prompt"),
        prompt_ids=prompt_ids,
        tokenizer=TokenizerInfo(
            name=tokenizer.text("name"),
            cls=tokenizer.text("class"),
            vocab_size=tokenizer.integer("vocab_size"),
            eos_id=tokenizer.optional_integer("eos_id"),
            bos_id=tokenizer.optional_integer("bos_id"),
        ),
        context_length=record.integer("context_length"),
        device=record.text("device"),
        dtype=record.text("dtype"),
        prompt_texts={token_id: texts[token_id] for token_id in prompt_ids},
        spectui=record.text("spectui"),
        created=record.text("created"),
    )
    return header, texts


def _read_texts(record: _Record, texts: dict[int, str] | None = None) -> dict[int, str]:
    """Add a record's `token_texts` ({"id": "text"}) to `texts`."""
    texts = {} if texts is None else texts
    mapping = record.get(
        "token_texts",
        'an object mapping token ids to texts, e.g. {"464": " The"}',
        lambda v: (
            isinstance(v, dict) and all(k.isdigit() and isinstance(t, str) for k, t in v.items())
        ),
    )
    texts.update((int(token_id), text) for token_id, text in mapping.items())
    return texts


def _check_texts(record: _Record, ids: Iterable[int], texts: Mapping[int, str]) -> None:
    missing = sorted({token_id for token_id in ids if token_id not in texts})
    if missing:
        record.fail(
            f"no text for token id(s) {', '.join(map(str, missing[:5]))}; expected each "
            "id's text in this or an earlier line's token_texts"
        )


def _read_round(
    record: _Record, header: TraceHeader, expected_index: int, texts: dict[int, str]
) -> RoundFinished:
    index = record.integer("round")
    if index != expected_index:
        record.fail(f"round {index} is out of order; expected round {expected_index}")
    settings = record.child("settings")
    try:
        config = header.config.retuned(
            policy=record.choice("policy", POLICY_NAMES),
            draft_span=settings.integer("draft_span"),
            p_thresh=settings.number("p_thresh"),
            topk_gate=settings.integer("topk_gate"),
            margin_gate=settings.number("margin_gate"),
            max_accept=settings.integer("max_accept"),
            bonus=settings.flag("bonus"),
        )
    except ConfigError as error:
        record.fail(f"invalid settings: {error}")
    draft_ids, q = record.integers("draft_ids"), record.numbers("q")
    if len(q) != len(draft_ids):
        record.fail(f"{len(q)} q values for {len(draft_ids)} draft tokens; expected one each")
    checks = tuple(_read_check(check, draft_ids) for check in record.children("checks"))
    appended_ids = record.integers("appended_ids")
    origins_given = record.get(
        "origins", "a list of draft/correction/bonus", _list_of(_one_of(TokenOrigin))
    )
    origins = tuple(TokenOrigin(origin) for origin in origins_given)
    if len(origins) != len(appended_ids):
        record.fail(f"{len(origins)} origins for {len(appended_ids)} appended tokens")
    if not len(checks) <= len(appended_ids) <= len(checks) + 1:
        record.fail(
            f"{len(appended_ids)} appended tokens after {len(checks)} gate checks; expected "
            "one per check, plus at most one bonus token"
        )
    event = RoundFinished(
        round_index=index,
        draft_ids=draft_ids,
        q=q,
        checks=checks,
        appended_ids=appended_ids,
        origins=origins,
        n_accepted=record.integer("n_accepted"),
        config=config,
        stats=_read_stats(record.child("stats")),
    )
    _check_texts(record, round_ids(event), _read_texts(record, texts))
    return event


def _read_appended_texts(record: _Record, event: RoundFinished) -> list[str]:
    shown = record.get(
        "appended_texts", "a list of strings", _list_of(lambda v: isinstance(v, str))
    )
    if len(shown) != len(event.appended_ids):
        record.fail(f"{len(shown)} appended_texts for {len(event.appended_ids)} appended tokens")
    return list(shown)


def _one_of(kind: type[TokenOrigin] | type[FinishReason]) -> Callable[[Any], bool]:
    values = {member.value for member in kind}
    return lambda value: value in values


def _read_check(record: _Record, draft_ids: tuple[int, ...]) -> GateCheck:
    position = record.integer("position")
    token_id = record.integer("token_id")
    if not 0 <= position < len(draft_ids) or draft_ids[position] != token_id:
        record.fail(
            f"check of token {token_id} at position {position} does not match the round's "
            f"draft_ids {list(draft_ids)}"
        )
    gates = record.child("gates")
    verdicts = record.child("verdicts")
    alternatives = record.get(
        "alternatives",
        "a list of [token id, probability] pairs",
        _list_of(
            lambda v: isinstance(v, list) and len(v) == 2 and _is_int(v[0]) and _is_number(v[1])
        ),
    )
    policy: PolicyName = record.choice("policy", POLICY_NAMES)  # type: ignore[assignment]
    return GateCheck(
        position=position,
        token_id=token_id,
        q=record.number("q"),
        p=record.number("p"),
        rank=record.integer("rank"),
        top1_id=record.integer("top1_id"),
        p_top1=record.number("p_top1"),
        margin=record.number("margin"),
        gates=Gates(**{f.name: gates.flag(f.name) for f in fields(Gates)}),
        chance=Chance(**record.child("chance").dataclass_fields(Chance)),
        verdicts={name: verdicts.flag(name) for name in POLICY_NAMES},
        policy=policy,
        alternatives=tuple((int(token_id), float(p)) for token_id, p in alternatives),
    )


def _read_stats(record: _Record) -> StatsSnapshot:
    return StatsSnapshot(**record.dataclass_fields(StatsSnapshot))


def _read_done(
    record: _Record, header: TraceHeader, rounds: list[RoundFinished], texts: dict[int, str]
) -> DecodeFinished:
    reason = FinishReason(record.choice("reason", [member.value for member in FinishReason]))
    prompt_ids = record.integers("prompt_ids")
    if prompt_ids != header.prompt_ids:
        record.fail("prompt_ids differ from the header's; expected the same prompt")
    output_ids = record.integers("output_ids")
    appended = tuple(token_id for event in rounds for token_id in event.appended_ids)
    if output_ids != appended:
        record.fail(
            f"output_ids ({len(output_ids)} tokens) differ from the rounds' appended tokens "
            f"({len(appended)}); expected the same tokens"
        )
    _read_texts(record, texts)
    return DecodeFinished(reason, prompt_ids, output_ids, _read_stats(record.child("stats")))
