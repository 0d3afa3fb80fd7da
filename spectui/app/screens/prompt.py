"""The `e` screen: edit the prompt (or pick one of the examples); the decode restarts on it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList

from spectui.app.screens.dialog import Dialog


class PromptScreen(Dialog[str | None]):
    """Returns the new prompt, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, examples: list[str]) -> None:
        super().__init__()
        self.prompt = prompt
        self.examples = examples

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-body", classes="dialog") as body:
            body.border_title = "prompt"
            body.border_subtitle = "enter decode · tab to examples · esc cancel"
            yield Input(
                self.prompt,
                placeholder="empty: start from the BOS token",
                suggester=SuggestFromList(self.examples, case_sensitive=False),
                id="prompt-input",
            )
            yield Label("examples", classes="hint")
            yield OptionList(*self.examples, id="prompt-examples")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        self.close(event.value)

    @on(OptionList.OptionSelected)
    def pick(self, event: OptionList.OptionSelected) -> None:
        self.close(self.examples[event.option_index])

    def action_cancel(self) -> None:
        """Keep the current prompt."""
        self.close(None)
