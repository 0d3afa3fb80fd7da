"""Saving a decode: its event log written as a trace that `spectui replay` opens."""

from __future__ import annotations

from pathlib import Path

from textual.notifications import SeverityLevel
from textual.screen import Screen

from spectui.app.sessions import Session
from spectui.engine.trace.header import TraceError
from spectui.engine.trace.log import EventLog
from spectui.engine.trace.writer import save_log


def default_trace_path() -> Path:
    """Where the save key writes when no --trace FILE was given: the current directory."""
    from datetime import datetime

    return Path(f"spectui-trace-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl")


class Saving(Screen[None]):
    """The decode screen's w action (state: `event_log`, `trace_path`)."""

    event_log: EventLog | None
    trace_path: Path | None
    session: Session

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a message in the status line (the decode screen's)."""
        raise NotImplementedError

    def action_save_trace(self) -> None:
        """Save this decode as a trace for `spectui replay` (to --trace FILE, if given)."""
        self.save_trace(self.trace_path or default_trace_path())

    def save_trace(self, path: Path) -> Path | None:
        """Write the decode's log to `path` and say where (or why it could not be)."""
        log = self.session.log_to_save(self.event_log)
        try:
            if log is None:
                raise TraceError("nothing to save yet: the decode has not started")
            saved = save_log(path, log)
        except TraceError as error:
            self.say(f"Trace not saved: {error}", "error")
            return None
        if log is not self.event_log:  # a replay: the whole trace, however far it was played
            what = f"the whole trace, {len(log.rounds)} rounds,"
            ended = ""
        else:
            what = f"{len(log.rounds)} rounds"
            ended = "" if log.done is not None else " (the decode goes on)"
        self.say(f"Trace saved: {what} to {saved}{ended}")
        return saved
