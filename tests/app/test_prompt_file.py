"""The prompt editor (e) over a prompts file: its prompts listed with their categories, pickable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app_helpers import settle
from rich.text import Text
from textual.widgets import Label, OptionList

from spectui.app.app import SpectuiApp
from spectui.app.screens.prompt import PromptScreen, option_line
from spectui.engine.config import DecodeConfig
from spectui.engine.prompts import Prompt, read_prompts

QUESTIONS = (
    '{"question_id": 1, "category": "story", "turns": ["Once upon a time,", "Go on"]}\n'
    '{"question_id": 2, "category": "facts", "turns": ["The capital of France is"]}\n'
    '{"question_id": 3, "category": "story", "turns": ["She walked into the"]}\n'
)


def file_app(tiny_pair: Any, prompts: tuple[Prompt, ...]) -> SpectuiApp:
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier, max_new_tokens=8)
    return SpectuiApp(config, prompts[0].text, prompts, timings=False)


async def test_pick_a_prompt_from_the_file_by_its_category(tiny_pair: Any, tmp_path: Path) -> None:
    path = tmp_path / "question.jsonl"
    path.write_text(QUESTIONS, encoding="utf-8")
    prompts = read_prompts(path)

    async with file_app(tiny_pair, prompts).run_test(size=(100, 30)) as pilot:
        screen = await settle(pilot)
        assert screen.state.decode.prompt == "Once upon a time,"
        await pilot.press("e")
        editor = pilot.app.screen
        assert isinstance(editor, PromptScreen)
        await pilot.pause()
        hint = editor.query_one(Label)
        assert "3 prompts in 2 categories: story, facts" in str(hint.render())
        options = editor.query_one(OptionList)
        lines = [str(options.get_option_at_index(i).prompt) for i in range(3)]
        assert lines[0].split() == ["story", "Once", "upon", "a", "time,"]
        assert lines[1].startswith("facts") and lines[1].endswith("The capital of France is")
        await pilot.press("tab", "down", "enter")  # to the list, the second prompt, pick it
        screen = await settle(pilot)
        assert pilot.app.screen is screen
        assert screen.state.prompt == "The capital of France is"
        assert screen.state.decode.prompt == "The capital of France is"
        assert screen.state.phase == "ready" and screen.state.decode.round is None  # a fresh decode


async def test_examples_without_categories_are_listed_as_before(tiny_pair: Any) -> None:
    prompts = (Prompt("Once upon a time,"), Prompt("She walked into the"))

    async with file_app(tiny_pair, prompts).run_test() as pilot:
        await settle(pilot)
        await pilot.press("e")
        editor = pilot.app.screen
        assert isinstance(editor, PromptScreen)
        await pilot.pause()
        assert str(editor.query_one(Label).render()) == "examples"
        options = editor.query_one(OptionList)
        assert str(options.get_option_at_index(1).prompt) == "She walked into the"


def test_a_long_multi_line_prompt_shows_on_one_line() -> None:
    line = option_line(Prompt("Write a story.\n\n" + "word " * 40, "writing"), 8)
    assert isinstance(line, Text)
    text = line.plain
    assert "\n" not in text and text.startswith("writing   Write a story. ⏎ word")
    assert text.endswith("…") and len(text) == 10 + 60
