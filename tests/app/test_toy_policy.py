"""Adding a policy is one record and its looks: a toy one, defined here, decides a decode
everywhere.

`top-2` accepts a draft token iff it is among the verifier's two most likely tokens. Its rule
(an engine `Policy`) and its looks (the app's `PolicyLooks`) are registered from this file
alone and must then decide the engine's decode, appear in the JSON `spectui run` writes, in
the gate panel (its gate and its verdict column) and in the settings form, with no other
module changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_helpers import plain, press, settle
from textual.widgets import Input, Label, Select, Static

from spectui.app.looks.catalog import register_looks, unregister_looks
from spectui.app.looks.library import DEFAULT_COLUMNS
from spectui.app.looks.records import GateLooks, PolicyLooks
from spectui.app.screens.settings import SettingsScreen
from spectui.app.widgets import GatePanel
from spectui.cli import main
from spectui.engine import ConfigError, DecodeConfig, SpeculativeDecoder
from spectui.engine.events import RoundFinished, TokenOrigin
from spectui.engine.knobs import Knob, OwnKnob
from spectui.engine.policy.library import verifier_argmax
from spectui.engine.policy.records import Gate, Policy
from spectui.engine.policy.registry import register_policy, unregister_policy
from spectui.engine.trace.reader import read_trace

TOP_TWO = Policy(
    name="top2",
    label="top-2",
    parameters=(),
    gates=(Gate("top2", lambda judged: judged.measures.rank <= 2),),
    accept=lambda judged, gates: gates["top2"],
    correction=verifier_argmax,
    next_token=lambda scored, position, generator: scored.top1(position),
)
TOP_TWO_LOOKS = PolicyLooks(
    short="top2",
    summary="accept iff the draft token is one of the verifier's two most likely",
    columns=DEFAULT_COLUMNS,
    gates=(GateLooks("top2", "2", lambda config: "rank≤2"),),
)


@pytest.fixture(autouse=True)
def top_two() -> Iterator[Policy]:
    register_policy(TOP_TWO)
    register_looks(TOP_TWO.name, TOP_TWO_LOOKS)
    yield TOP_TWO
    unregister_looks(TOP_TWO.name)
    unregister_policy(TOP_TWO.name)


def test_the_toy_policy_decides_a_decode(tiny_loaded: Any) -> None:
    config = DecodeConfig(
        drafter=tiny_loaded.drafter_id,
        verifier=tiny_loaded.verifier_id,
        policy="top2",
        max_new_tokens=40,
    )
    decoder = SpeculativeDecoder(tiny_loaded, config, "Once upon a time,")
    rounds = [event for event in decoder.events() if isinstance(event, RoundFinished)]
    checks = [check for event in rounds for check in event.checks]
    assert any(check.accepted for check in checks) and any(not c.accepted for c in checks)
    for event in rounds:
        for check, token, origin in zip(
            event.checks, event.appended_ids, event.origins, strict=False
        ):
            assert check.policy == "top2" and check.gates["top2"] == (check.rank <= 2)
            assert check.accepted == (check.rank <= 2) == check.verdicts["top2"]
            if check.accepted:
                assert (token, origin) == (check.token_id, TokenOrigin.DRAFT)
            else:  # its correction is the verifier's argmax, as the record says
                assert (token, origin) == (check.top1_id, TokenOrigin.CORRECTION)


def test_the_toy_policy_is_in_the_run_commands_json(tiny_pair: Any, capsys: Any) -> None:
    argv = ["run", "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier]
    status = main([*argv, "--policy", "top2", "--max-new-tokens", "12", "--json"])
    assert status == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rounds = [line for line in lines if line["event"] == "round"]
    assert rounds and all(line["policy"] == "top2" for line in rounds)
    for check in rounds[0]["checks"]:
        assert check["policy"] == "top2" and "top2" in check["verdicts"]
        assert check["gates"]["top2"] == (check["rank"] <= 2) == check["accepted"]
    assert lines[-1]["event"] == "done" and lines[-1]["policy"] == "top2"


async def test_the_toy_policy_shows_in_the_gate_panel_and_the_settings(make_app: Any) -> None:
    async with make_app(policy="top2").run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter")
        panel = screen.query_one(GatePanel)
        assert "top-2" in str(panel.border_title) and "rank≤2" in str(panel.border_subtitle)
        header = plain(panel, 120).splitlines()[0]
        # Its own gate (2) and verdict stay; at this width the others' gates gave way.
        assert "▸top2" in header and "Δ 2 " in header and "t k m n" not in header
        await press(pilot, "s")
        settings = pilot.app.screen
        assert isinstance(settings, SettingsScreen)
        select = settings.query_one("#policy", Select)
        assert select.value == "top2"
        assert ("top-2", "top2") in [(str(label), value) for label, value in select._options]


# A policy with a threshold of its own, which no DecodeConfig field holds: it declares the knob
# in its record, and the CLI, the settings form, the help, the gate panel and traces offer it.
FLOOR = OwnKnob(
    "toy_floor",
    0.02,
    Knob(
        "floored: the draft token's p >= this",
        label="toy floor",
        tunable=True,
        low=0.0,
        high=1.0,
    ),
)
FLOOR_GATE = Gate(
    "toy_floor", lambda judged: judged.measures.p >= judged.config.setting("toy_floor")
)
FLOORED = Policy(
    name="floored",
    label="floored",
    parameters=(),
    knobs=(FLOOR,),
    gates=(FLOOR_GATE,),
    accept=lambda judged, gates: gates["toy_floor"],
    correction=verifier_argmax,
    next_token=verifier_argmax,
)
FLOORED_LOOKS = PolicyLooks(
    short="flr",
    summary="accept iff p ≥ its own floor (--toy-floor)",
    columns=DEFAULT_COLUMNS,
    gates=(GateLooks("toy_floor", "f", lambda config: f"p≥{config.setting('toy_floor'):g} floor"),),
)


@pytest.fixture
def floored() -> Iterator[Policy]:
    register_policy(FLOORED)
    register_looks(FLOORED.name, FLOORED_LOOKS)
    yield FLOORED
    unregister_looks(FLOORED.name)
    unregister_policy(FLOORED.name)


def test_a_policys_own_threshold_is_an_option_and_is_kept_in_the_trace(
    floored: Policy, tiny_pair: Any, capsys: Any, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--toy-floor" in capsys.readouterr().out
    trace = tmp_path / "floored.jsonl"
    argv = ["run", "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier]
    argv += ["--policy", "floored", "--toy-floor", "0.3", "--max-new-tokens", "12"]
    argv += ["--prompt", "Once upon a time,"]
    assert main([*argv, "--json", "--trace", str(trace)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rounds = [line for line in lines if line["event"] == "round"]
    assert rounds and all(line["settings"]["toy_floor"] == 0.3 for line in rounds)
    for check in rounds[0]["checks"]:
        assert check["gates"]["toy_floor"] == (check["p"] >= 0.3) == check["accepted"]
    replayed = read_trace(trace)
    assert replayed.header.config.setting("toy_floor") == 0.3
    assert replayed.rounds and all(r.config.setting("toy_floor") == 0.3 for r in replayed.rounds)
    with pytest.raises(ConfigError, match="toy floor must be a number 0..1"):
        DecodeConfig(policy="floored").retuned(toy_floor=2.0)


async def test_a_policys_own_threshold_is_in_the_settings_help_and_gate_panel(
    floored: Policy, make_app: Any
) -> None:
    async with make_app(policy="floored").run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter")
        panel = screen.query_one(GatePanel)
        assert "p≥0.02 floor" in str(panel.border_subtitle)
        await press(pilot, "s")
        settings = pilot.app.screen
        assert isinstance(settings, SettingsScreen)
        assert "toy floor" in " ".join(plain(w, 120) for w in settings.query(Label))
        field = settings.query_one("#toy_floor", Input)
        field.value = "0.5"
        await press(pilot, "ctrl+s")
        assert screen.state.config.setting("toy_floor") == 0.5
        await press(pilot, "question_mark")
        help_text = " ".join(plain(w, 120) for w in pilot.app.screen.query(Static))
        assert "floored" in help_text and "--toy-floor" in help_text
