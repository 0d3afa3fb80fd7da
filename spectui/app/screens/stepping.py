"""Stepping a decode: one gate check, the rest of a round, autoplay and its speed, a branch."""

from __future__ import annotations

from collections.abc import Callable

from spectui.app.screens.screen_state import ScreenState, Surface


class Stepping:
    """space, enter, p, f and +/-: requests to the worker, through `state.control`."""

    def __init__(self, state: ScreenState, surface: Surface) -> None:
        self.state = state
        self.surface = surface

    def ready(self) -> bool:
        """Whether a step can go on; if not, the status line says what can be done next."""
        phase = self.state.phase
        if phase in ("ready", "loading"):
            return True
        if phase == "finished":
            self.surface.say(self.state.ended_words(), "warning")
        else:
            self.surface.say(
                "The engine stopped on an error: ctrl+r retries, e edits the prompt.", "warning"
            )
        return False

    def ask(self, request: Callable[[], object]) -> None:
        """Make a request of the worker: the screen is busy until it has caught up."""
        if self.state.set_busy(True):
            self.surface.refresh_header()
        request()

    def step(self) -> None:
        """Reveal the next gate check (or draft the next round); stops fast-forward."""
        if self.state.control.fast_forwarding:
            self.fast_forward()
        elif self.ready():
            self.ask(self.state.control.step)

    def finish_round(self) -> None:
        """Run to the end of the current round."""
        if self.ready():
            self.ask(self.state.control.finish_round)

    def toggle_play(self) -> None:
        """Autoplay on or off."""
        if self.ready():
            control = self.state.control
            self.ask(lambda: control.set_playing(not control.playing))
            self.surface.refresh_header()

    def fast_forward(self) -> None:
        """Run the decode at engine speed, or stop (redraws are throttled, never waited for)."""
        if self.ready():
            control = self.state.control
            self.ask(lambda: control.fast_forward(not control.fast_forwarding))
            self.surface.refresh_header()

    def speed(self, delta: int) -> None:
        """Autoplay faster (+1) or slower (−1)."""
        control = self.state.control
        control.set_speed(control.speed + delta)
        self.surface.refresh_header()

    def branch(self) -> None:
        """Go back to the start of the viewed round and continue under the current settings."""
        target, control, config = self.state.viewed, self.state.control, self.state.config
        if target is None or self.state.phase not in ("ready", "finished"):
            self.surface.say("Step back to a round first (b), then branch there.", "warning")
            return
        control.set_playing(False)
        self.ask(lambda: control.branch(target, config))
