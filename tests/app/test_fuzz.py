"""Key fuzzing: thousands of seeded random key presses in every state, invariants after each batch.

Keys come from the app's own bindings (read at run time, so new keys are fuzzed too) plus junk:
letters, digits, arrows, escape, enter, tab. Every state is visited: loading (keys pressed
before the models are ready), idle, mid-round, autoplay, and the settings, help and prompt
modals (where the same keys type into inputs, pick options and apply values).

After each batch the test pauses autoplay, waits for the worker to catch up, and checks that
the stream shown is the decode of the engine's own tokens, that the statistics add up, that
each round ran under one configuration, and that nothing raised.

SPECTUI_FUZZ_PRESSES and SPECTUI_FUZZ_SEED run a longer or different fuzz (the default fits
the suite's time budget).
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PROMPT, Recorder, screen_of, send_key

import spectui.app.screens.decode.screen as decode_screen_module
import spectui.engine.decode as engine_decode
from spectui.app.screens.decode import DecodeScreen
from spectui.app.widgets import StatusLine
from spectui.engine import events

SEED = int(os.environ.get("SPECTUI_FUZZ_SEED", "20261129"))
N_PRESSES = int(os.environ.get("SPECTUI_FUZZ_PRESSES", "1200"))
BATCH = 40
# Keys that end the app (fuzzing them would end the test) or open the command palette (whose
# fuzzy search plus enter can run "Quit"); quitting has its own tests.
UNFUZZED_ACTIONS = {"quit", "app.quit", "command_palette", "app.command_palette"}
UNFUZZED_KEYS = {"q", "ctrl+q", "ctrl+c", "ctrl+p"}
JUNK_KEYS = [
    *"abcdefghijklmnoprstuvwxyz0123456789",
    "up",
    "down",
    "left",
    "right",
    "escape",
    "enter",
    "tab",
    "shift+tab",
    "backspace",
    "delete",
    "home",
    "end",
    "pageup",
    "pagedown",
    "space",
    "full_stop",
    "minus",
    "ctrl+s",
    "f1",
]
# Refusals of what a key asked for, not faults: a value out of range, saving before a decode.
EXPECTED_ERRORS = ("Setting refused: ", "Trace not saved: nothing to save yet")

PRESSES = Counter[str]()  # reported by the test (pytest -s shows it)


class RecordingDecoder(engine_decode.SpeculativeDecoder):
    """The engine, remembering itself by run and every round's configuration and checks."""

    by_run: dict[int, RecordingDecoder] = {}
    local = threading.local()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rounds: list[dict[str, Any]] = []
        RecordingDecoder.by_run[RecordingDecoder.local.run] = self

    def rewind(self, round_index: int) -> events.RoundRewound:
        """A branch: the rounds from `round_index` on never happened."""
        rewound = super().rewind(round_index)
        del self.rounds[round_index:]
        return rewound

    def events(self):  # type: ignore[no-untyped-def]
        for event in super().events():
            if isinstance(event, events.RoundDrafted):
                self.rounds.append({"config": event.config, "checks": [], "finished": None})
            elif isinstance(event, events.TokenChecked):
                self.rounds[-1]["checks"].append(event.check)
            elif isinstance(event, events.RoundFinished):
                self.rounds[-1]["finished"] = event
            yield event


def fuzz_keys(app: Any) -> list[str]:
    """The app's bound keys (screen and app level) plus junk, minus the quitting ones."""
    bound = {
        key.strip()
        for binding in DecodeScreen.BINDINGS
        if not isinstance(binding, tuple) and binding.action not in UNFUZZED_ACTIONS  # type: ignore[union-attr]
        for key in binding.key.split(",")  # type: ignore[union-attr]
    }
    bound |= {
        key
        for key, active in app.active_bindings.items()
        if active.binding.action not in UNFUZZED_ACTIONS
    }
    bound -= UNFUZZED_KEYS
    assert {"space", "enter", "p", "t", "s", "e", "ctrl+r", "question_mark"} <= bound
    # Bound keys three times as likely as junk: the app's states are reached through them.
    return sorted(bound) * 3 + [key for key in JUNK_KEYS if key not in UNFUZZED_KEYS]


def live_rounds(recorder: Recorder, run_id: int) -> list[events.RoundFinished]:
    """The run's finished rounds, less those a branch (RoundRewound) took back."""
    rounds: list[events.RoundFinished] = []
    for message in recorder.decode_events(run_id):
        event = message.event
        if isinstance(event, events.RoundFinished):
            rounds.append(event)
        elif isinstance(event, events.RoundRewound):
            rounds = [r for r in rounds if r.round_index < event.round_index]
    return rounds


