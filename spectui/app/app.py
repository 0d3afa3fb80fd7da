"""The spectui Textual app: one decode screen, plus its actions in the command palette."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from spectui.app.keys import describe, key_names, offered_bindings
from spectui.app.launch import Launch
from spectui.app.looks.catalog import looks_of
from spectui.app.pacing import SWITCH_INTERVAL
from spectui.app.screens.decode import DecodeScreen
from spectui.app.screens.sweep import SweepScreen
from spectui.app.sessions import Session
from spectui.engine.config import DecodeConfig
from spectui.engine.policy.registry import COMPARED, POLICIES
from spectui.engine.prompts import Prompt
from spectui.engine.sweep.file import Sweep


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
        prompts: Sequence[str | Prompt] | None = None,
        timings: bool = True,
        trace_path: Path | None = None,
        session: Session | None = None,
        compared: Sequence[str] = COMPARED,
        sweep: Sweep | None = None,
        text_marks: bool = False,
    ) -> None:
        """`prompts`: what `e` offers (a file's, with categories); `trace_path`: save the
        session's trace there; `session`: a trace to replay; `compared`: the policies `c`
        decodes side by side, the first the reference; `sweep`: a finished sweep (`spectui
        sweep --out`), whose view opens first."""
        super().__init__()
        # The prompt records, the compared policies and the sweep live here, where the `e`,
        # `c` and `v` screens read them (`launch_of`): the decode screen opens them unknowing.
        self.launch = Launch(
            prompt_set=tuple(
                p if isinstance(p, Prompt) else Prompt(p) for p in prompts or [prompt]
            ),
            compared_policies=tuple(compared),
            sweep=sweep,
        )
        self.decode_screen = DecodeScreen(
            config,
            prompt,
            [p.text for p in self.launch.prompt_set],
            timings,
            trace_path,
            session,
            text_marks,
        )

    def get_default_screen(self) -> Screen:
        return self.decode_screen

    def on_mount(self) -> None:
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self.launch.sweep is not None:
            self.push_screen(SweepScreen(self.launch.sweep), self.decode_screen.open_setting)

    def on_unmount(self) -> None:
        sys.setswitchinterval(getattr(self, "_switch_interval", 0.005))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if isinstance(screen, DecodeScreen):
            yield from decode_commands(screen)
        elif isinstance(screen, SweepScreen):
            yield from screen_commands(screen)
        yield from super().get_system_commands(screen)


def decode_commands(screen: DecodeScreen) -> Iterable[SystemCommand]:
    """Every decode-screen action this session can do, named as its key's binding is."""
    offered = offered_bindings(screen.BINDINGS, screen.check_action, in_browser=screen.app.is_web)
    for binding in offered:
        if not isinstance(binding, Binding):
            continue
        help_text = f"{describe(binding)} ({key_names(binding)})"
        yield SystemCommand(binding.description, help_text, _runner(screen, binding.action))
    if screen.check_action("use_policy", ()) is not False:
        for policy in POLICIES:
            yield SystemCommand(
                f"Policy: {policy.label}",
                f"Use {policy.label} from the next round: {looks_of(policy.name).summary}",
                _runner(screen, f"use_policy({policy.name!r})"),
            )


def screen_commands(screen: Screen[Any]) -> Iterable[SystemCommand]:
    """Every action of another screen's BINDINGS, named as its key's binding is."""
    for binding in screen.BINDINGS:
        if isinstance(binding, Binding):
            help_text = f"{binding.tooltip or binding.description} ({key_names(binding)})"
            yield SystemCommand(binding.description, help_text, _runner(screen, binding.action))


def _runner(screen: Screen[Any], action: str) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        await screen.run_action(action)

    return run
