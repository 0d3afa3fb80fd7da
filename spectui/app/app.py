"""The spectui Textual app: one decode screen, plus its actions in the command palette."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from spectui.app.screens.decode import DecodeScreen
from spectui.engine.config import POLICY_LABELS, DecodeConfig

# The palette's entries for the decode screen: (title, help, action on DecodeScreen).
DECODE_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Step one token", "Reveal the next gate check (space)", "step"),
    ("Finish round", "Run to the end of this round (enter)", "finish_round"),
    ("Play / pause", "Autoplay on or off (p)", "toggle_play"),
    ("Faster", "Autoplay faster (+)", "speed(1)"),
    ("Slower", "Autoplay slower (-)", "speed(-1)"),
    ("Toggle policy", "greedy-exact ↔ soft-guarded from the next round (t)", "toggle_policy"),
    ("Settings", "Gate thresholds, draft span, bonus (s)", "settings"),
    ("Draft span +1", "Draft one more token per round (])", "span(1)"),
    ("Draft span -1", "Draft one fewer token per round ([)", "span(-1)"),
    ("Edit prompt", "Edit the prompt and restart the decode (e)", "edit_prompt"),
    ("Restart", "Restart the decode from the prompt (ctrl+r)", "restart"),
    ("Select previous token", "Inspect the previous token of the stream (←)", "select(-1)"),
    ("Select next token", "Inspect the next token of the stream (→)", "select(1)"),
    ("Back to live", "Follow the latest gate check again (esc)", "live"),
    ("Help", "Every key, the legend and the formulas (?)", "help"),
)


class SpectuiApp(App[None]):
    """Watch and step through speculative decoding."""

    CSS_PATH = "app.tcss"
    TITLE = "spectui"

    def __init__(
        self,
        config: DecodeConfig,
        prompt: str,
        prompts: list[str] | None = None,
        timings: bool = True,
    ) -> None:
        super().__init__()
        self.decode_screen = DecodeScreen(config, prompt, prompts or [prompt], timings)

    def get_default_screen(self) -> Screen:
        return self.decode_screen

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if isinstance(screen, DecodeScreen):
            for title, help_text, action in DECODE_COMMANDS:
                yield SystemCommand(title, help_text, _runner(screen, action))
            for name, label in POLICY_LABELS.items():
                yield SystemCommand(
                    f"Policy: {label}",
                    f"Use {label} from the next round",
                    _runner(screen, f"use_policy({name!r})"),
                )
        yield from super().get_system_commands(screen)


def _runner(screen: DecodeScreen, action: str):  # type: ignore[no-untyped-def]
    async def run() -> None:
        await screen.run_action(action)

    return run
