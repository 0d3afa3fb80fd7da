"""Where a trace goes: a file here, or the visitor's browser (the `WriteTrace` effect)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from spectui.app.screens.decode.effects import WriteTrace
from spectui.app.screens.decode.inputs import TraceWritten
from spectui.engine.trace.header import TraceError
from spectui.engine.trace.writer import save_log

if TYPE_CHECKING:
    from spectui.engine.trace.log import EventLog


class Deliver(Protocol):
    """`App.deliver_text`: under textual-serve, a download in the visitor's browser."""

    def __call__(
        self, path_or_file: TextIO, *, save_filename: str | None, mime_type: str | None
    ) -> str | None: ...


def default_trace_path() -> Path:
    """Where the save key writes when no --trace FILE was given: the current directory."""
    from datetime import datetime

    return Path(f"spectui-trace-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl")


def carry_out(effect: WriteTrace, deliver: Deliver) -> TraceWritten:
    """Write (or with `deliver`, the app's, hand the browser) a trace: where it went."""
    if effect.download:
        where, error = download_trace(effect.log, deliver)
    else:
        where, error = write_trace(effect.path, effect.log)
    what, ended = effect.what, effect.ended
    return TraceWritten(where, error, what, ended, effect.download, effect.on_exit)


def write_trace(path: Path | None, log: EventLog) -> tuple[str | None, str | None]:
    """Write `log` to `path` (None: `default_trace_path()`): (where it went, why not)."""
    try:
        return str(save_log(path or default_trace_path(), log)), None
    except TraceError as error:
        return None, str(error)


def download_trace(log: EventLog, deliver: Deliver) -> tuple[str | None, str | None]:
    """Hand the trace to the browser as a download: a visitor of `spectui serve` cannot reach a
    file written on the server. It is written as `write_trace` writes it (to a folder of its
    own, removed at once) and delivered as text: (the file's name, why not)."""
    name = default_trace_path().name
    try:
        with tempfile.TemporaryDirectory(prefix="spectui-") as folder:
            text = save_log(Path(folder) / name, log).read_text("utf-8")
    except TraceError as error:
        return None, str(error)
    deliver(io.StringIO(text), save_filename=name, mime_type="application/jsonl")
    return name, None
