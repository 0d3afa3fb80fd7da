"""Each command's --help states its own defaults (not the engine's, where they differ)."""

from __future__ import annotations

import re

import pytest

from spectui.cli import main


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
