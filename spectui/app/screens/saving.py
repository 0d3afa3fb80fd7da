"""Saving a decode: its event log written as a trace that `spectui replay` opens; its
committed text copied out."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from spectui.app.screens.screen_state import ScreenState, Surface
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


class Saving:
    """w, the save when a decode ends and the one on exit (to `state.trace_path`); y."""

    def __init__(self, state: ScreenState, surface: Surface) -> None:
        self.state = state
        self.surface = surface

    def save(self, deliver: Deliver | None = None) -> None:
        """Save this decode as a trace for `spectui replay` (to --trace FILE, if given); with
        `deliver` (the app's `deliver_text`, in a browser) hand it to the browser instead."""
        if deliver is not None:
            self.download_trace(deliver)
        else:
            self.save_trace(self.state.trace_path or default_trace_path())

    def save_trace(self, path: Path) -> Path | None:
        """Write the decode's log to `path` and say where (or why it could not be)."""
        try:
            log = self._log_to_save()
            saved = save_log(path, log)
        except TraceError as error:
            self.surface.say(f"Trace not saved: {error}", "error")
            return None
        what, ended = self._what(log)
        self.surface.say(f"Trace saved: {what} to {saved}{ended}")
        return saved

    def download_trace(self, deliver: Deliver) -> None:
        """Hand the trace to the browser as a download: a visitor of `spectui serve` cannot
        reach a file written on the server. It is written as `save_trace` writes it (to a
        folder of its own, removed at once) and delivered as text."""
        name = default_trace_path().name
        try:
            log = self._log_to_save()
            with tempfile.TemporaryDirectory(prefix="spectui-") as folder:
                text = save_log(Path(folder) / name, log).read_text("utf-8")
        except TraceError as error:
            self.surface.say(f"Trace not downloaded: {error}", "error")
            return
        deliver(io.StringIO(text), save_filename=name, mime_type="application/jsonl")
        what, ended = self._what(log)
        self.surface.say(f"Trace sent to the browser: {what} as {name}{ended}")

    def _log_to_save(self) -> EventLog:
        log = self.state.session.log_to_save(self.state.event_log)
        if log is None:
            raise TraceError("nothing to save yet: the decode has not started")
        return log

    def _what(self, log: EventLog) -> tuple[str, str]:
        """What a save holds ("3 rounds") and, of a decode still going, that it goes on."""
        if log is not self.state.event_log:  # a replay: the whole trace, however far it was played
            return f"the whole trace, {len(log.rounds)} rounds,", ""
        return f"{len(log.rounds)} rounds", "" if log.done is not None else " (the decode goes on)"

    def save_on_exit(self) -> None:
        """The app is closing: save to --trace FILE, if given, keeping a failure for the command."""
        log = self.state.session.log_to_save(self.state.event_log)
        if self.state.trace_path is not None and log is not None:
            try:
                save_log(self.state.trace_path, log)
            except TraceError as error:
                self.state.autosave_error = str(error)

    def copy_output(self, clipboard: Callable[[str], None]) -> None:
        """Copy the committed text (the prompt and the output, no pending, rejected or
        discarded draft) with `clipboard`, and say how much."""
        decode = self.state.decode
        text = decode.committed_text()
        clipboard(text)
        self.surface.say(
            f"Copied the committed text: the prompt and {decode.n_generated} output tokens, "
            f"{len(text)} characters (no pending, rejected or discarded draft)"
        )
