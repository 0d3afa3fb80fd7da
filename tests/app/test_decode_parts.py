"""The decode screen's parts, each alone: a `ScreenState` and a surface that records, no app.

The screen composes them (app/screens/decode.py); the pilot and snapshot tests cover the
whole. Here each part's rules are checked without a terminal, a worker or a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spectui.app import messages
from spectui.app.decode_view import DecodeView
from spectui.app.screens.browsing import Browsing
from spectui.app.screens.receiving import Receiving
from spectui.app.screens.saving import Saving
from spectui.app.screens.screen_state import ScreenState
from spectui.app.screens.stepping import Stepping
from spectui.app.screens.sweeping import Sweeping
from spectui.app.screens.tuning import Tuning
from spectui.app.sessions import LiveSession
from spectui.engine.config import DecodeConfig


class Recorder:
    """A `Surface` that notes what it was asked (screen_state.Surface)."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []
        self.calls: list[tuple[str, Any]] = []

    def say(self, text: str, severity: str = "information") -> None:
        self.said.append((text, severity))

    def refresh_view(self, force: bool = False) -> None:
        self.calls.append(("refresh_view", force))

    def refresh_header(self) -> None:
        self.calls.append(("refresh_header", None))

    def redraw_soon(self, counted: int) -> None:
        self.calls.append(("redraw_soon", counted))

    def selection_changed(self, selected: int | None) -> None:
        self.calls.append(("selection_changed", selected))

    def state_changed(self) -> None:
        self.calls.append(("state_changed", None))

    def last_words(self) -> str:
        return self.said[-1][0]


def a_state(drafts: int = 0) -> ScreenState:
    """A state with one round of `drafts` pending draft tokens (none: before the first)."""
    config = DecodeConfig()
    state = ScreenState(LiveSession(), config, "Once", ["Once"])
    if drafts:
        state.decode = DecodeView(prompt="Once")
        texts = tuple(f" t{n}" for n in range(drafts))
        state.decode.round_drafted(0, texts, (0.5,) * drafts, config)
    return state


def started(state: ScreenState) -> ScreenState:
    """The state once a run has begun and its decode started (phase ready)."""
    state.begin_run()
    state.event_log = object()  # type: ignore[assignment]  # phase reads only that it is set
    return state


# --- ScreenState ------------------------------------------------------------------------------


def test_the_phase_follows_the_run() -> None:
    state = a_state()
    assert state.phase == "loading" and not state.loaded and state.loading_models()
    order = state.begin_run()
    assert order.run == state.run_id == 1 and order.pair is None and order.resumed is None
    assert order.control is state.control and order.config is state.config
    state.event_log = object()  # type: ignore[assignment]
    assert state.phase == "ready"
    state.error = "boom"
    assert state.phase == "error" and state.offers("step", sweep=False) is None


def test_a_failure_before_the_models_loaded_ends_the_app_and_after_it_is_shown() -> None:
    state = a_state()
    failure = OSError("no such model")
    assert state.fail(failure) is False and state.load_failure is failure
    assert state.error is None
    state.pair = object()  # type: ignore[assignment]  # as ModelsReady hands it over
    assert state.fail(RuntimeError("late")) is True
    assert state.error == "RuntimeError: late (this looks like a bug in spectui)"


def test_a_new_run_keeps_the_speed_and_a_retry_its_rounds_settings() -> None:
    state = started(a_state())
    state.control.set_speed(1)
    state.config = state.config.retuned(draft_span=3)
    order = state.begin_run(resume_at=2)
    assert order.control.speed == 1 and order.resume_at == 2
    assert order.control.take_settings() == state.config  # the retry goes on with ours


def test_busy_reports_a_change_and_the_settled_event_follows() -> None:
    state = a_state()
    assert state.set_busy(True) and not state.settled.is_set()
    assert not state.set_busy(True)
    assert state.set_busy(False) and state.settled.is_set()


# --- Browsing ---------------------------------------------------------------------------------


def test_arrows_select_from_the_end_and_past_it_go_back_to_live() -> None:
    state, surface = a_state(drafts=3), Recorder()
    browsing = Browsing(state, surface)
    browsing.select(-1)
    assert state.selected == 2
    browsing.select(1)
    assert state.selected is None
    browsing.select_first()
    browsing.select_first()  # no change: the panels are not told twice
    assert state.selected == 0
    assert [c for c in surface.calls if c[0] == "selection_changed"] == [
        ("selection_changed", 2),
        ("selection_changed", None),
        ("selection_changed", 0),
    ]


