"""Saving a decode: its event log written as a trace that `spectui replay` opens; its
committed text copied out. The writing itself is an effect (`WriteTrace`, files.py)."""

from __future__ import annotations

from dataclasses import replace

from spectui.app.screens.decode import inputs
from spectui.app.screens.decode.effects import Copy, Say
from spectui.app.screens.decode.moves import Outcome, save
from spectui.app.screens.decode.state import ScreenState


def save_trace(state: ScreenState, key: inputs.SaveTrace) -> Outcome:
    """Save this decode as a trace (to --trace FILE, if given); in a browser, download it."""
    if key.in_browser:
        return save(state, None, download=True)
    return save(state, state.trace_path)


def trace_written(state: ScreenState, outcome: inputs.TraceWritten) -> Outcome:
    """Say where a save went, or why it could not be (on exit: keep that for the command)."""
    if outcome.on_exit:
        return (replace(state, autosave_error=outcome.error) if outcome.error else state), ()
    if outcome.error is not None:
        verb = "downloaded" if outcome.download else "saved"
        return state, (Say(f"Trace not {verb}: {outcome.error}", "error"),)
    if outcome.download:
        words = f"Trace sent to the browser: {outcome.what} as {outcome.where}{outcome.ended}"
    else:
        words = f"Trace saved: {outcome.what} to {outcome.where}{outcome.ended}"
    return state, (Say(words),)


def copy_output(state: ScreenState, key: inputs.CopyOutput) -> Outcome:
    """Copy the committed text (the prompt and the output, no pending, rejected or discarded
    draft), and say how much."""
    decode = state.decode
    text = decode.committed_text()
    said = (
        f"Copied the committed text: the prompt and {decode.n_generated} output tokens, "
        f"{len(text)} characters (no pending, rejected or discarded draft)"
    )
    return state, (Copy(text), Say(said))
