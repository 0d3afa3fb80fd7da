"""The decode screen's sweep view (v): a finished sweep's settings, each opened as a decode."""

from __future__ import annotations

from dataclasses import replace

from spectui.app.screens.decode import inputs
from spectui.app.screens.decode.effects import Open, Retune, Say, SweepDialog
from spectui.app.screens.decode.moves import Outcome, begin_run
from spectui.app.screens.decode.state import ScreenState
from spectui.engine.config import DecodeConfig
from spectui.engine.sweep.file import Sweep

NO_SWEEP = "No sweep loaded: open one with spectui --sweep FILE."


def open_sweep(state: ScreenState, key: inputs.OpenSweep) -> Outcome:
    """Show the sweep's settings; enter on one restarts the decode with it."""
    if key.sweep is None:
        return state, (Say(NO_SWEEP, "warning"),)
    return state, (Open(SweepDialog(key.sweep)),)


def row_chosen(state: ScreenState, answer: inputs.SweepRowChosen) -> Outcome:
    """Decode the sweep's first prompt under the row's settings (None: the view was closed)."""
    sweep, config = answer.sweep, answer.config
    if config is None or sweep is None:
        return state, ()
    state = replace(state, config=config, prompt=sweep.header.prompts[0])
    said = Say(f"Sweep setting: decoding {sweep_label(sweep, config)}")
    if state.loading_models():
        # The decode about to start is this prompt's (the app opened on it): it takes the
        # setting from its first round, as a retune, since a restart would load them twice.
        return state, (Retune(config), said)
    # A fresh decode, even after an error (a retry would go on with the old one).
    state, effects = begin_run(state)
    return state, (*effects, said)


def sweep_label(sweep: Sweep, config: DecodeConfig) -> str:
    """The table's name of the setting `config` came from."""
    for row in sweep.rows:
        if sweep.config_of(row) == config:
            return row.label
    return config.policy_label
