"""The decode screen's handlers of the engine worker's messages: each folds into the view.

Every message names its run; one from a run already replaced (a restart, a new prompt) is
dropped. The handlers never draw: they ask for a throttled redraw (`Drawing.redraw_soon`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.notifications import SeverityLevel
from textual.screen import Screen

from spectui.app import messages
from spectui.app.model_info import model_sizes
from spectui.app.sessions import Session
from spectui.app.state import DecodeView
from spectui.engine.events import DecodeFinished, RoundDrafted, RoundRewound
from spectui.engine.trace.log import EventLog
from spectui.engine.trace.source import Ability

if TYPE_CHECKING:
    import asyncio

    from spectui.app.control import StepControl
    from spectui.app.screens.drawing import Drawing
    from spectui.engine.config import DecodeConfig
    from spectui.engine.cost.model import CostModel


class Receiving(Screen[None]):
    """The decode screen's `on_*` handlers of worker messages (its state, declared here)."""

    run_id: int
    control: StepControl
    drawing: Drawing
    event_log: EventLog | None
    decode: DecodeView
    config: DecodeConfig
    trace_path: Path | None
    load_status: str
    load_bars: dict[tuple[str, str], Any]
    models: str
    model_sizes: str
    session: Session
    costs: dict[int, CostModel]
    viewed: int | None
    selected: int | None
    busy: bool
    _settled: asyncio.Event

    def can(self, ability: Ability) -> bool:
        """Whether the session can do `ability` (the decode screen's)."""
        raise NotImplementedError

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a message in the status line (the decode screen's)."""
        raise NotImplementedError

    def state_changed(self) -> None:
        """The phase may have changed (the decode screen's)."""
        raise NotImplementedError

    def save_trace(self, path: Path) -> Path | None:
        """Write the event log as a trace (Saving's, before this in the decode screen's MRO)."""
        raise NotImplementedError

    def _current(self, message: Any) -> bool:
        """Whether a message belongs to the running decode; if so, a redraw will show it."""
        if message.run != self.run_id:
            return False
        counted = int(isinstance(message, messages.DecodeEvent))
        if isinstance(message, messages.DecodeBatch):
            counted = len(message.events)
            self.control.received()
        self.drawing.redraw_soon(counted=counted)
        return True

    def on_load_progress(self, message: messages.LoadProgress) -> None:
        if self._current(message):
            self.load_status = message.text

    def on_load_bar(self, message: messages.LoadBar) -> None:
        if self._current(message):
            self.load_bars[message.bar.key] = message.bar

    def on_models_ready(self, message: messages.ModelsReady) -> None:
        if self._current(message):
            self.models = message.summary
            self.model_sizes = model_sizes(message.pair)
            self.load_status = loaded_words(message)
            if (notice := self.session.notice) is not None:
                self.model_sizes = f"{self.model_sizes} · {notice}"
                self.say(notice, "warning")
            self.load_bars.clear()

    def on_cost_measured(self, message: messages.CostMeasured) -> None:
        if self._current(message):
            self.costs[message.cost.k] = message.cost
            self.drawing.redraw_soon(counted=0)

    def on_decode_started(self, message: messages.DecodeStarted) -> None:
        if self._current(message):
            self.event_log = EventLog(message.header)
            self.decode = DecodeView.fold(self.event_log)
            self.state_changed()

    def on_decode_event(self, message: messages.DecodeEvent) -> None:
        if self._current(message) and self.event_log is not None:
            self.record(message)

    def on_decode_batch(self, message: messages.DecodeBatch) -> None:
        if self._current(message) and self.event_log is not None:
            for item in message.events:
                self.record(item)

    def record(self, message: messages.DecodeEvent) -> None:
        """Append one engine event to the log and fold it into the view."""
        assert self.event_log is not None
        event = message.event
        self.event_log.record(event, message.texts, message.shown)
        if isinstance(event, RoundRewound):
            self.decode = DecodeView.fold(self.event_log)
            self.viewed = self.selected = None
            # This replaces "… from round N" of the rounds undone, which no longer holds.
            self.say(
                f"Branched: back at the start of round {event.round_index + 1} · "
                f"{event.config.policy_label} from here"
            )
        else:
            self.decode.apply(event, self.event_log)
        if isinstance(event, RoundDrafted) and not self.can(Ability.RETUNE):
            self.config = event.config  # a recording's rounds bring their own settings
        if isinstance(event, DecodeFinished | RoundRewound):
            self.state_changed()
        if isinstance(event, DecodeFinished) and self.trace_path is not None:
            self.save_trace(self.trace_path)

    def on_engine_waiting(self, message: messages.EngineWaiting) -> None:
        if self._current(message) and message.served == self.control.requests:
            self.busy = False
            self._settled.set()
            self.drawing.refresh_header()


def loaded_words(message: messages.ModelsReady) -> str:
    """ "models loaded in 2.1 s", with a first start's GGUF conversion named apart."""
    converted = message.pair.conversion_seconds if message.pair is not None else 0.0
    if converted:
        return (
            f"models loaded in {message.load_seconds:.1f} s (of which {converted:.0f} s "
            "converting GGUF, once: later starts read the cache)"
        )
    return f"models loaded in {message.load_seconds:.1f} s"
