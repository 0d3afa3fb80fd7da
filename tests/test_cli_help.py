"""Each command's --help states its own defaults (not the engine's, where they differ)."""

from __future__ import annotations

import re

import pytest
from tiny_models import TinyPair

from spectui.cli import main
from spectui.models import BUNDLED_DRAFTER


def pair_args(pair: TinyPair) -> list[str]:
    return ["--drafter", pair.drafter, "--verifier", pair.verifier]


def max_new_tokens_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    found = re.search(r"--max-new-tokens MAX_NEW_TOKENS (.*?\))", out)
    assert found is not None, out
    return found[1]


@pytest.mark.parametrize(
    ("argv", "default"),
    [
        ([], "default: 200 in the app"),  # the app decodes 200 tokens, not the engine's round
        (["run"], "default: one round"),
        (["sweep"], "default: 64"),
        (["bench"], "default: 128; --quick 32"),
    ],
)
def test_each_command_states_its_own_max_new_tokens_default(
    argv: list[str], default: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert default in max_new_tokens_help(argv, capsys)


def test_a_drafter_named_alone_pairs_with_the_default_verifier_and_says_so(
    tiny_pair: TinyPair, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from spectui.cli import build_parser
    from spectui.commands.options import config_from_args

    monkeypatch.setenv("SPECTUI_PAIR", "seed")  # the default pair, whatever is installed
    args = build_parser().parse_args(["run", "--drafter", tiny_pair.drafter])
    assert config_from_args(args).verifier == "gpt2-medium"  # not the tiny pair's, silently
    monkeypatch.setenv("SPECTUI_PAIR", "tiny")
    alone = ["run", "--drafter", str(BUNDLED_DRAFTER), "--max-new-tokens", "2"]
    assert main(alone) == 0
    err = capsys.readouterr().err
    assert "only the drafter was named: the verifier is the tiny pair's (verifier); pass " in err
    assert main(["run", *pair_args(tiny_pair), "--max-new-tokens", "2"]) == 0
    assert "only the" not in capsys.readouterr().err  # both named: nothing to say


def test_an_unreachable_server_is_told_before_any_local_model_loads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["run", "--drafter", str(BUNDLED_DRAFTER), "--verifier-url", "http://127.0.0.1:9/v1"]
    assert main([*argv, "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err and "Traceback" not in err
    assert "loading drafter" not in err  # the server was tried first
