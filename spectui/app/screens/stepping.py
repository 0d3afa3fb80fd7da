"""Stepping a decode: one gate check, the rest of a round, autoplay and its speed."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.screen import Screen

from spectui.app.control import StepControl
from spectui.app.screens.drawing import Drawing


class Stepping(Screen[None]):
    """The decode screen's space, enter, p and +/- actions (the requests go to `control`)."""

    control: StepControl
    drawing: Drawing
    busy: bool
    _settled: asyncio.Event

    @property
    def phase(self) -> str:
        """loading, ready, finished or error (the decode screen's)."""
        raise NotImplementedError

    def _decode_ready(self) -> bool:
        if self.phase in ("ready", "loading"):
            return True
        reasons = {
            "finished": "The decode has finished: ctrl+r restarts it, e edits the prompt.",
            "error": "The engine stopped on an error: ctrl+r retries, e edits the prompt.",
        }
        self.notify(reasons[self.phase], severity="warning")
        return False

    def _ask(self, request: Any) -> None:
        self.busy = True
        self._settled.clear()
        request()

    def action_step(self) -> None:
        """Reveal the next gate check (or draft the next round); stops fast-forward."""
        if self.control.fast_forwarding:
            self.action_fast_forward()
        elif self._decode_ready():
            self._ask(self.control.step)

    def action_finish_round(self) -> None:
        """Run to the end of the current round."""
        if self._decode_ready():
            self._ask(self.control.finish_round)

    def action_toggle_play(self) -> None:
        """Autoplay on or off."""
        if self._decode_ready():
            self._ask(lambda: self.control.set_playing(not self.control.playing))
            self.drawing.refresh_header()

    def action_fast_forward(self) -> None:
        """Run the decode at engine speed, or stop (redraws are throttled, never waited for)."""
        if self._decode_ready():
            self._ask(lambda: self.control.fast_forward(not self.control.fast_forwarding))
            self.drawing.refresh_header()

    def action_speed(self, delta: int) -> None:
        """Autoplay faster (+1) or slower (−1)."""
        self.control.set_speed(self.control.speed + delta)
        self.drawing.refresh_header()
