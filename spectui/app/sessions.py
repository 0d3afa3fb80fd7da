"""Where the decode screen's decodes come from: models loaded here, or a saved trace.

A session opens one `EventSource` per run, inside the engine worker, and says what the screen
may offer (`abilities`): a trace cannot retune, branch or decode another prompt, so those
keys leave the Footer and the palette. Nothing else on the screen tells the two apart.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spectui.app import messages
from spectui.app.driver import Post
from spectui.engine.events import TokenAppended
from spectui.engine.models.progress import LoadCancelled
from spectui.engine.prompts import chat_prompt
from spectui.engine.remote.servers import model_id
from spectui.engine.trace.log import EventLog
from spectui.engine.trace.source import Ability, LiveSource, TraceSource

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.trace.header import Trace
    from spectui.engine.trace.source import EventSource


@dataclass(frozen=True)
class ChatTurns:
    """--chat: prompts go in as user turns of the verifier tokenizer's chat template."""

    system: str | None = None  # --system TEXT: a system turn before each


class LiveSession:
    """Decodes on a model pair, loaded by the first run and kept for the next ones."""

    abilities = frozenset(Ability)
    title = ""
    needs_models = True  # the first run loads them; the screen keeps them from `ModelsReady`

    def __init__(
        self,
        api_key: str | None = None,
        chat: ChatTurns | None = None,
        notice: str | None = None,
        chat_prompts: frozenset[str] = frozenset(),
    ) -> None:
        # Said once the models are ready and kept in the header: how to get the real pair
        # where spectui fell back to the tiny one.
        self.notice = notice
        self.api_key = api_key  # for model servers; never shown
        self.chat = chat  # --chat: each prompt decoded as a user turn of the chat template
        # Prompts the `e` list offers as chat turns: decoded as if --chat, whatever it is.
        self.chat_prompts = chat_prompts
        self.cancel = threading.Event()  # set on quit: a download or load stops at its next step
        self.loader: threading.Thread | None = None  # the thread loading the pair, if one did

    def open(self, post: Post, run: int, config: DecodeConfig, prompt: str) -> EventSource:
        """Load the pair (posting progress), then start the decode on it (worker thread).

        The loaded pair reaches the screen only in the `ModelsReady` message `load` posts; the
        screen hands it to the next run's worker (`start`): nothing here is kept between runs.
        """
        return self.start(self._load_quittably(post, run, config), config, prompt)

    def start(self, pair: ModelPair, config: DecodeConfig, prompt: str) -> EventSource:
        """Start the decode of `prompt` on the loaded `pair` (worker thread)."""
        chat = self.chat or (ChatTurns() if prompt in self.chat_prompts else None)
        if chat is None:
            return LiveSource(pair, config, prompt)
        # The stream shows the template's text; the decode starts from its ids.
        wrapped = chat_prompt(pair.tokenizer, prompt, chat.system)
        return LiveSource(pair, config, wrapped.text, wrapped.ids)

    def _load_quittably(self, post: Post, run: int, config: DecodeConfig) -> ModelPair:
        """Load in a thread of its own and wait for it, so that quitting need not wait.

        Importing torch cannot be interrupted, and Textual's exit waits for its worker
        threads: a `q` during start-up waited for the import (20 s on a busy machine). The
        worker returns on quit instead; the command then ends the process (`loading`).
        """
        done: list[ModelPair] = []
        failed: list[BaseException] = []

        def body() -> None:
            try:
                done.append(load(post, run, config, self.api_key, self.cancel))
            except BaseException as error:  # handed to the worker, which raises it
                failed.append(error)

        self.loader = threading.Thread(target=body, name="spectui-load", daemon=True)
        self.loader.start()
        while self.loader.is_alive():
            self.loader.join(0.05)
            if self.cancel.is_set():
                raise LoadCancelled("the app was closed while the models loaded")
        if failed:
            raise failed[0]
        return done[0]

    @property
    def loading(self) -> bool:
        """Whether a load is still under way (after a quit: the process can end at once)."""
        return self.loader is not None and self.loader.is_alive()

    def stop(self) -> None:
        """The app is closing: a load under way stops at its next step (LoadCancelled)."""
        self.cancel.set()

    def resumable(self, source: EventSource | None, round_index: int) -> bool:
        """Whether `source`, the latest decode, can go back to the start of `round_index`."""
        return isinstance(source, LiveSource) and round_index < len(source.decoder.checkpoints)

    def log_to_save(self, played: EventLog | None) -> EventLog | None:
        """What w saves: the decode so far."""
        return played


