"""The spectui Textual app: one decode screen, plus its actions in the command palette."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
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
    (
        "Toggle policy",
        "greedy-exact → soft-guarded → speculative-sampling from the next round (t)",
        "toggle_policy",
    ),
    ("Previous round", "View an earlier round's drafts and gate checks (b)", "view_round(-1)"),
    ("Next round", "View the next round; past the last, back to live (n)", "view_round(1)"),
    (
        "Branch here",
        "Continue from the start of the viewed round under the current settings (B)",
        "branch",
    ),
    ("Compare policies", "greedy-exact and soft-guarded side by side (c)", "compare"),
    ("Settings", "Gate thresholds, draft span, bonus (s)", "settings"),
    ("Draft span +1", "Draft one more token per round (])", "span(1)"),
    ("Draft span -1", "Draft one fewer token per round ([)", "span(-1)"),
    ("Edit prompt", "Edit the prompt and restart the decode (e)", "edit_prompt"),
    ("Restart", "Restart the decode from the prompt (ctrl+r)", "restart"),
    ("Save trace", "Save this decode as a trace for `spectui replay` (w)", "save_trace"),
    ("Select previous token", "Inspect the previous token of the stream (←)", "select(-1)"),
    ("Select next token", "Inspect the next token of the stream (→)", "select(1)"),
    ("Back to live", "Follow the latest gate check again (esc)", "live"),
    ("Help", "Every key, the legend and the formulas (?)", "help"),
)


class SpectuiApp(App[None]):
    """Watch and step through speculative decoding."""

    CSS_PATH = "app.tcss"
    TITLE = "spectui"
    # Textual only hints at ctrl+q on ctrl+c; people reach for ctrl+c to leave a terminal app,
    # and a viewer has nothing to lose by quitting (an input's copy still takes ctrl+c first).
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, id="quit_ctrl_c")]

    def __init__(
        self,
        config: DecodeConfig,
        prompt: str,
        prompts: list[str] | None = None,
        timings: bool = True,
        trace_path: Path | None = None,
        screen: DecodeScreen | None = None,
    ) -> None:
        """`trace_path`: save the session's trace there; `screen`: one to show instead (replay)."""
        super().__init__()
        self.decode_screen = screen or DecodeScreen(
            config, prompt, prompts or [prompt], timings, trace_path
        )

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
