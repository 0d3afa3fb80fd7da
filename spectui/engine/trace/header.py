"""Traces: a decode session as JSON Lines; here the format, its header and the trace read back.

Line 1 is a versioned header (every config field, the models, the tokenizer, the prompt and
its ids, the spectui version, when it was made). Then one `round` record per finished round:
its policy and settings (the fields that may change between rounds; the rest are the
header's), drafts, every gate check (each gate, every policy's verdict, speculative sampling's
coin, the verifier's top alternatives), the appended tokens with their origins and the
statistics so far (the counts, and under `figures` what derives from them: written for other
tools, recomputed rather than read back). A `done` record ends a decode that ran to its end.
Each record also carries the text of every token id it introduces (`token_texts`) and the
text each appended token added to the output (`appended_texts`: a character split over
several tokens shows whole in the last of them), so a trace can be shown with no model and
no tokenizer loaded.

Records are written from an `EventLog` (`log.py`) by one writer (`writer.py`) for the app and
`spectui run`; `reader.read_trace` validates every field and rebuilds the engine's own event
dataclasses, so a replay feeds the app exactly the stream a live engine would. Pure Python:
no torch, no Textual.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui import __version__
from spectui.engine.config import DecodeConfig
from spectui.engine.errors import SpectuiError
from spectui.engine.events import DecodeFinished, EngineEvent, RoundFinished
from spectui.engine.trace.codec import to_json

if TYPE_CHECKING:
    from spectui.engine.models.loading import ModelPair

TRACE_FORMAT = "spectui-trace"
# 2: stats hold counts only (judged, per position, round shapes); 3: rounds numbered from 1,
# as the app, the gate tables and `spectui run --json` number them; 4: a round may carry its
# token tree (`tree`: every node, its check, the walk and the accepted path); chains unchanged.
TRACE_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, TRACE_VERSION)


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
            yield from record.steps(n_generated)
            n_generated += len(record.appended_ids)
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
        "config": to_json(config),
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
        "token_texts": texts_as_dict(header.prompt_texts),
    }


def texts_as_dict(texts: Mapping[int, str]) -> dict[str, str]:
    return {str(token_id): text for token_id, text in texts.items()}
