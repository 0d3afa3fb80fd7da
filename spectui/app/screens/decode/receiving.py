"""The engine worker's messages, folded into the decode screen's state.

Every message names its run; one from a run already replaced (a restart, a new prompt) is
dropped. Nothing here draws: it asks for a throttled repaint (`RepaintSoon`).
"""

from __future__ import annotations

from dataclasses import replace

from spectui.app import messages
from spectui.app.decode_view import DecodeView
from spectui.app.model_info import model_sizes
from spectui.app.screens.decode.effects import (
    Effect,
    Received,
    RefreshKeys,
    Repaint,
    RepaintHeader,
    RepaintSoon,
    Say,
)
from spectui.app.screens.decode.moves import Outcome, back_to_live, save
from spectui.app.screens.decode.state import ScreenState
from spectui.engine.events import DecodeFinished, RoundDrafted, RoundRewound
from spectui.engine.trace.log import EventLog
from spectui.engine.trace.source import Ability


def receive(state: ScreenState, message: messages.EngineMessage) -> Outcome:
    """Fold one of the worker's messages into the state (a stale run's is dropped)."""
    if isinstance(message, messages.ModelsReady) and message.pair is not None:
        state = replace(state, pair=message.pair)  # whatever the run: a restart loads none
    if message.run != state.run_id:
        return state, ()
    state, effects = take(state, message)
    return state, (*arrived(message), *effects)


def arrived(message: messages.EngineMessage) -> tuple[Effect, ...]:
    """A message of the running decode: a repaint will show it (a batch: one more taken)."""
    if isinstance(message, messages.DecodeBatch):
        return Received(), RepaintSoon(counted=len(message.events))
    return (RepaintSoon(counted=int(isinstance(message, messages.DecodeEvent))),)


def take(state: ScreenState, message: messages.EngineMessage) -> Outcome:
    """What one message of the running decode changes."""
    match message:
        case messages.DecodeBatch(events=events) if state.event_log is not None:
            effects: tuple[Effect, ...] = ()
            for item in events:
                state, more = record(state, item)
                effects += more
            return state, effects
        case messages.DecodeEvent() if state.event_log is not None:
            return record(state, message)
        case messages.LoadProgress(text=text):
            return replace(state, load_status=text), ()
        case messages.LoadBar(bar=bar):
            return replace(state, load_bars={**state.load_bars, bar.key: bar}), ()
        case messages.ModelsReady():
            return models_ready(state, message)
        case messages.CostMeasured(cost=cost):
            return replace(state, costs={**state.costs, cost.k: cost}), (RepaintSoon(counted=0),)
        case messages.PrecisionChecked(run=run, agreement=agreement) if run == state.run_id:
            return replace(state, precision=agreement), (RepaintSoon(counted=0),)
        case messages.DecodeStarted(header=header, source=source):
            log = EventLog(header)
            state = replace(state, event_log=log, source=source, decode=DecodeView.fold(log))
            return state, (RefreshKeys(), Repaint())
        case messages.EngineWaiting(served=served) if served == state.control.requests:
            # The worker has caught up with every request: the header says what it does now.
            return replace(state, busy=False), (RepaintHeader(),)
    return state, ()


def models_ready(state: ScreenState, message: messages.ModelsReady) -> Outcome:
    """The models are loaded (or, in a replay, named): the header and the stream say so."""
    sizes, said = model_sizes(message.pair), None
    if (notice := state.session.notice) is not None:
        sizes, said = f"{sizes} · {notice}", Say(notice, "warning")
    elif message.pair is not None and getattr(state.session, "chat", None) is None:
        from spectui.engine.decode import empty_prompt_note

        if (note := empty_prompt_note(message.pair, state.prompt)) is not None:
            said = Say(note)
    state = replace(
        state,
        models=message.summary,
        model_sizes=sizes,
        load_status=loaded_words(message),
        load_bars={},
    )
    return state, (said,) if said is not None else ()


def record(state: ScreenState, message: messages.DecodeEvent) -> Outcome:
    """Append one engine event to the log and fold it into the view (in place: state.py)."""
    log = state.event_log
    assert log is not None
    event = message.event
    log.record(event, message.texts, message.shown)
    effects: tuple[Effect, ...] = ()
    if isinstance(event, RoundRewound):
        state, effects = back_to_live(replace(state, decode=DecodeView.fold(log)))
        # This replaces "… from round N" of the rounds undone, which no longer holds.
        effects += (
            Say(
                f"Branched: back at the start of round {event.round_index + 1} · "
                f"{event.config.policy_label} from here"
            ),
        )
    else:
        state.decode.apply(event, log)
    if isinstance(event, RoundDrafted) and not state.can(Ability.RETUNE):
        state = replace(state, config=event.config)  # a recording's rounds bring their own
    if isinstance(event, DecodeFinished | RoundRewound):
        effects += (RefreshKeys(), Repaint())
    if isinstance(event, DecodeFinished) and state.trace_path is not None:
        state, saved = save(state, state.trace_path)
        effects += saved
    return state, effects


def loaded_words(message: messages.ModelsReady) -> str:
    """ "models loaded in 2.1 s", with a first start's GGUF conversion named apart."""
    converted = message.pair.conversion_seconds if message.pair is not None else 0.0
    if converted:
        return (
            f"models loaded in {message.load_seconds:.1f} s (of which {converted:.0f} s "
            "converting GGUF, once: later starts read the cache)"
        )
    return f"models loaded in {message.load_seconds:.1f} s"
