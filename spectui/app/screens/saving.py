"""Saving a decode: its event log written as a trace that `spectui replay` opens; its
committed text copied out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from spectui.app.screens.screen_state import ScreenState, Surface
from spectui.engine.trace.header import TraceError
from spectui.engine.trace.writer import save_log


def default_trace_path() -> Path:
    """Where the save key writes when no --trace FILE was given: the current directory."""
    from datetime import datetime

    return Path(f"spectui-trace-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl")


class Saving:
    """w, the save when a decode ends and the one on exit (to `state.trace_path`); y."""

    def __init__(self, state: ScreenState, surface: Surface) -> None:
        self.state = state
        self.surface = surface

    def save(self) -> None:
        """Save this decode as a trace for `spectui replay` (to --trace FILE, if given)."""
        self.save_trace(self.state.trace_path or default_trace_path())

    def save_trace(self, path: Path) -> Path | None:
        """Write the decode's log to `path` and say where (or why it could not be)."""
        played = self.state.event_log
        log = self.state.session.log_to_save(played)
        try:
            if log is None:
                raise TraceError("nothing to save yet: the decode has not started")
            saved = save_log(path, log)
        except TraceError as error:
            self.surface.say(f"Trace not saved: {error}", "error")
            return None
        if log is not played:  # a replay: the whole trace, however far it was played
            what = f"the whole trace, {len(log.rounds)} rounds,"
            ended = ""
        else:
            what = f"{len(log.rounds)} rounds"
            ended = "" if log.done is not None else " (the decode goes on)"
        self.surface.say(f"Trace saved: {what} to {saved}{ended}")
        return saved

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
