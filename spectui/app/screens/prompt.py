"""The `e` screen: edit the prompt (or pick one of the examples); the decode restarts on it.

The examples are the seed's prompts, those given with --prompt, or a prompts file's; a file's
categories show before each prompt, so a benchmark's set reads as what it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList

from spectui.app.launch import launch_of
from spectui.app.screens.dialog import Dialog
from spectui.app.widgets.field import Field
from spectui.engine.prompts import Prompt, categories

SHOWN_CHARACTERS = 60  # of a categorised prompt's text, on its one line (the dialog is 76 wide)
CATEGORY_WIDTH = 14  # at most, before the text


class PromptScreen(Dialog[str | None]):
    """Returns the new prompt, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, examples: Sequence[str | Prompt]) -> None:
        super().__init__()
        self.prompt = prompt
        self.choices = [e if isinstance(e, Prompt) else Prompt(e) for e in examples]

    @property
    def examples(self) -> list[str]:
        """The texts offered to pick from."""
        return [choice.text for choice in self.choices]

    def compose(self) -> ComposeResult:
        self.choices = with_categories(self.choices, launch_of(self.app).prompt_set)
        with Vertical(id="prompt-body", classes="dialog") as body:
            body.border_title = "prompt"
            body.border_subtitle = "enter decode · tab to examples · esc cancel"
            yield Field(
                self.prompt,
                placeholder="empty: start from the BOS token",
                suggester=SuggestFromList(self.examples, case_sensitive=False),
                id="prompt-input",
            )
            named = categories(self.choices)
            if not named:
                yield Label("examples", classes="hint")
                yield OptionList(*self.examples, id="prompt-examples")
                return
            yield Label(
                f"{len(self.choices)} prompts in {len(named)} categories: {', '.join(named)}",
                classes="hint",
            )
            width = min(CATEGORY_WIDTH, max(len(name) for name in named))
            yield OptionList(*(option_line(c, width) for c in self.choices), id="prompt-examples")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        self.close(event.value)

    @on(OptionList.OptionSelected)
    def pick(self, event: OptionList.OptionSelected) -> None:
        self.close(self.choices[event.option_index].text)

    def action_cancel(self) -> None:
        """Keep the current prompt."""
        self.close(None)


def with_categories(choices: Sequence[Prompt], known: Sequence[Prompt]) -> list[Prompt]:
    """`choices`, each taking its category from the record of the same text in `known`.

    The decode screen hands this screen the prompts' texts; the app keeps the records a
    prompts file gave (`Launch.prompt_set`).
    """
    by_text = {prompt.text: prompt for prompt in known}
    return [
        choice if choice.category is not None else by_text.get(choice.text, choice)
        for choice in choices
    ]


def option_line(prompt: Prompt, category_width: int) -> Text:
    """One prompt as one line: its category (or –), then its text cut to fit, newlines as ⏎."""
    lines = (line.strip() for line in prompt.text.splitlines())
    flat = " ⏎ ".join(line for line in lines if line) or "(empty)"
    shown = flat if len(flat) <= SHOWN_CHARACTERS else flat[: SHOWN_CHARACTERS - 1] + "…"
    category = (prompt.category or "–")[:category_width]
    return Text.assemble((f"{category:<{category_width}}  ", "bold"), shown)
