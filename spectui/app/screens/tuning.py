"""Tuning a decode: the policy and the between-round settings, from the next round on."""

from __future__ import annotations

from typing import Any

from textual.notifications import SeverityLevel
from textual.screen import Screen

from spectui.app.control import StepControl
from spectui.app.screens.drawing import shown_value
from spectui.app.screens.settings import SettingsScreen
from spectui.app.state import DecodeView
from spectui.engine.config import ConfigError, DecodeConfig, knob_of
from spectui.engine.policy.registry import next_policy


class Tuning(Screen[None]):
    """The decode screen's t, [, ] and s actions (state: `config`, the next round's)."""

    config: DecodeConfig
    control: StepControl
    decode: DecodeView
    error: str | None  # the engine stopped on an error (ctrl+r retries)

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a message in the status line (the decode screen's)."""
        raise NotImplementedError

    def refresh_view(self, force: bool = False) -> None:
        """Redraw (the decode screen's)."""
        raise NotImplementedError

    def retry_round(self) -> int | None:
        """After an error: the round a retry goes on from (the decode screen's)."""
        raise NotImplementedError

    def action_toggle_policy(self) -> None:
        """Cycle through the policies from the next round."""
        self.retune(policy=next_policy(self.config.policy))

    def action_use_policy(self, name: str) -> None:
        """Use policy `name` from the next round."""
        self.retune(policy=name)

    def action_span(self, delta: int) -> None:
        """Draft one token more or fewer per round."""
        self.retune(draft_span=self.config.draft_span + delta)

    def retune(self, **changes: Any) -> bool:
        """Change settings from the next round on; refuse invalid values with the reason."""
        try:
            config = self.config.retuned(**changes)
        except ConfigError as error:
            self.say(f"Setting refused: {error}", "error")
            return False
        self.config = config
        first_round = self.hand_over(config)
        summary = ", ".join(
            f"{knob_of(name).label} {shown_value(value)}" for name, value in changes.items()
        )
        if first_round is None:
            when = ": the decode has ended; a branch (B) or a restart (ctrl+r) uses it"
        else:
            when = f" from round {first_round + 1}"
        self.say(summary + when)
        self.refresh_view()
        return True

    def hand_over(self, config: DecodeConfig) -> int | None:
        """Give the worker `config`; the round (0-based) it takes effect from, None if none.

        The step control decides, not the view: the worker may have started a round the screen
        has not shown yet. After an error the worker is gone, and ctrl+r goes on with `config`
        from the failed round (or from the first, when that cannot be resumed).
        """
        first_round = self.control.retune(config)
        if self.error is not None:
            return self.retry_round() or 0
        return first_round

    def action_settings(self) -> None:
        """Open the settings screen."""

        def apply(changes: dict[str, Any] | None) -> None:
            if changes:
                self.retune(**changes)

        self.app.push_screen(SettingsScreen(self.config), apply)
