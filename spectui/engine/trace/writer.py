"""Writing a trace: each finished round as a record, line by line from one decode's `EventLog`.

The format is `header.py`'s; `spectui run --json` prints the same records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from spectui.engine.events import DecodeFinished, RoundFinished
from spectui.engine.trace.codec import to_json
from spectui.engine.trace.header import TraceError, TraceHeader, header_as_dict, texts_as_dict
from spectui.engine.trace.log import EventLog


def round_ids(event: RoundFinished) -> list[int]:
    """Every token id a round record mentions: drafts, verifier alternatives, appended."""
    ids = list(event.draft_ids) + list(event.appended_ids)
    checks = list(event.checks)
    if event.tree is not None:  # every node, pruned and unwalked ones too
        ids.extend(node.token_id for node in event.tree.nodes)
        checks.extend(node.check for node in event.tree.nodes if node.check is not None)
    for check in checks:
        ids.append(check.top1_id)
        ids.extend(token_id for token_id, _ in check.alternatives)
    return ids


def round_record(event: RoundFinished) -> dict[str, Any]:
    """A finished round as `spectui run --json` prints it and a trace stores it."""
    settings = event.config.tunables()
    tree = {} if event.tree is None else {"tree": to_json(event.tree)}
    return {
        "event": "round",
        "round": event.round_index + 1,  # numbered from 1, as on screen
        "policy": settings.pop("policy"),
        "settings": settings,
        "draft_ids": list(event.draft_ids),
        "q": list(event.q),
        "checks": [{**to_json(check), "accepted": check.accepted} for check in event.checks],
        "appended_ids": list(event.appended_ids),
        "origins": [origin.value for origin in event.origins],
        "n_accepted": event.n_accepted,
        **tree,
        "stats": to_json(event.stats),
        "figures": event.stats.figures(),
    }


def done_record(event: DecodeFinished, prompt: str, policy: str, text: str) -> dict[str, Any]:
    """The end of one decode: the new tokens, their text and the final statistics."""
    return {
        "event": "done",
        "prompt": prompt,
        "policy": policy,
        "reason": event.reason.value,
        "prompt_ids": list(event.prompt_ids),
        "output_ids": list(event.output_ids),
        "text": text,
        "stats": to_json(event.stats),
        "figures": event.stats.figures(),
    }


class TraceWriter:
    """Writes one decode's trace line by line, flushing each, so a crash keeps what was done.

    Token texts come from the decode's `EventLog`: each line carries the texts of the ids it
    introduces, and each round the text its tokens added to the stream.
    """

    def __init__(self, path: str | Path, header: TraceHeader) -> None:
        self.path = Path(path)
        self._known = set(header.prompt_texts)
        self._header = header
        self._output: list[str] = []
        try:
            self._file = self.path.open("w", encoding="utf-8")
        except OSError as error:
            raise TraceError(
                f"cannot write the trace {self.path}: {error.strerror or error}"
            ) from None
        self._write(header_as_dict(header))

    def round(self, event: RoundFinished, log: EventLog) -> None:
        """Append a finished round, with what its tokens added to the stream."""
        start = len(self._output)
        shown = log.shown[start : start + len(event.appended_ids)]
        self._output.extend(shown)
        self._write(
            {
                **round_record(event),
                "appended_texts": list(shown),
                "token_texts": self._new_texts(round_ids(event), log),
            }
        )

    def done(self, event: DecodeFinished, log: EventLog) -> None:
        """Append the end of the decode (its text as the stream showed it)."""
        text = "".join(self._output)
        record = done_record(event, self._header.prompt, self._header.config.policy, text)
        self._write({**record, "token_texts": self._new_texts(event.output_ids, log)})

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

    def _new_texts(self, ids: Iterable[int], log: EventLog) -> dict[str, str]:
        fresh = {token_id: log.texts[token_id] for token_id in ids if token_id not in self._known}
        self._known.update(fresh)
        return texts_as_dict(fresh)

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        except OSError as error:
            raise TraceError(
                f"cannot write the trace {self.path}: {error.strerror or error}"
            ) from None


def save_log(path: str | Path, log: EventLog) -> Path:
    """Write a decode's log as a trace (finished rounds, and the end if it ended)."""
    with TraceWriter(path, log.header) as writer:
        for event in log.rounds:
            writer.round(event, log)
        if log.done is not None:
            writer.done(log.done, log)
    return writer.path
