"""Browsing a decode: selecting tokens of the stream and stepping through earlier rounds."""

from __future__ import annotations

from textual.notifications import SeverityLevel
from textual.screen import Screen

from spectui.app.state import DecodeView


class Browsing(Screen[None]):
    """The decode screen's arrow-key and b/n actions (state: `selected`, `viewed`)."""

    decode: DecodeView
    selected: int | None
    viewed: int | None

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a message in the status line (the decode screen's)."""
        raise NotImplementedError

    def refresh_view(self, force: bool = False) -> None:
        """Redraw (the decode screen's)."""
        raise NotImplementedError

    def action_select(self, delta: int) -> None:
        """Select the previous/next token of the stream."""
        count = len(self.decode.pieces())
        if count == 0:
            return
        if self.selected is None:
            self.selected = count - 1 if delta < 0 else None
        elif self.selected + delta >= count:
            self.selected = None
        else:
            self.selected = max(0, self.selected + delta)

    def action_select_first(self) -> None:
        """Select the first generated token."""
        if self.decode.pieces():
            self.selected = 0

    def action_live(self) -> None:
        """Stop selecting: follow the latest check again."""
        self.selected = None
        self.viewed = None

    def action_view_round(self, delta: int) -> None:
        """Step back (−1) or forward (+1) through the rounds; past the latest: live again."""
        current = self.decode.round
        if current is None:
            self.say("No round yet: nothing to step back to.", "warning")
            return
        latest = current.index
        viewed = (latest if self.viewed is None else self.viewed) + delta
        if viewed < 0:
            self.say("This is the first round.", "warning")
            return
        self.selected = None
        self.viewed = None if viewed >= latest and delta > 0 else min(viewed, latest)
        self.refresh_view()
