"""Tuning a decode: the policy and the between-round settings, from the next round on.

`state.config` is the UI's one copy of the next round's settings; a change is validated here,
kept there, and handed to the worker through the step control (`Retune`), which tells from
which round it applies (`Retuned`): the worker may have started a round the screen has not
shown yet.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spectui.app.format import shown_value
from spectui.app.screens.decode import inputs
from spectui.app.screens.decode.effects import Open, Repaint, Retune, Say, SettingsDialog
from spectui.app.screens.decode.moves import Outcome
from spectui.app.screens.decode.state import ScreenState
from spectui.engine.config import ConfigError, knob_of
from spectui.engine.policy.registry import next_policy

ENDED = ": the decode has ended; a branch (B) or a restart (ctrl+r) uses it"


def toggle_policy(state: ScreenState, key: inputs.TogglePolicy) -> Outcome:
    """Cycle through the policies from the next round."""
    return retune(state, policy=next_policy(state.config.policy))


def use_policy(state: ScreenState, key: inputs.UsePolicy) -> Outcome:
    """Use policy `name` from the next round."""
    return retune(state, policy=key.name)


def span(state: ScreenState, key: inputs.Span) -> Outcome:
    """Draft one token more or fewer per round."""
    return retune(state, draft_span=state.config.draft_span + key.delta)


def open_settings(state: ScreenState, key: inputs.OpenSettings) -> Outcome:
    """The settings form, on the current settings."""
    return state, (Open(SettingsDialog(state.config)),)


def settings_closed(state: ScreenState, answer: inputs.SettingsClosed) -> Outcome:
    """What the settings form returns: its changes, if any (None: cancelled)."""
    return retune(state, **answer.changes) if answer.changes else (state, ())


def retune(state: ScreenState, **changes: Any) -> Outcome:
    """Change settings from the next round on; refuse invalid values with the reason."""
    try:
        config = state.config.retuned(**changes)
    except ConfigError as error:
        return state, (Say(f"Setting refused: {error}", "error"),)
    summary = ", ".join(
        f"{knob_of(name).label} {shown_value(value)}" for name, value in changes.items()
    )
    return replace(state, config=config), (Retune(config, summary),)


def retuned(state: ScreenState, taken: inputs.Retuned) -> Outcome:
    """The step control took the settings: say from which round they apply.

    After an error the worker is gone, and ctrl+r goes on with them from the failed round (or
    from the first, when that cannot be resumed).
    """
    first_round = taken.first_round
    if state.error is not None:
        first_round = state.retry_round() or 0
    when = ENDED if first_round is None else f" from round {first_round + 1}"
    return state, (Say(taken.summary + when), Repaint())
