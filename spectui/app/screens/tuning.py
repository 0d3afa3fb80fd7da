"""Tuning a decode: the policy and the between-round settings, from the next round on.

`state.config` is the UI's one copy of the next round's settings; a change is validated here,
kept there, and handed to the worker through the step control (which tells from which round
it applies: the worker may have started a round the screen has not shown yet).
"""

from __future__ import annotations

from typing import Any

from spectui.app.format import shown_value
from spectui.app.screens.screen_state import ScreenState, Surface
from spectui.engine.config import ConfigError, DecodeConfig, knob_of
from spectui.engine.policy.registry import next_policy


class Tuning:
    """t, [, ] and the settings form (s): changes to `state.config`."""

    def __init__(self, state: ScreenState, surface: Surface) -> None:
        self.state = state
        self.surface = surface

    def toggle_policy(self) -> None:
        """Cycle through the policies from the next round."""
        self.retune(policy=next_policy(self.state.config.policy))

    def use_policy(self, name: str) -> None:
        """Use policy `name` from the next round."""
        self.retune(policy=name)

    def span(self, delta: int) -> None:
        """Draft one token more or fewer per round."""
        self.retune(draft_span=self.state.config.draft_span + delta)

    def apply(self, changes: dict[str, Any] | None) -> None:
        """What the settings form returns: its changes, if any (None: cancelled)."""
        if changes:
            self.retune(**changes)

    def retune(self, **changes: Any) -> bool:
        """Change settings from the next round on; refuse invalid values with the reason."""
        try:
            config = self.state.config.retuned(**changes)
        except ConfigError as error:
            self.surface.say(f"Setting refused: {error}", "error")
            return False
        self.state.config = config
        first_round = self.hand_over(config)
        summary = ", ".join(
            f"{knob_of(name).label} {shown_value(value)}" for name, value in changes.items()
        )
        if first_round is None:
            when = ": the decode has ended; a branch (B) or a restart (ctrl+r) uses it"
        else:
            when = f" from round {first_round + 1}"
        self.surface.say(summary + when)
        self.surface.refresh_view()
        return True

    def hand_over(self, config: DecodeConfig) -> int | None:
        """Give the worker `config`; the round (0-based) it takes effect from, None if none.

        The step control decides, not the view: the worker may have started a round the screen
        has not shown yet. After an error the worker is gone, and ctrl+r goes on with `config`
        from the failed round (or from the first, when that cannot be resumed).
        """
        first_round = self.state.control.retune(config)
        if self.state.error is not None:
            return self.state.retry_round() or 0
        return first_round
