"""The decode screen's transitions, without a terminal, a worker or a model: each row is a
starting state, an input (a key's, an answer's, or a worker message), the fields expected of
the state that comes back, and the effects expected, in order (reduce.py, effects.py).

The Pilot and snapshot tests cover the wiring (keys to inputs, effects carried out, repaints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.binding import Binding
from textual.message import Message

from spectui.app import messages
from spectui.app.control import StepControl
from spectui.app.decode_view import DecodeView
from spectui.app.keys import NO_SWEEP
from spectui.app.schedule import EngineSpeed, Paused
from spectui.app.screens.decode import browsing, inputs, stepping, sweeping, tuning
from spectui.app.screens.decode.effects import (
    Bell,
    Branch,
    ClearStatus,
    Copy,
    EndRun,
    Exit,
    FinishRound,
    ForgetRun,
    HelpDialog,
    HoldForKey,
    Open,
    PromptDialog,
    Received,
    RefreshKeys,
    Repaint,
    RepaintHeader,
    RepaintSoon,
    Retune,
    Say,
    ScrollToEnd,
    SetFastForward,
    SetPlaying,
    SetSpeed,
    SettingsDialog,
    StartWorker,
    Step,
    StopSession,
    WriteTrace,
)
from spectui.app.screens.decode.reduce import reduce
from spectui.app.screens.decode.state import ScreenState
from spectui.app.screens.decode.view_model import Layout, ScreenView
from spectui.app.sessions import LiveSession
from spectui.engine.config import DecodeConfig
from spectui.engine.errors import ChatTemplateError
from spectui.engine.events import DecodeFinished, FinishReason, RoundDrafted
from spectui.engine.stats import StatsSnapshot
from spectui.engine.trace.header import TokenizerInfo, TraceHeader
from spectui.engine.trace.log import EventLog

CONFIG = DecodeConfig()
STATS = StatsSnapshot(0, 0, 0, 0, 0, 0, (), (), (), (), (), 0, 0, 0.0, 0.0, 0.0)


def a_log() -> EventLog:
    """An empty log, as `DecodeStarted` begins one."""
    tokenizer = TokenizerInfo("tiny", "Tiny", 16, None, None)
    return EventLog(TraceHeader(CONFIG, "Once", (1,), tokenizer, 64, "cpu", "float32"))


def a_state(drafts: int = 0, rounds: int = 1, started: bool = False, **fields: Any) -> ScreenState:
    """A state of run 1 whose decode has `rounds` rounds of `drafts` pending draft tokens each
    (no drafts: none drafted yet); `started`: its log begun (phase ready); `fields` on top."""
    state = ScreenState(LiveSession(), CONFIG, "Once", ("Once", "Twice"), run_id=1)
    decode = DecodeView(prompt="Once")
    for index in range(rounds if drafts else 0):
        texts = tuple(f" t{n}" for n in range(drafts))
        decode.round_drafted(index, texts, (0.5,) * drafts, CONFIG)
    log = a_log() if started else None
    return replace(state, decode=decode, event_log=log, **fields)


def fast_forwarding(**fields: Any) -> ScreenState:
    """A started state whose worker runs at engine speed (f)."""
    state = a_state(started=True, **fields)
    state.control.fast_forward(True)
    return state


def playing(**fields: Any) -> ScreenState:
    """A started state in autoplay."""
    state = a_state(started=True, **fields)
    state.control.set_playing(True)
    return state


def finished() -> ScreenState:
    """A decode that has ended."""
    state = a_state(drafts=2, started=True)
    state.decode.decode_finished(FinishReason.MAX_TOKENS, STATS)
    return state


@dataclass(frozen=True)
class Row:
    """One transition: from `start()`, `given` leads to `fields` and `effects`."""

    name: str
    start: Callable[[], ScreenState]
    given: inputs.Input | messages.EngineMessage | Callable[[], Message]
    fields: Mapping[str, object] = field(default_factory=dict)
    effects: tuple[object, ...] = ()


ENDED = "The decode has ended: ctrl+r restarts, e edits the prompt, w saves the trace"
MARKS_ON = browsing.MARKS_ON

# fmt: off
ROWS = [
    # --- browsing -------------------------------------------------------------------------------
    Row("← from live picks the last token", lambda: a_state(drafts=3), inputs.Select(-1),
        {"selected": 2}, (Repaint(),)),
    Row("→ from live stays live", lambda: a_state(drafts=3), inputs.Select(1),
        {"selected": None}, ()),
    Row("→ past the last token is live again", lambda: a_state(drafts=3, selected=2),
        inputs.Select(1), {"selected": None}, (Repaint(), ScrollToEnd())),
    Row("← at the first token stays there, unsaid", lambda: a_state(drafts=3, selected=0),
        inputs.Select(-1), {"selected": 0}, ()),
    Row("arrows before any token do nothing", a_state, inputs.Select(-1), {"selected": None}),
    Row("home picks the first token", lambda: a_state(drafts=3), inputs.SelectFirst(),
        {"selected": 0}, (Repaint(),)),
    Row("home with no token does nothing", a_state, inputs.SelectFirst(), {"selected": None}),
    Row("a token picked leaves the tree's node", lambda: a_state(drafts=3, tree_node=(0, 1)),
        inputs.SelectToken(1), {"selected": 1, "tree_node": None}, (Repaint(),)),
    Row("esc: live, and out of an earlier round",
        lambda: a_state(drafts=2, rounds=2, selected=1, viewed=0), inputs.Live(),
        {"selected": None, "viewed": None}, (Repaint(), ScrollToEnd())),
    Row("b before any round says so", a_state, inputs.ViewRound(-1), {"viewed": None},
        (Say("No round yet: nothing to step back to.", "warning"),)),
    Row("b in the first round says so", lambda: a_state(drafts=2), inputs.ViewRound(-1),
        {"viewed": None}, (Say("This is the first round.", "warning"),)),
    Row("b steps back a round", lambda: a_state(drafts=2, rounds=3), inputs.ViewRound(-1),
        {"viewed": 1}, (Repaint(),)),
    Row("b from a selected token drops it", lambda: a_state(drafts=2, rounds=3, selected=1),
        inputs.ViewRound(-1), {"viewed": 1, "selected": None},
        (Repaint(), ScrollToEnd(), Repaint())),
    Row("n past the latest round is live", lambda: a_state(drafts=2, rounds=2, viewed=0),
        inputs.ViewRound(1), {"viewed": None}, (Repaint(),)),
    Row("m writes the kinds into the text", a_state, inputs.ToggleMarks(),
        {"text_marks": True}, (Repaint(), Say(MARKS_ON))),
    Row("m again: by style", lambda: a_state(text_marks=True), inputs.ToggleMarks(),
        {"text_marks": False}, (Repaint(), Say(browsing.MARKS_OFF))),
    Row("a key moves the tree's cursor to a node", lambda: a_state(drafts=3, selected=1),
        inputs.NodeSelected(2, following=False), {"tree_node": (0, 2), "selected": None},
        (Repaint(),)),
    Row("the root has no check: the panels stay live", lambda: a_state(drafts=3),
        inputs.NodeSelected(-1, following=False), {"tree_node": None}, ()),
    Row("the walk moving the cursor is live", lambda: a_state(drafts=3, tree_node=(0, 2)),
        inputs.NodeSelected(2, following=True), {"tree_node": None}, (Repaint(),)),
    Row("no round on screen: the tree's cursor is ignored", a_state,
        inputs.NodeSelected(2, following=False), {"tree_node": None}, ()),
    # --- stepping -------------------------------------------------------------------------------
    Row("space asks for a step and the header says working", lambda: a_state(started=True),
        inputs.StepKey(), {"busy": True}, (RepaintHeader(), Step())),
    Row("space while busy: no second header", lambda: a_state(started=True, busy=True),
        inputs.StepKey(), {"busy": True}, (Step(),)),
    Row("space while loading queues the step", a_state, inputs.StepKey(), {"busy": True},
        (RepaintHeader(), Step())),
    Row("space at engine speed stops it", fast_forwarding, inputs.StepKey(), {"busy": True},
        (RepaintHeader(), SetFastForward(False), RepaintHeader())),
    Row("space once the decode ended says what is next", finished, inputs.StepKey(),
        {"busy": False}, (Say(ENDED, "warning"),)),
    Row("space after an error says how to retry", lambda: a_state(started=True, error="boom"),
        inputs.StepKey(), {"busy": False}, (Say(stepping.STOPPED_ON_ERROR, "warning"),)),
    Row("enter runs the round", lambda: a_state(started=True), inputs.FinishRoundKey(),
        {"busy": True}, (RepaintHeader(), FinishRound())),
    Row("p starts autoplay", lambda: a_state(started=True), inputs.TogglePlay(),
        {"busy": True}, (RepaintHeader(), SetPlaying(True), RepaintHeader())),
    Row("p stops it", playing, inputs.TogglePlay(), {"busy": True},
        (RepaintHeader(), SetPlaying(False), RepaintHeader())),
    Row("f starts engine speed", lambda: a_state(started=True), inputs.FastForwardKey(),
        {"busy": True}, (RepaintHeader(), SetFastForward(True), RepaintHeader())),
    Row("f once ended refuses", finished, inputs.FastForwardKey(), {},
        (Say(ENDED, "warning"),)),
    Row("+ is faster, whatever the phase", finished, inputs.Speed(1), {},
        (SetSpeed(4), RepaintHeader())),
    Row("B needs an earlier round on screen", lambda: a_state(drafts=2, started=True),
        inputs.BranchKey(), {"busy": False}, (Say(stepping.BRANCH_FIRST, "warning"),)),
    Row("B at round 1 pauses and rewinds to it",
        lambda: a_state(drafts=2, rounds=2, started=True, viewed=0), inputs.BranchKey(),
        {"busy": True}, (SetPlaying(False), RepaintHeader(), Branch(0, CONFIG))),
    # --- tuning (what the step control answers comes back as `Retuned`) ------------------------
    Row("t: the next policy, handed to the worker", a_state, inputs.TogglePolicy(),
        {"config": CONFIG.retuned(policy="sample")},
        (Retune(CONFIG.retuned(policy="sample"), "policy speculative-sampling"),)),
    Row("] drafts one more", a_state, inputs.Span(1),
        {"config": CONFIG.retuned(draft_span=CONFIG.draft_span + 1)},
        (Retune(CONFIG.retuned(draft_span=CONFIG.draft_span + 1), "draft span k 6"),)),
    Row("an invalid value is refused with the reason",
        lambda: a_state(config=CONFIG.retuned(draft_span=1)), inputs.Span(-1),
        {"config": CONFIG.retuned(draft_span=1)},
        (Say("Setting refused: draft span k must be an integer 1..64, got 0", "error"),)),
    Row("the control's round is said", a_state, inputs.Retuned("policy sample", 2), {},
        (Say("policy sample from round 3"), Repaint())),
    Row("no round left: a branch or restart uses it", a_state, inputs.Retuned("policy x", None),
        {}, (Say("policy x" + tuning.ENDED), Repaint())),
    Row("after an error: from the round a retry starts", lambda: a_state(error="boom"),
        inputs.Retuned("policy x", 4), {}, (Say("policy x from round 1"), Repaint())),
    Row("s opens the form on the settings", a_state, inputs.OpenSettings(), {},
        (Open(SettingsDialog(CONFIG)),)),
    Row("the form cancelled changes nothing", a_state, inputs.SettingsClosed(None),
        {"config": CONFIG}, ()),
    # --- saving ---------------------------------------------------------------------------------
    Row("w before the decode started says why not", a_state, inputs.SaveTrace(False), {},
        (Say("Trace not saved: nothing to save yet: the decode has not started", "error"),)),
    Row("a save's path is said", a_state,
        inputs.TraceWritten("t.jsonl", None, "2 rounds", "", download=False, on_exit=False), {},
        (Say("Trace saved: 2 rounds to t.jsonl"),)),
    Row("a download's name is said", a_state,
        inputs.TraceWritten("t.jsonl", None, "2 rounds", " (the decode goes on)", True, False),
        {}, (Say("Trace sent to the browser: 2 rounds as t.jsonl (the decode goes on)"),)),
    Row("a failed save says why", a_state,
        inputs.TraceWritten(None, "disk full", "", "", download=False, on_exit=False), {},
        (Say("Trace not saved: disk full", "error"),)),
    Row("a failed save on exit is kept for the command", a_state,
        inputs.TraceWritten(None, "disk full", "", "", download=False, on_exit=True),
        {"autosave_error": "disk full"}, ()),
    Row("y copies the prompt before any output", a_state, inputs.CopyOutput(), {},
        (Copy("Once"), Say("Copied the committed text: the prompt and 0 output tokens, "
                           "4 characters (no pending, rejected or discarded draft)"))),
    # --- the run, keys, other screens -----------------------------------------------------------
    Row("a key clears the status line and holds the worker", a_state,
        inputs.KeyPressed("space", sweep=False), {}, (HoldForKey(), ClearStatus())),
    Row("v without a sweep is refused, and why", a_state, inputs.KeyPressed("v", sweep=False),
        {}, (HoldForKey(), ClearStatus(),
             Say(f"Sweep (v): {NO_SWEEP}.", "warning"))),
    Row("v without a sweep says so", a_state, inputs.OpenSweep(None), {},
        (Say(sweeping.NO_SWEEP, "warning"),)),
    Row("a closed sweep view changes nothing", a_state, inputs.SweepRowChosen(None, None),
        {"config": CONFIG, "prompt": "Once", "run_id": 1}, ()),
    Row("e opens the editor on the prompt", a_state, inputs.EditPrompt(), {},
        (Open(PromptDialog("Once", ("Once", "Twice"))),)),
    Row("the editor cancelled changes nothing", a_state, inputs.PromptEdited(None),
        {"prompt": "Once"}, ()),
    Row("ctrl+r while the models load is refused", a_state, inputs.Restart(), {"run_id": 1},
        (Say("The models are still loading; restart once they are.", "warning"),)),
    Row("c while the models load is refused", a_state, inputs.Compare(), {},
        (Say("The models are still loading; compare once they are.", "warning"),)),
    Row("a worker that ended well leaves the screen idle", lambda: a_state(busy=True),
        inputs.WorkerEnded(failed=False), {"busy": False, "error": None}, (RepaintHeader(),)),
    Row("models that never loaded end the app", lambda: a_state(busy=True),
        inputs.WorkerEnded(failed=True, error=OSError("no model")),
        {"busy": False, "error": None}, (Exit(2), RepaintHeader())),
    Row("a later error is shown, and its keys", lambda: a_state(pair=object(), busy=True),
        inputs.WorkerEnded(failed=True, error=RuntimeError("late")),
        {"error": "RuntimeError: late (this looks like a bug in spectui)",
         "error_mendable": True, "busy": False},
        (SetPlaying(False), Bell(), RefreshKeys(), Repaint(), RepaintHeader())),
    Row("no key mends a missing chat template", lambda: a_state(pair=object()),
        inputs.WorkerEnded(failed=True, error=ChatTemplateError("no template")),
        {"error": "no template", "error_mendable": False},
        (SetPlaying(False), Bell(), RefreshKeys(), Repaint())),
    # --- the worker's messages ------------------------------------------------------------------
    Row("a stale run's message is dropped", a_state, lambda: messages.LoadProgress(0, "x"),
        {"load_status": "starting…"}, ()),
    Row("loading progress is kept", a_state, lambda: messages.LoadProgress(1, "verifier"),
        {"load_status": "verifier"}, (RepaintSoon(0),)),
    Row("the worker caught up: idle", lambda: a_state(busy=True),
        lambda: messages.EngineWaiting(1, served=0), {"busy": False},
        (RepaintSoon(0), RepaintHeader())),
    Row("caught up with an older request: still busy", lambda: a_state(busy=True),
        lambda: messages.EngineWaiting(1, served=5), {"busy": True}, (RepaintSoon(0),)),
    Row("a round's drafts fold into the view", lambda: a_state(started=True),
        lambda: messages.DecodeEvent(1, RoundDrafted(0, (5, 6), (0.5, 0.5), CONFIG),
                                     {5: " a", 6: " b"}),
        {}, (RepaintSoon(1),)),
    Row("a batch is taken off the queue", lambda: a_state(started=True),
        lambda: messages.DecodeBatch(1, []), {}, (Received(), RepaintSoon(0))),
]
# fmt: on


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_transition(row: Row) -> None:
    start = row.start()
    given = row.given() if callable(row.given) else row.given
    state, effects = reduce(start, given)  # type: ignore[arg-type]
    assert effects == row.effects
    for name, value in row.fields.items():
        assert getattr(state, name) == value, name
    if not row.fields and not effects:
        assert state == start


def test_a_transition_returns_a_new_state_and_leaves_the_old_one() -> None:
    start = a_state(drafts=3)
    state, _ = reduce(start, inputs.Select(-1))
    assert (start.selected, state.selected) == (None, 2)


# --- the transitions whose effects hold the run's own objects -----------------------------------


def test_mounting_starts_the_first_run_with_a_fresh_control() -> None:
    start = a_state()
    state, effects = reduce(start, inputs.Mounted())
    assert state.run_id == 2 and state.busy and state.control is not start.control
    worker = effects[-3]
    assert isinstance(worker, StartWorker)
    order = worker.order
    assert (order.run, order.control, order.config, order.prompt) == (
        2,
        state.control,
        CONFIG,
        "Once",
    )
    assert order.pair is None and order.resumed is None and order.resume_at is None
    assert effects == (
        EndRun(start.control),
        ForgetRun(),
        RepaintHeader(),
        worker,
        RefreshKeys(),
        Repaint(),
    )


def test_a_restart_keeps_the_speed_and_leaves_live_selection() -> None:
    start = a_state(drafts=2, started=True, pair=object(), selected=1)
    start.control.set_speed(1)
    state, effects = reduce(start, inputs.Restart())
    assert state.control.speed == 1 and state.event_log is None and state.selected is None
    assert state.decode.version == 0 and state.decode.prompt == "Once"
    assert effects[:3] == (ClearStatus(), EndRun(start.control), ForgetRun())
    assert effects[3:5] == (Repaint(), ScrollToEnd())


def test_a_new_prompt_restarts_on_it() -> None:
    start = a_state(started=True, pair=object())
    state, effects = reduce(start, inputs.PromptEdited("Twice"))
    assert state.prompt == "Twice" and state.run_id == 2
    worker = next(e for e in effects if isinstance(e, StartWorker))
    assert worker.order.prompt == "Twice"


def test_a_sweep_row_while_the_models_load_retunes_the_decode_starting() -> None:
    sweep = _a_sweep()
    chosen = CONFIG.retuned(draft_span=2)
    state, effects = reduce(a_state(), inputs.SweepRowChosen(sweep, chosen))
    assert state.config == chosen and state.prompt == "P" and state.run_id == 1
    assert effects == (Retune(chosen), Say("Sweep setting: decoding k2"))


def test_unmounting_stops_the_run_and_saves_to_the_trace_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    start = a_state(started=True, trace_path=path)
    state, effects = reduce(start, inputs.Unmounted())
    assert state == start
    assert effects == (
        EndRun(start.control),
        StopSession(),
        WriteTrace(path, start.event_log, "", "", on_exit=True),  # type: ignore[arg-type]
    )


def test_w_writes_the_log_and_says_the_decode_goes_on(tmp_path: Path) -> None:
    start = a_state(started=True, trace_path=tmp_path / "t.jsonl")
    _, effects = reduce(start, inputs.SaveTrace(in_browser=False))
    log = start.event_log
    assert log is not None
    assert effects == (WriteTrace(tmp_path / "t.jsonl", log, "0 rounds", " (the decode goes on)"),)
    _, effects = reduce(start, inputs.SaveTrace(in_browser=True))
    assert effects == (WriteTrace(None, log, "0 rounds", " (the decode goes on)", download=True),)


def test_the_decode_ending_saves_to_the_trace_file(tmp_path: Path) -> None:
    start = a_state(drafts=1, started=True, trace_path=tmp_path / "t.jsonl")
    done = DecodeFinished(FinishReason.MAX_TOKENS, (1,), (), STATS)
    state, effects = reduce(start, messages.DecodeEvent(1, done, {}))
    assert state.phase == "finished"
    assert effects == (
        RepaintSoon(1),
        RefreshKeys(),
        Repaint(),
        WriteTrace(tmp_path / "t.jsonl", start.event_log, "0 rounds", ""),  # type: ignore[arg-type]
    )


def test_a_stale_runs_models_are_kept_but_nothing_else_of_it() -> None:
    pair: Any = object()
    start = a_state()
    state, effects = reduce(start, messages.ModelsReady(0, pair, "stale", 1.0))
    assert state.pair is pair and state.models == "" and effects == ()


def test_unmounting_with_nothing_decoded_saves_nothing(tmp_path: Path) -> None:
    start = a_state(trace_path=tmp_path / "t.jsonl")
    _, effects = reduce(start, inputs.Unmounted())
    assert effects == (EndRun(start.control), StopSession())


def test_a_decode_started_begins_the_log() -> None:
    log = a_log()
    source = object()
    start = a_state()
    state, effects = reduce(start, messages.DecodeStarted(1, log.header, source))  # type: ignore[arg-type]
    assert state.phase == "ready" and state.source is source and state.event_log is not None
    assert effects == (RepaintSoon(0), RefreshKeys(), Repaint())


def test_modes_the_reducer_reads_come_from_the_control() -> None:
    """The control owns the worker's mode; the state has no copy of it."""
    assert fast_forwarding().control.mode == EngineSpeed(fast_forward=True)
    assert a_state().control.mode == Paused()
    assert not hasattr(ScreenState, "mode") and isinstance(a_state().control, StepControl)