class TraceSession:
    """Replays a trace: no model, tokenizer or torch."""

    abilities: frozenset[Ability] = frozenset()
    needs_models = False
    notice: str | None = None

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.title = f"replay of {trace.path.name}"

    def stop(self) -> None:
        """Nothing runs in the background of a replay."""

    def resumable(self, source: EventSource | None, round_index: int) -> bool:
        """A trace plays to its end: there is nothing to retry."""
        return False

    def log_to_save(self, played: EventLog | None) -> EventLog:
        """What w saves: the whole trace, however far it was played."""
        source = TraceSource(self.trace)
        log = EventLog(source.header)
        for event in self.trace.events():  # the recorded ones: no end-of-trace event
            shown = source.shown(event) if isinstance(event, TokenAppended) else None
            log.record(event, source.texts(event), shown)
        return log

    def open(self, post: Post, run: int, config: DecodeConfig, prompt: str) -> EventSource:
        """The trace from its start."""
        post(messages.ModelsReady(run, None, trace_summary(self.trace), 0.0))
        return TraceSource(self.trace)


Session = LiveSession | TraceSession


def load(
    post: Post,
    run: int,
    config: DecodeConfig,
    api_key: str | None,
    cancel: threading.Event | None = None,
) -> ModelPair:
    """Import torch and load the pair, posting progress; returns the loaded pair."""
    post(messages.LoadProgress(run, "importing torch and transformers…"))
    from spectui.engine.models.loading import load_pair

    pair = load_pair(
        config,
        progress=lambda text: post(messages.LoadProgress(run, text)),
        api_key=api_key,
        bars=lambda bar: post(messages.LoadBar(run, bar)),
        cancel=cancel,
    )
    _freeze_long_lived_objects()
    summary = models_summary(pair)
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


def models_summary(pair: ModelPair) -> str:
    """The models line: drafter → verifier · device · dtype; on a CPU whose linears run on
    torch's default kernel (asked for, or where no fast one can run) `MKL` after the dtype, on
    oneDNN `oneDNN`, on the int4 kernel `int4`, and `not exact` below float32. The default,
    spectui's panels in float32, adds nothing."""
    dtype_name = str(pair.dtype).removeprefix("torch.")
    line = f"{model_label(pair.drafter_id)} → {model_label(pair.verifier_id)}"
    line += f" · {pair.device.type} · {dtype_name}"
    running = pair.kernels.running if pair.kernels is not None else None
    if pair.device.type == "cpu" and running == "default":
        line += " MKL"
    if running == "onednn":
        line += " oneDNN"
    if running == "int4":
        line += " int4"
    if not pair.exact:
        # Below float32 a block's argmax can differ from a step's (near-ties round apart):
        # greedy-exact is then not exactly the verifier's one-token-at-a-time greedy text.
        line += ", not exact"
    return line


def trace_summary(trace: Trace) -> str:
    """The models line of a trace: its file and its models by name (none is loaded)."""
    header = trace.header
    config = header.config
    drafter = model_id(config.drafter, config.drafter_url, config.drafter_model)
    verifier = model_id(config.verifier, config.verifier_url, config.verifier_model)
    return f"{trace.path.name}: {model_label(drafter)} → {model_label(verifier)}"


def model_label(name: str) -> str:
    """A short name for a model: a directory's last component, or the hub id."""
    if " @ " in name:  # a served model: its name and the server, as they are
        return name
    path = Path(name).expanduser()
    # A model directory from another machine (a trace) does not exist here: still its last part.
    return path.name if path.is_dir() or path.is_absolute() else name
