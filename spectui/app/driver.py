"""The engine worker's body: load the models, iterate the engine, post one message per event.

It runs in a thread worker and never touches a widget: everything it learns leaves as a
message (see `messages.py`). Between events it waits on a `StepControl`, which is how a person
steps one gate check at a time. Torch and the engine's heavy modules are imported here, inside
the worker, so the app's first frame never waits for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from spectui.app import messages
from spectui.app.control import StepControl
from spectui.engine.config import DecodeConfig

if TYPE_CHECKING:
    from spectui.engine.decode import SpeculativeDecoder
    from spectui.engine.events import EngineEvent
    from spectui.engine.loading import ModelPair

Post = Callable[[Message], Any]


def drive(
    post: Post,
    control: StepControl,
    run: int,
    config: DecodeConfig,
    prompt: str,
    pair: ModelPair | None,
) -> None:
    """Load (unless `pair` is given) and decode `prompt`, stepping as `control` allows."""
    post = _counted(post, control)
    if pair is None:
        pair = load(post, run, config)
    from spectui.engine.decode import SpeculativeDecoder

    decoder = SpeculativeDecoder(pair, config, prompt)  # PromptError surfaces in the app
    post(messages.DecodeStarted(run, prompt, len(decoder.prompt_ids), pair.context_length))
    stream = decoder.events()

    def on_idle(served: int) -> None:
        post(messages.EngineWaiting(run, served))

    while True:
        # Wait *before* drafting, so settings changed between rounds apply to the next one.
        if not _decode_over(decoder) and not control.wait(on_idle):
            return
        if changes := control.take_changes():
            decoder.retune(**changes)
        if not _play_round(stream, post, control, pair, run, on_idle):
            return


def _counted(post: Post, control: StepControl) -> Post:
    """`post`, telling `control` about each engine event (for autoplay's backpressure)."""

    def counted(message: Message) -> Any:
        if isinstance(message, messages.DecodeEvent):
            control.posted()
        return post(message)

    return counted


def load(post: Post, run: int, config: DecodeConfig) -> ModelPair:
    """Import torch and load the pair, posting progress; returns the loaded pair."""
    post(messages.LoadProgress(run, "importing torch and transformers…"))
    from spectui.engine.loading import load_pair

    pair = load_pair(config, progress=lambda text: post(messages.LoadProgress(run, text)))
    summary = (
        f"{model_label(config.drafter)} → {model_label(config.verifier)} · "
        f"{pair.device.type} · {str(pair.dtype).removeprefix('torch.')}"
    )
    post(messages.ModelsReady(run, pair, summary, pair.load_seconds))
    return pair


def model_label(name: str) -> str:
    """A short name for a model: a directory's last component, or the hub id."""
    path = Path(name).expanduser()
    return path.name if path.is_dir() else name


def _play_round(
    stream: Iterator[EngineEvent],
    post: Post,
    control: StepControl,
    pair: ModelPair,
    run: int,
    on_idle: Callable[[int], None],
) -> bool:
    """Post one round's events, waiting before each gate check; False once the run is over."""
    from spectui.engine import events

    for event in stream:
        if isinstance(event, events.TokenChecked) and not control.wait(on_idle):
            return False
        post(to_message(event, pair, run))
        if isinstance(event, events.RoundFinished):
            control.round_ended()
            return True
        if isinstance(event, events.DecodeFinished):
            control.decode_ended()
            return False
    return False


def _decode_over(decoder: SpeculativeDecoder) -> bool:
    """Whether the engine's next event is DecodeFinished (so there is nothing to wait for).

    Mirrors the engine's stop rules from its public state; if it ever guessed wrong, the
    only effect is that the next round starts without waiting for a key.
    """
    config, pair = decoder.config, decoder.pair
    generated = decoder.output_ids
    eos = pair.eos_token_id
    return (
        (config.stop_at_eos and eos is not None and bool(generated) and generated[-1] == eos)
        or (config.max_new_tokens is None and decoder.tally.rounds >= 1)
        or (config.max_new_tokens is not None and len(generated) >= config.max_new_tokens)
        or len(decoder.tokens) >= pair.context_length
    )


def to_message(event: EngineEvent, pair: ModelPair, run: int) -> Message:
    """The app message for one engine event, with token ids decoded to text."""
    from spectui.engine import events

    text = pair.token_text
    if isinstance(event, events.RoundDrafted):
        return messages.RoundDrafted(
            run, event.round_index, tuple(text(t) for t in event.draft_ids), event.q, event.config
        )
    if isinstance(event, events.TokenChecked):
        check = event.check
        return messages.TokenChecked(
            run,
            event.round_index,
            check,
            text(check.token_id),
            text(check.top1_id),
            tuple((text(t), p) for t, p in check.alternatives),
        )
    if isinstance(event, events.TokenAppended):
        return messages.TokenAppended(
            run, event.round_index, text(event.token_id), event.origin.value, event.index
        )
    if isinstance(event, events.RoundFinished):
        return messages.RoundFinished(run, event.round_index, event.n_accepted, event.stats)
    return messages.DecodeFinished(run, event.reason.value, event.stats)