def _a_sweep() -> Any:
    """A stand-in for a finished sweep: its first prompt "P", and one row, "k2" (span 2)."""
    row = SimpleNamespace(label="k2")
    return SimpleNamespace(
        header=SimpleNamespace(prompts=("P",)),
        rows=(row,),
        config_of=lambda given: CONFIG.retuned(draft_span=2) if given is row else None,
    )


# --- the view model: what the widgets read, from the state and the terminal's size ---------------


def test_the_header_names_the_policy_the_round_and_what_the_worker_does() -> None:
    state = a_state(drafts=2, rounds=2, started=True)
    assert ScreenView(state, 80, 24).header == "soft-guarded · k=5 · round 2 · ⏸ paused · 4 steps/s"
    busy = replace(state, busy=True, viewed=0)
    assert "◀ round 1/2 · B branch" in ScreenView(busy, 80, 24).header
    assert ScreenView(busy, 80, 24).header.endswith("⏸ paused · 4 steps/s · working")
    assert ScreenView(a_state(), 80, 24).doing == "loading models"


def test_a_narrow_screen_gives_the_gates_place_to_a_picked_token() -> None:
    live, picked = a_state(drafts=3, started=True), a_state(drafts=3, started=True, selected=1)
    assert ScreenView(live, 80, 40).layout == Layout(False, True, True, False, None, None)
    assert ScreenView(picked, 80, 40).layout == Layout(True, False, False, False, None, None)
    assert ScreenView(picked, 160, 40).layout == Layout(True, True, True, False, None, None)
    assert ScreenView(live, 80, 20).layout.stats is False  # short: the stats give way


