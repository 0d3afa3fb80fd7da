"""Replay: the app on a saved trace, with no model, tokenizer or torch loaded.

`replay` is the worker body for a trace, as `driver.drive` is for a live engine: it posts the
recorded events through the very same `_play_round`/`to_message` path and waits on the same
`StepControl`, so the decode screen cannot tell the difference. `ReplayScreen` only adds what
a recording changes: it says so in the header, and refuses (with a reason) what would need
the models: another policy, other settings, another prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual import on, work
from textual.binding import Binding
from textual.dom import DOMNode
from textual.events import Key

from spectui.app import messages
from spectui.app.app import SpectuiApp
from spectui.app.control import StepControl
from spectui.app.driver import Post, _counted, _play_round, model_label
from spectui.app.screens.decode import DecodeScreen
from spectui.app.widgets import StatusHeader
from spectui.engine.config import DecodeConfig
from spectui.engine.stats import StatsTally
from spectui.engine.text import StreamText
from spectui.engine.trace import Trace

END_OF_TRACE = "end_of_trace"  # the finish reason shown for a trace saved mid-decode

# Actions a replay cannot do, and what each would have needed to change.
UNAVAILABLE: dict[str, str] = {
    "toggle_policy": "change the policy",
    "use_policy": "change the policy",
    "settings": "change the settings",
    "span": "change the draft span",
    "edit_prompt": "decode another prompt",
    "branch": "branch off into a new decode",
    "compare": "decode the prompt under other policies",
}


class RecordedStreamText(StreamText):
    """The text each output token added to the stream, as the trace recorded it."""

    def __init__(self, trace: Trace) -> None:
        super().__init__(lambda ids: "")
        self._recorded = trace.appended_texts

    def add(self, token_id: int, index: int | None = None) -> str:
        assert index is not None, "replayed tokens always come with their output index"
        return self._recorded[index]


def summary(trace: Trace) -> str:
    """The models line, as the live app showed it (drafter → verifier · device · dtype)."""
    config, header = trace.header.config, trace.header
    return (
        f"{_label(config.drafter)} → {_label(config.verifier)} · {header.device} · {header.dtype}"
    )


def _label(name: str) -> str:
    # A model directory from another machine does not exist here: still show its last part.
    return Path(name).name if Path(name).is_absolute() else model_label(name)


def replay(post: Post, control: StepControl, run: int, trace: Trace) -> None:
    """Post `trace`'s events as the live driver posts an engine's, stepping as `control` allows."""
    post = _counted(post, control)
    header = trace.header
    post(messages.ModelsReady(run, None, summary(trace), 0.0))
    post(
        messages.DecodeStarted(
            run, header.prompt, len(header.prompt_ids), header.context_length, header=header
        )
    )
    stream = trace.events()
    shown = RecordedStreamText(trace)

    def on_idle(served: int) -> None:
        post(messages.EngineWaiting(run, served))

    for _ in trace.rounds:
        if not control.wait(on_idle):  # before drafting, as live
            return
        control.take_changes()  # nothing to retune in a recording (the screen refuses it)
        if not _play_round(stream, post, control, trace, run, on_idle, shown):
            return
    if trace.done is not None:
        _play_round(stream, post, control, trace, run, on_idle, shown)
    else:  # saved before the decode ended: it ends with the last recorded round
        stats = trace.rounds[-1].stats if trace.rounds else StatsTally().snapshot()
        post(messages.DecodeFinished(run, END_OF_TRACE, stats))
        control.decode_ended()


class ReplayScreen(DecodeScreen):
    """The decode screen on a trace: stepping, selecting and stats as live; no retuning."""

    def __init__(self, trace: Trace, timings: bool = True, trace_path: Path | None = None) -> None:
        header = trace.header
        super().__init__(header.config, header.prompt, [header.prompt], timings, trace_path)
        self.trace = trace

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine", name="replay")
    def drive_engine(
        self,
        run: int,
        control: StepControl,
        config: DecodeConfig,
        prompt: str,
        pair: Any,
    ) -> None:
        """Post the trace's events in this thread, exactly as the live worker would."""
        replay(self.post_message, control, run, self.trace)

    @on(messages.RoundDrafted)
    def follow_recorded_settings(self, message: messages.RoundDrafted) -> None:
        # Live, a retune changes the screen's settings; a replay takes each round's own.
        if message.run == self.run_id:
            self.config = message.config

    def refresh_header(self) -> None:
        """The live header, prefixed with the trace's name."""
        super().refresh_header()
        if self.is_mounted:
            self.status_text = f"replay of {self.trace.path.name} · {self.status_text}"
            self.query_one(StatusHeader).show(self.status_text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in UNAVAILABLE:
            return None  # shown greyed out; pressing the key says why
        return super().check_action(action, parameters)

    async def run_action(
        self, action: str, namespaces: Mapping[str, DOMNode] | None = None
    ) -> None:
        """Run an action; one a replay cannot do (from the command palette) says why."""
        name = action.split("(", 1)[0]
        if name in UNAVAILABLE:
            self.explain_unavailable(name)
            return
        await super().run_action(action, namespaces)

    def on_key(self, event: Key) -> None:
        # A disabled binding lets its key through to here: say why it does nothing.
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding):
                continue
            action = binding.action.split("(", 1)[0]
            if action in UNAVAILABLE and event.key in binding.key.split(","):
                event.stop()
                self.explain_unavailable(action)

    def explain_unavailable(self, action: str) -> None:
        """Tell why `action` cannot run in a replay."""
        self.notify(
            f"A replay cannot {UNAVAILABLE[action]}: it shows a recorded decode, with no "
            "models loaded. ctrl+r replays it from the start.",
            title="Not in a replay",
            severity="warning",
        )


def replay_app(trace: Trace, timings: bool = True, trace_path: Path | None = None) -> SpectuiApp:
    """The spectui app on `trace`."""
    screen = ReplayScreen(trace, timings, trace_path)
    return SpectuiApp(trace.header.config, trace.header.prompt, screen=screen)
