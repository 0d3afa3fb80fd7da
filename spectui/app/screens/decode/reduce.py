"""The decode screen's one transition function: `reduce(state, input) -> (state, effects)`.

Every change of the screen's state goes through here: a key's action, the answer of a screen
it opened, an effect reporting back, and each of the engine worker's messages. Each input
has one transition, in the module of the part it belongs to (browsing, stepping, tuning,
saving, sweeping, running, receiving); none calls another. Pure: the state that comes back is
new (but for the decode's in-place fold, state.py), and what is to be done is data the
screen carries out (effects.py).
"""

from __future__ import annotations

from spectui.app import messages
from spectui.app.screens.decode import (
    browsing,
    inputs,
    receiving,
    running,
    saving,
    stepping,
    sweeping,
    tuning,
)
from spectui.app.screens.decode.moves import Outcome
from spectui.app.screens.decode.state import ScreenState


def reduce(state: ScreenState, given: inputs.Input | messages.EngineMessage) -> Outcome:
    """The state after `given`, and what is to be done, in order."""
    match given:
        case messages.EngineMessage():
            return receiving.receive(state, given)
        # browsing
        case inputs.Select():
            return browsing.select(state, given)
        case inputs.SelectFirst():
            return browsing.select_first(state, given)
        case inputs.SelectToken():
            return browsing.pick(state, given)
        case inputs.Live():
            return browsing.live(state, given)
        case inputs.NodeSelected():
            return browsing.select_node(state, given)
        case inputs.ViewRound():
            return browsing.view_round(state, given)
        case inputs.ToggleMarks():
            return browsing.toggle_marks(state, given)
        # stepping
        case inputs.StepKey():
            return stepping.step(state, given)
        case inputs.FinishRoundKey():
            return stepping.finish_round(state, given)
        case inputs.TogglePlay():
            return stepping.toggle_play(state, given)
        case inputs.FastForwardKey():
            return stepping.fast_forward(state, given)
        case inputs.Speed():
            return stepping.speed(state, given)
        case inputs.BranchKey():
            return stepping.branch(state, given)
        # tuning
        case inputs.TogglePolicy():
            return tuning.toggle_policy(state, given)
        case inputs.UsePolicy():
            return tuning.use_policy(state, given)
        case inputs.Span():
            return tuning.span(state, given)
        case inputs.OpenSettings():
            return tuning.open_settings(state, given)
        case inputs.SettingsClosed():
            return tuning.settings_closed(state, given)
        case inputs.Retuned():
            return tuning.retuned(state, given)
        # saving
        case inputs.SaveTrace():
            return saving.save_trace(state, given)
        case inputs.TraceWritten():
            return saving.trace_written(state, given)
        case inputs.CopyOutput():
            return saving.copy_output(state, given)
        # sweeping
        case inputs.OpenSweep():
            return sweeping.open_sweep(state, given)
        case inputs.SweepRowChosen():
            return sweeping.row_chosen(state, given)
        # the run
        case inputs.Mounted():
            return running.mounted(state, given)
        case inputs.Unmounted():
            return running.unmounted(state, given)
        case inputs.WorkerEnded():
            return running.worker_ended(state, given)
        case inputs.KeyPressed():
            return running.key_pressed(state, given)
        case inputs.Restart():
            return running.restart(state, given)
        case inputs.EditPrompt():
            return running.edit_prompt(state, given)
        case inputs.PromptEdited():
            return running.prompt_edited(state, given)
        case inputs.Compare():
            return running.compare(state, given)
        case inputs.Help():
            return running.help_screen(state, given)
        case inputs.Quit():
            return running.quit_app(state, given)
