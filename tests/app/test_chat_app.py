"""`spectui --chat`: the app decodes each prompt as a user turn of the chat template."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from app_helpers import plain, settle
from textual.widgets import Static
from tiny_models import TinyPair
from transformers import AutoTokenizer

from spectui.app.app import SpectuiApp
from spectui.app.sessions import ChatTurns, LiveSession
from spectui.app.widgets import TokenStream
from spectui.engine import DecodeConfig

TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


@pytest.fixture(scope="module")
def chat_verifier(tiny_pair: TinyPair, tmp_path_factory: pytest.TempPathFactory) -> str:
    verifier = tmp_path_factory.mktemp("chat-app") / "verifier"
    shutil.copytree(tiny_pair.verifier, verifier)
    tokenizer = AutoTokenizer.from_pretrained(verifier)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(verifier)
    return str(verifier)


async def test_the_stream_shows_the_turns_and_the_decode_starts_from_their_ids(
    tiny_pair: TinyPair, chat_verifier: str
) -> None:
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=chat_verifier, max_new_tokens=8)
    session = LiveSession(chat=ChatTurns("Be brief."))
    app = SpectuiApp(config, "Once upon", timings=False, session=session)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        tokenizer = AutoTokenizer.from_pretrained(chat_verifier)
        turns = "<system>Be brief.<user>Once upon<assistant>"
        assert screen.state.event_log is not None
        header: Any = screen.state.event_log.header
        assert header.prompt == turns
        assert header.prompt_ids == tuple(tokenizer(turns).input_ids)
        shown = plain(screen.query_one(TokenStream).query_one("#stream-text"), 100)
        assert shown.startswith(turns)


async def test_a_tokenizer_without_a_template_is_explained_in_the_app(tiny_pair: TinyPair) -> None:
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier)
    app = SpectuiApp(config, "Once upon", timings=False, session=LiveSession(chat=ChatTurns()))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await settle(pilot)
        assert screen.state.error is not None and "no chat template" in screen.state.error
        shown = str(screen.query_one("#error", Static).render())
        assert "ctrl+r" not in shown and "e edit" not in shown, shown
        assert "q quit" in shown, shown


def test_the_command_takes_chat_and_system() -> None:
    from spectui.cli import build_parser

    args = build_parser().parse_args(["--system", "Be brief."])
    assert args.system == "Be brief." and not args.chat
    assert build_parser().parse_args(["--chat"]).chat
