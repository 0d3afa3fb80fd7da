"""The run and the screen around it: its start and end, the worker's end, a restart, a new
prompt, any key before its action, and the screens opened over this one (compare, help)."""

from __future__ import annotations

from dataclasses import replace

from spectui.app.keys import DECODE_BINDINGS, offered_bindings
from spectui.app.screens.compare import CompareScreen
from spectui.app.screens.decode import inputs
from spectui.app.screens.decode.effects import (
    Bell,
    ClearStatus,
    CompareDialog,
    Effect,
    EndRun,
    Exit,
    HelpDialog,
    HoldForKey,
    Open,
    PromptDialog,
    RefreshKeys,
    Repaint,
    RepaintHeader,
    Say,
    SetPlaying,
    StopSession,
    WriteTrace,
)
from spectui.app.screens.decode.moves import Outcome, become_busy, become_idle, begin_run
from spectui.app.screens.decode.state import ScreenState
from spectui.engine.config import ConfigError
from spectui.engine.errors import ChatTemplateError, SpectuiError

STILL_LOADING = "The models are still loading; {what} once they are."


def mounted(state: ScreenState, event: inputs.Mounted) -> Outcome:
    """The screen is on: the first run starts."""
    return begin_run(state)


def unmounted(state: ScreenState, event: inputs.Unmounted) -> Outcome:
    """The screen is going: the run and the session stop; --trace FILE, if given, is saved
    (a failure is kept for the command, which reports it)."""
    effects: tuple[Effect, ...] = (EndRun(state.control), StopSession())
    log = state.session.log_to_save(state.event_log)
    if state.trace_path is not None and log is not None:
        effects += (WriteTrace(state.trace_path, log, "", "", on_exit=True),)
    return state, effects


def worker_ended(state: ScreenState, event: inputs.WorkerEnded) -> Outcome:
    """The worker returned; if on an error, the error panel shows it (the app stays usable),
    unless the models never loaded: then the app exits (status 2), as `spectui run` does."""
    effects: tuple[Effect, ...] = ()
    if event.failed:
        state, effects = fail(state, event.error)
    state, idle = become_idle(state)
    return state, (*effects, *idle)


def fail(state: ScreenState, error: BaseException | None) -> Outcome:
    """The worker stopped on `error`: keep it to show (nothing here can mend a model path or a
    server address: if the models never loaded, the app exits)."""
    if error is not None and not state.loaded:
        return replace(state, load_failure=error), (Exit(2),)
    if isinstance(error, (SpectuiError, ConfigError)):
        words = str(error)
    else:
        words = f"{type(error).__name__}: {error} (this looks like a bug in spectui)"
    # No key mends a tokenizer without a chat template: the panel offers q alone.
    mendable = not isinstance(error, ChatTemplateError)
    state = replace(state, error=words, error_mendable=mendable)
    return state, (SetPlaying(False), Bell(), RefreshKeys(), Repaint())


def key_pressed(state: ScreenState, key: inputs.KeyPressed) -> Outcome:
    """The next key clears the last message (its action may say a new one). At engine speed
    the worker holds off while the key's repaint is drawn (`StepControl.hold_for_key`)."""
    effects: tuple[Effect, ...] = (HoldForKey(), ClearStatus())
    if (refusal := state.refusal(key.key, key.sweep)) is not None:
        effects += (Say(f"{refusal}.", "warning"),)
    return state, effects


def restart(state: ScreenState, key: inputs.Restart) -> Outcome:
    """Restart the decode from the prompt with the current settings (after an error: a retry
    from the failed round, when it can be resumed)."""
    if state.loading_models():
        return state, (Say(STILL_LOADING.format(what="restart"), "warning"),)
    state, effects = begin_run(state, state.retry_round())
    # What the status line said of the old run's rounds no longer holds.
    return state, (ClearStatus(), *effects)


def edit_prompt(state: ScreenState, key: inputs.EditPrompt) -> Outcome:
    """The prompt editor; the decode restarts on its answer."""
    return state, (Open(PromptDialog(state.prompt, state.prompts)),)


def prompt_edited(state: ScreenState, answer: inputs.PromptEdited) -> Outcome:
    """A new prompt: the decode restarts on it (None: the editor was cancelled)."""
    if answer.prompt is None:
        return state, ()
    return restart(replace(state, prompt=answer.prompt), inputs.Restart())


def compare(state: ScreenState, key: inputs.Compare) -> Outcome:
    """Decode the prompt under the compared policies side by side (autoplay pauses)."""
    pair, config = state.pair, state.config
    if pair is None:
        return state, (Say(STILL_LOADING.format(what="compare"), "warning"),)
    effects: tuple[Effect, ...] = ()
    if state.playing:  # paused as p pauses it
        state, busy = become_busy(state)
        effects = (*busy, SetPlaying(False), RepaintHeader())
    max_new_tokens = config.max_new_tokens or CompareScreen.DEFAULT_TOKENS
    return state, (*effects, Open(CompareDialog(pair, config, state.prompt, max_new_tokens)))


def help_screen(state: ScreenState, key: inputs.Help) -> Outcome:
    """List every key this session offers (as the Footer and the palette offer them)."""

    def check(action: str, parameters: tuple[object, ...]) -> bool | None:
        return state.offers(action, sweep=key.sweep)

    offered = offered_bindings(DECODE_BINDINGS, check, in_browser=key.in_browser)
    return state, (Open(HelpDialog(tuple(offered))),)


def quit_app(state: ScreenState, key: inputs.Quit) -> Outcome:
    """The run stops and the app exits."""
    return state, (EndRun(state.control), Exit(0))
