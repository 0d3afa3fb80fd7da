"""The engine worker's messages, folded into the decode screen's state.

Every message names its run; one from a run already replaced (a restart, a new prompt) is
dropped. Nothing here draws: it asks for a throttled redraw (`Surface.redraw_soon`).
"""

from __future__ import annotations

from spectui.app import messages
from spectui.app.decode_view import DecodeView
from spectui.app.model_info import model_sizes
from spectui.app.screens.browsing import Browsing
from spectui.app.screens.saving import Saving
from spectui.app.screens.screen_state import ScreenState, Surface
from spectui.engine.events import DecodeFinished, RoundDrafted, RoundRewound
from spectui.engine.trace.log import EventLog
from spectui.engine.trace.source import Ability


class Receiving:
    """Takes each `EngineMessage` the screen receives into `state`."""

    def __init__(
        self, state: ScreenState, surface: Surface, browsing: Browsing, saving: Saving
    ) -> None:
        """`browsing`: back to live on a branch; `saving`: --trace FILE when a decode ends."""
        self.state = state
        self.surface = surface
        self.browsing = browsing
        self.saving = saving

    def receive(self, message: messages.EngineMessage) -> None:
        """Fold one of the worker's messages into the state (a stale run's is dropped)."""
        state = self.state
        if isinstance(message, messages.ModelsReady) and message.pair is not None:
            state.pair = message.pair  # kept whatever the run: a restart needs no second load
        if not self._current(message):
            return
        match message:
            case messages.DecodeBatch(events=events) if state.event_log is not None:
                for item in events:
                    self.record(item)
            case messages.DecodeEvent() if state.event_log is not None:
                self.record(message)
            case messages.LoadProgress(text=text):
                state.load_status = text
            case messages.LoadBar(bar=bar):
                state.load_bars[bar.key] = bar
            case messages.ModelsReady():
                self.models_ready(message)
            case messages.CostMeasured(cost=cost):
                state.costs[cost.k] = cost
                self.surface.redraw_soon(counted=0)
            case messages.DecodeStarted(header=header, source=source):
                state.event_log = EventLog(header)
                state.source = source
                state.decode = DecodeView.fold(state.event_log)
                self.surface.state_changed()
            case messages.EngineWaiting(served=served) if served == state.control.requests:
                state.set_busy(False)  # the worker has caught up with every request
                self.surface.refresh_header()

    def _current(self, message: messages.EngineMessage) -> bool:
        """Whether a message belongs to the running decode; if so, a redraw will show it."""
        if message.run != self.state.run_id:
            return False
        counted = int(isinstance(message, messages.DecodeEvent))
        if isinstance(message, messages.DecodeBatch):
            counted = len(message.events)
            self.state.control.received()
        self.surface.redraw_soon(counted=counted)
        return True

    def models_ready(self, message: messages.ModelsReady) -> None:
        """The models are loaded (or, in a replay, named): the header and the stream say so."""
        state = self.state
        state.models = message.summary
        state.model_sizes = model_sizes(message.pair)
        state.load_status = loaded_words(message)
        if (notice := state.session.notice) is not None:
            state.model_sizes = f"{state.model_sizes} · {notice}"
            self.surface.say(notice, "warning")
        elif message.pair is not None and getattr(state.session, "chat", None) is None:
            from spectui.engine.decode import empty_prompt_note

            if (note := empty_prompt_note(message.pair, state.prompt)) is not None:
                self.surface.say(note)
        state.load_bars.clear()

    def record(self, message: messages.DecodeEvent) -> None:
        """Append one engine event to the log and fold it into the view."""
        state = self.state
        assert state.event_log is not None
        event = message.event
        state.event_log.record(event, message.texts, message.shown)
        if isinstance(event, RoundRewound):
            state.decode = DecodeView.fold(state.event_log)
            self.browsing.live()
            # This replaces "… from round N" of the rounds undone, which no longer holds.
            self.surface.say(
                f"Branched: back at the start of round {event.round_index + 1} · "
                f"{event.config.policy_label} from here"
            )
        else:
            state.decode.apply(event, state.event_log)
        if isinstance(event, RoundDrafted) and not state.can(Ability.RETUNE):
            state.config = event.config  # a recording's rounds bring their own settings
        if isinstance(event, DecodeFinished | RoundRewound):
            self.surface.state_changed()
        if isinstance(event, DecodeFinished) and state.trace_path is not None:
            self.saving.save_trace(state.trace_path)


def loaded_words(message: messages.ModelsReady) -> str:
    """ "models loaded in 2.1 s", with a first start's GGUF conversion named apart."""
    converted = message.pair.conversion_seconds if message.pair is not None else 0.0
    if converted:
        return (
            f"models loaded in {message.load_seconds:.1f} s (of which {converted:.0f} s "
            "converting GGUF, once: later starts read the cache)"
        )
    return f"models loaded in {message.load_seconds:.1f} s"
