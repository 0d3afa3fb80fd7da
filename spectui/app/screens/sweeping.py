"""The decode screen's sweep view (v): a finished sweep's settings, each opened as a decode."""

from __future__ import annotations

from textual.notifications import SeverityLevel
from textual.screen import Screen

from spectui.app.control import StepControl
from spectui.app.launch import launch_of
from spectui.app.screens.sweep import SweepScreen
from spectui.engine.config import DecodeConfig
from spectui.engine.sweep.file import Sweep


class Sweeping(Screen[None]):
    """The v action and what enter on a sweep row does (state: `config`, `prompt`)."""

    config: DecodeConfig
    prompt: str
    control: StepControl

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a message in the status line (the decode screen's)."""
        raise NotImplementedError

    def start_run(self, resume_at: int | None = None) -> None:
        """Start the decode of `prompt` under `config` afresh (the decode screen's)."""
        raise NotImplementedError

    def _loading_models(self) -> bool:
        """Whether the models are still loading (the decode screen's)."""
        raise NotImplementedError

    @property
    def sweep(self) -> Sweep | None:
        """The sweep the app was opened with (`spectui --sweep FILE`), if any."""
        return launch_of(self.app).sweep

    def action_sweep(self) -> None:
        """Show the sweep's settings; enter on one restarts the decode with it."""
        if self.sweep is None:
            self.say("No sweep loaded: open one with spectui --sweep FILE.", "warning")
            return
        self.app.push_screen(SweepScreen(self.sweep), self.open_setting)

    def open_setting(self, config: DecodeConfig | None) -> None:
        """Decode the sweep's first prompt under `config` (None: the view was closed)."""
        if config is None or self.sweep is None:
            return
        self.config = config
        self.prompt = self.sweep.header.prompts[0]
        if self._loading_models():
            # The decode about to start is this prompt's (the app opened on it): it takes the
            # setting from its first round, as a retune, since a restart would load them twice.
            self.control.retune(config)
        else:  # a fresh decode, even after an error (a retry would go on with the old one)
            self.start_run()
        self.say(f"Sweep setting: decoding {self.sweep_label(config)}")

    def sweep_label(self, config: DecodeConfig) -> str:
        """The table's name of the setting `config` came from."""
        sweep = self.sweep
        assert sweep is not None
        for row in sweep.rows:
            if sweep.config_of(row) == config:
                return row.label
        return config.policy_label
