"""The decode screen's status line: its latest message, one row above the Footer.

Decode messages ("draft span k 4 from round 7", "Setting refused") used to be toasts that
covered the right-hand panels and stacked. The status line shows only the latest one, in the
row it owns, and clears it after `CLEAR_AFTER` seconds or on the next key.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.notifications import SeverityLevel as Severity
from textual.timer import Timer
from textual.widgets import Static

CLEAR_AFTER = 8.0  # seconds a message stays
# Colour is never the only signal: a prefix says the severity under NO_COLOR too.
PREFIXES: dict[Severity, str] = {"information": "", "warning": "! ", "error": "✗ "}
STYLES: dict[Severity, str] = {"information": "", "warning": "bold yellow", "error": "bold red"}


class StatusLine(Static):
    """The latest decode message, replacing the one before; empty when there is none."""

    @dataclass
    class Said(Message, bubble=False):
        """The status line now says `text` (tests and logs read what was said)."""

        text: str
        severity: Severity

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.message = ""  # what it says now ("" when cleared), without the prefix
        self.severity: Severity = "information"
        self.clear_after = CLEAR_AFTER  # seconds (tests that take longer raise it)
        self._timer: Timer | None = None

    def say(self, text: str, severity: Severity = "information") -> None:
        """Show `text` instead of the previous message, until cleared."""
        self.message, self.severity = text, severity
        shown = Text(PREFIXES[severity] + text, style=STYLES[severity])
        self.update(shown)
        self.set_class(severity == "warning", "-warning")
        self.set_class(severity == "error", "-error")
        self._restart_timer()
        self.post_message(self.Said(text, severity))

    def clear(self) -> None:
        """Show nothing (already nothing: no repaint, since every key press clears)."""
        if not self.message and self._timer is None:
            return
        self.message = ""
        self.update("")
        self.remove_class("-warning", "-error")
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.clear_after, self.clear)
