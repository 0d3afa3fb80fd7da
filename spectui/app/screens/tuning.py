"""Tuning a decode: the policy and the between-round settings, from the next round on."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from spectui.app.control import StepControl
from spectui.app.screens.drawing import shown_value
from spectui.app.screens.settings import SettingsScreen
from spectui.app.state import DecodeView
from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.policies import next_policy


class Tuning(Screen[None]):
    """The decode screen's t, [, ] and s actions (state: `config`, the next round's)."""

    config: DecodeConfig
    control: StepControl
    decode: DecodeView

    def refresh_view(self, force: bool = False) -> None:
        """Redraw (the decode screen's)."""
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
            self.notify(str(error), title="Setting refused", severity="error")
            return False
        self.config = config
        self.control.retune(config)
        current = self.decode.round
        next_round = 1 if current is None else current.index + (1 if current.finished else 2)
        summary = ", ".join(f"{name} {shown_value(value)}" for name, value in changes.items())
        self.notify(f"{summary} from round {next_round}", title="Settings")
        self.refresh_view()
        return True

    def action_settings(self) -> None:
        """Open the settings screen."""

        def apply(changes: dict[str, Any] | None) -> None:
            if changes:
                self.retune(**changes)

        self.app.push_screen(SettingsScreen(self.config), apply)
