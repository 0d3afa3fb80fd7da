"""The decode screen's sweep view (v): a finished sweep's settings, each opened as a decode."""

from __future__ import annotations

from collections.abc import Callable

from spectui.app.screens.screen_state import ScreenState, Surface
from spectui.engine.config import DecodeConfig
from spectui.engine.sweep.file import Sweep


class Sweeping:
    """What enter on a sweep row does: decode the sweep's prompt under that row's settings."""

    def __init__(self, state: ScreenState, surface: Surface, start_run: Callable[[], None]) -> None:
        """`start_run`: start a fresh decode of `state.prompt` under `state.config`."""
        self.state = state
        self.surface = surface
        self.start_run = start_run

    def open_setting(self, sweep: Sweep | None, config: DecodeConfig | None) -> None:
        """Decode `sweep`'s first prompt under `config` (None: the view was closed)."""
        if config is None or sweep is None:
            return
        self.state.config = config
        self.state.prompt = sweep.header.prompts[0]
        if self.state.loading_models():
            # The decode about to start is this prompt's (the app opened on it): it takes the
            # setting from its first round, as a retune, since a restart would load them twice.
            self.state.control.retune(config)
        else:  # a fresh decode, even after an error (a retry would go on with the old one)
            self.start_run()
        self.surface.say(f"Sweep setting: decoding {sweep_label(sweep, config)}")


def sweep_label(sweep: Sweep, config: DecodeConfig) -> str:
    """The table's name of the setting `config` came from."""
    for row in sweep.rows:
        if sweep.config_of(row) == config:
            return row.label
    return config.policy_label