def check_invariants(screen: DecodeScreen, recorder: Recorder, app: Any) -> None:
    """What must hold whenever the worker has caught up."""
    # return_code stays None while the app runs; an unhandled exception sets it to 1 at once.
    assert app.return_code is None
    assert screen.state.error is None or "bug" not in screen.state.error, screen.state.error
    bad_notes = [
        said
        for said in recorder.of(StatusLine.Said)
        if said.severity == "error" and not said.text.startswith(EXPECTED_ERRORS)
    ]
    assert not bad_notes, bad_notes
    decoder = RecordingDecoder.by_run.get(screen.state.run_id)
    if screen.state.phase == "error" or decoder is None:
        assert screen.state.decode.round is None
        return
    view = screen.state.decode
    output = view.history + (view.round.appended if view.round is not None else [])
    shown = "".join(piece.text for piece in output)
    full = decoder.pair.tokenizer.decode(list(decoder.output_ids), skip_special_tokens=False)
    assert len(output) == len(decoder.output_ids)
    # A trailing partial character is held back until the token that completes it.
    assert shown == full or (full.endswith("\ufffd") and full.startswith(shown)), (shown, full)
    finished = live_rounds(recorder, screen.state.run_id)  # the UI's rounds ...
    assert (
        len(finished) == decoder.tally.rounds == len([r for r in decoder.rounds if r["finished"]])
    )
    if view.stats is not None:
        stats = view.stats
        assert stats.rounds == len(finished)
        assert 0 <= stats.accepted <= stats.drafted
        assert stats.accepted == sum(m.n_accepted for m in finished)
        if view.round is None or view.round.finished:  # mid-round the stats are the last round's
            assert stats.new_tokens == len(decoder.output_ids)
    if view.round is not None and decoder.rounds:  # the UI shows the round the engine runs
        assert view.round.config == decoder.rounds[view.round.index]["config"]
    for record in decoder.rounds:  # ... each under one configuration, start to end
        config = record["config"]
        done = record["finished"]
        if done is not None:
            assert done.config is config
            assert len(done.draft_ids) <= config.draft_span
            assert done.n_accepted <= len(done.draft_ids)
        for check in record["checks"]:
            assert check.policy == config.policy
            if config.policy != "sample":
                assert check.gates["p_thresh"] == (check.p >= config.p_thresh)
                assert check.gates["topk"] == (check.rank <= config.topk_gate)


@pytest.mark.slow
async def test_thousands_of_random_keys_in_every_state(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    RecordingDecoder.by_run.clear()
    monkeypatch.chdir(tmp_path)  # the save-trace key writes to the current directory
    monkeypatch.setattr(engine_decode, "SpeculativeDecoder", RecordingDecoder)
    real_drive = decode_screen_module.drive

    def drive(post: Any, control: Any, run_id: int, *args: Any, **kwargs: Any) -> None:
        RecordingDecoder.local.run = run_id
        real_drive(post, control, run_id, *args, **kwargs)

    monkeypatch.setattr(decode_screen_module, "drive", drive)
    recorder = Recorder()
    rng = random.Random(SEED)
    states = Counter[str]()

    app = make_app(max_new_tokens=48)
    async with app.run_test(message_hook=recorder, notifications=True) as pilot:
        screen = screen_of(pilot)
        keys = fuzz_keys(pilot.app)
        pressed = 0
        while pressed < N_PRESSES:
            batch = [rng.choice(keys) for _ in range(BATCH)]
            for key in batch:
                states[_state(pilot.app, screen)] += 1
                send_key(pilot.app, key)
                PRESSES[key] += 1
                # Mostly let each key be handled before the next; sometimes mash.
                await asyncio.sleep(rng.choice((0, 0.001, 0.002, 0.005)))
            await pilot.pause()
            pressed += len(batch)
            was_playing = screen.state.playing
            if screen.state.playing:  # autoplay never settles: pause it to look
                screen.action_toggle_play()
            await screen.settled(timeout=60)
            await pilot.pause()
            check_invariants(screen, recorder, pilot.app)
            if screen.state.phase == "error":  # a typed prompt too long: start over
                screen.state = replace(screen.state, prompt=PROMPT)
                screen.action_restart()
            elif was_playing and rng.random() < 0.7:
                screen.action_toggle_play()  # keep autoplay going into the next batch
        assert pilot.app.is_running

    total = sum(PRESSES.values())
    print(f"\nfuzzed {total} key presses; states: {dict(states)}")
    assert total >= N_PRESSES
    # Every state was visited while keys were pressed.
    for state in ("loading", "idle", "mid-round", "autoplay", "settings", "help", "prompt"):
        assert states[state] > 0, (state, states)


def _state(app: Any, screen: DecodeScreen) -> str:
    top = app.screen
    if top is not screen:
        return {"SettingsScreen": "settings", "HelpScreen": "help", "PromptScreen": "prompt"}.get(
            type(top).__name__, type(top).__name__
        )
    if screen.state.phase == "loading":
        return "loading"
    if screen.state.playing:
        return "autoplay"
    current = screen.state.decode.round
    if current is not None and not current.finished:
        return "mid-round"
    return "idle" if screen.state.phase == "ready" else screen.state.phase
