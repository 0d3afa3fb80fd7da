"""The engine worker's body: load the models, iterate the engine, post one message per event.

It runs in a thread worker and never touches a widget: everything it learns leaves as a
message (see `messages.py`). Between events it waits on a `StepControl`, which is how a person
steps one gate check at a time. Torch and the engine's heavy modules are imported here, inside
the worker, so the app's first frame never waits for them.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message

from spectui.app import messages
from spectui.app.control import StepControl
from spectui.engine.config import DecodeConfig
from spectui.engine.text import StreamText

if TYPE_CHECKING:
    from spectui.engine.decode import SpeculativeDecoder
    from spectui.engine.events import EngineEvent
    from spectui.engine.loading import ModelPair

Post = Callable[[Message], Any]


class TokenTexts(Protocol):
    """What `to_message` needs of a model pair (a replayed trace answers it too)."""

    def token_text(self, token_id: int) -> str: ...


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
    from spectui.engine.trace import header_for

    header = header_for(pair, config, prompt, decoder.prompt_ids)
    post(
        messages.DecodeStarted(
            run, prompt, len(decoder.prompt_ids), pair.context_length, header=header
        )
    )
    stream = decoder.events()
    texts = StreamText(lambda ids: pair.tokenizer.decode(list(ids), skip_special_tokens=False))

    def on_idle(served: int) -> None:
        post(messages.EngineWaiting(run, served))

    ended = False  # DecodeFinished was posted: only a branch takes the decode further
    while True:
        # Wait *before* drafting, so settings changed between rounds apply to the next one;
        # when the engine has nothing left to draft, its DecodeFinished is posted at once.
        if (ended or not decoder.finished) and not control.wait(on_idle):
            return
        if branch := control.take_branch():
            stream.close()  # the rest of an unfinished round is dropped; the rewind undoes it
            _branch(decoder, *branch, post=post, run=run)
            stream, ended = decoder.events(), False
            continue
        if ended:
            continue
        if changes := control.take_changes():
            decoder.retune(**changes)
        ended = decoder.finished
        if not _play_round(stream, post, control, pair, run, on_idle, texts):
            return


def _branch(
    decoder: SpeculativeDecoder, round_index: int, changes: dict[str, Any], post: Post, run: int
) -> None:
    """Rewind the engine to the start of round `round_index`, retune it, and tell the UI."""
    decoder.rewind(round_index)
    if changes:
        decoder.retune(**changes)
    post(
        messages.Rewound(
            run, round_index, len(decoder.output_ids), decoder.tally.snapshot(), decoder.config
        )
    )


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
    _freeze_long_lived_objects()
    summary = (
        f"{model_label(config.drafter)} → {model_label(config.verifier)} · "
        f"{pair.device.type} · {str(pair.dtype).removeprefix('torch.')}"
    )
    post(messages.ModelsReady(run, pair, summary, pair.load_seconds))
    return pair


def _freeze_long_lived_objects() -> None:
    """Exempt what torch, transformers and the models allocated from the cyclic GC.

    Those objects live as long as the app, yet every full collection walks them all: during
    autoplay that was a ~250 ms stall of the UI thread every few hundred events (key-to-repaint
    max 260-280 ms; with the freeze 66-80 ms, `benchmarks/app_latency.py`).
    """
    gc.collect()
    gc.freeze()


def model_label(name: str) -> str:
    """A short name for a model: a directory's last component, or the hub id."""
    path = Path(name).expanduser()
    return path.name if path.is_dir() else name


def _play_round(
    stream: Iterator[EngineEvent],
    post: Post,
    control: StepControl,
    pair: TokenTexts,
    run: int,
    on_idle: Callable[[int], None],
    texts: StreamText | None = None,
) -> bool:
    """Post one round's events (or DecodeFinished), waiting before each gate check.

    Returns at the round's end, at the decode's end, or early when a branch is requested
    (the round's remaining checks are never shown); False once the run was stopped.
    """
    from spectui.engine import events

    for event in stream:
        if isinstance(event, events.TokenChecked):
            if not control.wait(on_idle):
                return False
            if control.branch_pending:
                return True
        post(to_message(event, pair, run, texts))
        if isinstance(event, events.RoundFinished):
            control.round_ended()
            return True
        if isinstance(event, events.DecodeFinished):
            control.decode_ended()
            return True
    return True


def to_message(
    event: EngineEvent, pair: TokenTexts, run: int, texts: StreamText | None = None
) -> Message:
    """The app message for one engine event, with token ids decoded to text.

    With `texts`, an appended token's text is its share of the whole output's text, so a
    character split over several tokens shows whole (see `StreamText`).
    """
    from spectui.engine import events

    text = pair.token_text
    if isinstance(event, events.RoundDrafted):
        drafts = tuple(text(t) for t in event.draft_ids)
        return messages.RoundDrafted(run, event.round_index, drafts, event.q, event.config, event)
    if isinstance(event, events.TokenChecked):
        check = event.check
        return messages.TokenChecked(
            run,
            event.round_index,
            check,
            text(check.token_id),
            text(check.top1_id),
            tuple((text(t), p) for t, p in check.alternatives),
            event,
        )
    if isinstance(event, events.TokenAppended):
        shown = text(event.token_id) if texts is None else texts.add(event.token_id, event.index)
        return messages.TokenAppended(
            run,
            event.round_index,
            shown,
            event.origin.value,
            event.index,
            token_text=text(event.token_id),
            event=event,
        )
    if isinstance(event, events.RoundFinished):
        return messages.RoundFinished(run, event.round_index, event.n_accepted, event.stats, event)
    return messages.DecodeFinished(run, event.reason.value, event.stats, event)