def test_the_detail_shows_the_picked_token_else_the_latest_check() -> None:
    state = a_state(drafts=3, started=True, selected=5)  # past the end: the last one
    view = ScreenView(state, 160, 40)
    assert view.selected == 2 and view.detail.piece is view.pieces[2]
    assert not view.detail.live and view.highlight == view.pieces[2].position
    live = ScreenView(replace(state, selected=None), 160, 40)
    assert live.detail.live and live.detail.piece is None  # nothing checked yet
    assert live.gates.hint == "press space to draft one (f: fast-forward the whole decode)"


def test_the_error_panel_offers_the_keys_that_get_past_it() -> None:
    state = a_state(started=True, error="boom")
    assert ScreenView(state, 80, 24).error == "boom\n\nctrl+r retry · e edit the prompt · q quit"
    stuck = replace(state, error_mendable=False)
    assert ScreenView(stuck, 80, 24).error == (
        "boom\n\nq quit: no key here changes the models or the options (see above)"
    )
    assert ScreenView(a_state(), 80, 24).error is None


def test_the_help_lists_the_keys_this_session_offers() -> None:
    _, effects = reduce(a_state(), inputs.Help(sweep=False, in_browser=False))
    (opened,) = effects
    assert isinstance(opened, Open) and isinstance(opened.dialog, HelpDialog)
    actions = {b.action for b in opened.dialog.offered if isinstance(b, Binding)}
    assert "step" in actions and "sweep" not in actions  # no sweep was opened
    _, effects = reduce(a_state(), inputs.Help(sweep=True, in_browser=False))
    (opened,) = effects
    assert isinstance(opened, Open) and isinstance(opened.dialog, HelpDialog)
    assert "sweep" in {b.action for b in opened.dialog.offered if isinstance(b, Binding)}