def test_rounds_are_stepped_through_and_the_first_one_says_so() -> None:
    state, surface = a_state(), Recorder()
    browsing = Browsing(state, surface)
    browsing.view_round(-1)
    assert surface.said == [("No round yet: nothing to step back to.", "warning")]
    state.decode = a_state(drafts=2).decode
    browsing.view_round(-1)
    assert surface.last_words() == "This is the first round." and state.viewed is None
    state.viewed = 0
    browsing.live()
    assert state.viewed is None and state.selected is None


def test_text_marks_are_toggled_and_named() -> None:
    state, surface = a_state(), Recorder()
    Browsing(state, surface).toggle_marks()
    assert state.text_marks and surface.last_words().startswith("Text marks on")
    assert surface.calls == [("refresh_view", False)]


# --- Stepping ---------------------------------------------------------------------------------


def test_a_step_is_a_request_of_the_worker_and_the_screen_is_busy_until_it_is_served() -> None:
    state, surface = started(a_state()), Recorder()
    stepping = Stepping(state, surface)
    before = state.control.requests
    stepping.step()
    assert state.control.requests == before + 1 and state.busy
    stepping.speed(+1)
    assert state.control.speed == 4


def test_no_step_after_an_error_or_past_the_end_and_the_status_line_says_why() -> None:
    state, surface = started(a_state()), Recorder()
    stepping = Stepping(state, surface)
    state.error = "boom"
    stepping.finish_round()
    assert surface.last_words().startswith("The engine stopped on an error")
    state.error = None
    state.decode.finish_reason = object()  # type: ignore[assignment]
    stepping.toggle_play()
    assert surface.last_words() == state.ended_words() and not state.playing


def test_a_branch_needs_an_earlier_round_in_view() -> None:
    state, surface = started(a_state()), Recorder()
    Stepping(state, surface).branch()
    assert surface.said == [("Step back to a round first (b), then branch there.", "warning")]
    state.viewed = 0
    Stepping(state, surface).branch()
    assert state.control.branch_pending and state.busy


# --- Tuning -----------------------------------------------------------------------------------


def test_a_retune_is_kept_in_the_state_and_handed_to_the_worker() -> None:
    state, surface = started(a_state()), Recorder()
    tuning = Tuning(state, surface)
    tuning.span(+1)
    assert state.config.draft_span == DecodeConfig().draft_span + 1
    assert surface.last_words() == f"draft span k {state.config.draft_span} from round 1"
    assert state.control.take_settings() == state.config


def test_a_refused_value_leaves_the_settings_as_they_were() -> None:
    state, surface = started(a_state()), Recorder()
    before = state.config
    assert Tuning(state, surface).retune(p_thresh=2.0) is False
    assert state.config == before and state.control.take_settings() is None
    assert surface.said[-1][1] == "error" and "Setting refused" in surface.last_words()


# --- Saving and sweeping ----------------------------------------------------------------------


def test_nothing_is_saved_before_the_decode_starts(tmp_path: Path) -> None:
    state, surface = a_state(), Recorder()
    saving = Saving(state, surface)
    assert saving.save_trace(tmp_path / "t.jsonl") is None
    assert surface.said == [
        ("Trace not saved: nothing to save yet: the decode has not started", "error")
    ]
    state.trace_path = tmp_path / "t.jsonl"
    saving.save_on_exit()
    assert not state.trace_path.exists() and state.autosave_error is None


def test_a_closed_sweep_view_changes_nothing() -> None:
    state, surface = a_state(), Recorder()
    starts: list[None] = []
    Sweeping(state, surface, lambda: starts.append(None)).open_setting(None, None)
    assert starts == [] and surface.said == []


# --- Receiving --------------------------------------------------------------------------------


def test_messages_of_a_replaced_run_are_dropped_but_a_loaded_pair_is_kept() -> None:
    state, surface = started(a_state()), Recorder()
    receiving = Receiving(state, surface, Browsing(state, surface), Saving(state, surface))
    pair: Any = object()
    receiving.receive(messages.ModelsReady(state.run_id - 1, pair, "stale", 1.0))
    assert state.pair is pair and state.models == ""
    receiving.receive(messages.LoadProgress(state.run_id, "reading weights"))
    assert state.load_status == "reading weights"
    assert surface.calls == [("redraw_soon", 0)]


def test_the_screen_is_no_longer_busy_once_the_worker_served_every_request() -> None:
    state, surface = started(a_state()), Recorder()
    receiving = Receiving(state, surface, Browsing(state, surface), Saving(state, surface))
    Stepping(state, surface).step()
    receiving.receive(messages.EngineWaiting(state.run_id, served=state.control.requests - 1))
    assert state.busy
    receiving.receive(messages.EngineWaiting(state.run_id, served=state.control.requests))
    assert not state.busy and state.settled.is_set()
