"""Loading a drafter/verifier pair: any Hugging Face causal LM, by hub id or local directory."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoTokenizer, PreTrainedModel
from transformers.utils import logging as transformers_logging

from spectui.engine.config import DecodeConfig
from spectui.engine.drafters.methods import DraftMethod, EarlyExit, NgramLookup, draft_method
from spectui.engine.errors import ModelLoadError
from spectui.engine.models.draft_vocabulary import DraftVocabulary, read_draft_vocabulary
from spectui.engine.models.gguf import converted_directory, gguf_file, gguf_source
from spectui.engine.models.hub import load_model, load_pretrained
from spectui.engine.models.kernels import KernelChoice, output_rows, prepack_linears
from spectui.engine.models.progress import BarSink, reporting
from spectui.engine.models.vocabulary import check_vocabularies
from spectui.engine.remote.servers import (
    UNBOUNDED_CONTEXT,
    Endpoint,
    connect,
    endpoint_keywords,
    model_id,
)

if TYPE_CHECKING:
    from spectui.engine.seams import Drafter, Verifier

Progress = Callable[[str], None]


@dataclass
class ModelPair:
    """A drafter and a verifier sharing one tokenizer (the verifier's, as the seed's).

    Either model is loaded here (`drafter`/`verifier`) or served (`*_endpoint`); `new_drafter`
    and `new_verifier` give the decode loop its seams either way. With a `draft_method`
    (n-gram lookup, early exit) there is no drafter model: `drafter` and its endpoint are None.
    """

    tokenizer: Any
    drafter: PreTrainedModel | None
    verifier: PreTrainedModel | None
    device: torch.device
    dtype: torch.dtype
    drafter_id: str
    verifier_id: str
    context_length: int  # the smaller of the two models' position limits
    load_seconds: float
    vocab_size: int = 0  # the tokenizer's ids: both models' logits are cut to these (0: uncut)
    drafter_endpoint: Endpoint | None = None
    verifier_endpoint: Endpoint | None = None
    # The drafter's rows as verifier ids, where it drafts over part of the vocabulary.
    drafter_vocabulary: DraftVocabulary | None = None
    # Seconds this start spent converting GGUF files (0 where they were cached already).
    conversion_seconds: float = 0.0
    # How drafts are made without a drafter model (`--drafter ngram`, `early-exit:N`).
    draft_method: DraftMethod | None = None
    # The kernel the local models' linear layers run on (None: no model is loaded here).
    kernels: KernelChoice | None = None

    def new_drafter(self) -> Drafter:
        """A drafter for one decode: the local model with a fresh cache, the server, or the
        draft method's (n-gram lookup; early exit on the verifier's own weights)."""
        if isinstance(self.draft_method, NgramLookup):
            from spectui.engine.drafters.ngram import NgramDrafter

            method = self.draft_method
            width = self.vocab_size or self._p_width()
            return NgramDrafter(method.min_n, method.max_n, width, method.rule)
        if isinstance(self.draft_method, EarlyExit):
            from spectui.engine.drafters.early_exit import EarlyExitDrafter

            verifier = self.local("verifier")
            return EarlyExitDrafter(
                verifier, self.draft_method.layers, self.device, self.vocab_size or None
            )
        if self.drafter_endpoint is not None:
            from spectui.engine.remote.seams import RemoteDrafter

            return RemoteDrafter(**endpoint_keywords(self.drafter_endpoint))
        from spectui.engine.models.local import LocalDrafter

        assert self.drafter is not None
        return LocalDrafter(
            self.drafter, self.device, self.vocab_size or None, self.drafter_vocabulary
        )

    def new_verifier(self) -> Verifier:
        """A verifier for one decode: the local model with a fresh cache, or the server."""
        if self.verifier_endpoint is not None:
            from spectui.engine.remote.seams import RemoteVerifier

            return RemoteVerifier(**endpoint_keywords(self.verifier_endpoint))
        from spectui.engine.models.local import LocalVerifier

        assert self.verifier is not None
        return LocalVerifier(self.verifier, self.device, self.vocab_size or None)

    def resolved(self, config: DecodeConfig) -> DecodeConfig:
        """`config` naming the served models it reached (what a trace of it records)."""
        drafter, verifier = self.drafter_endpoint, self.verifier_endpoint
        return replace(
            config,
            drafter_model=drafter.model if drafter else config.drafter_model,
            verifier_model=verifier.model if verifier else config.verifier_model,
        )

    def _p_width(self) -> int:
        """How many tokens the verifier's p scores (its output rows) where no vocab_size cuts it."""
        return output_rows(self.local("verifier"))

    def local(self, role: str) -> PreTrainedModel:
        """The drafter or verifier loaded here, or a ModelLoadError saying it is served."""
        model = self.drafter if role == "drafter" else self.verifier
        if model is None and role == "drafter" and self.draft_method is not None:
            raise ModelLoadError(
                f"This needs a drafter model loaded in spectui, and the drafter is "
                f"{self.draft_method.label}, which has none: pass --drafter a model id or "
                "directory."
            )
        if model is None:
            raise ModelLoadError(
                f"This needs the {role} loaded in spectui, but it is on a server: pass "
                f"--{role} a model id or directory without --{role}-url."
            )
        return model

    @property
    def exact(self) -> bool:
        """Whether the local models compute float32 sums, so that a block's argmax is a
        step's (below it, bfloat16 or int4, a near-tie can round apart)."""
        running = self.kernels.running if self.kernels is not None else None
        return self.dtype == torch.float32 and running != "int4"

    @property
    def tree_problem(self) -> str | None:
        """Why this pair cannot draft and verify token trees (`engine.tree`), or None."""
        from spectui.engine.tree.mask import tree_problem

        for role, model in (("drafter", self.drafter), ("verifier", self.verifier)):
            if model is None:
                return f"the {role} is on a server, which takes no tree attention mask"
            problem = tree_problem(model, role)
            if problem is not None:
                return problem
        return None

    @property
    def eos_token_id(self) -> int | None:
        """The tokenizer's end-of-sequence id, if it has one."""
        return self.tokenizer.eos_token_id

    def token_text(self, token_id: int) -> str:
        """One token as text, special tokens included (so EOS is visible)."""
        return str(self.tokenizer.decode([token_id], skip_special_tokens=False))

    def text(self, token_ids: list[int] | tuple[int, ...]) -> str:
        """Token ids as text, special tokens dropped (as the seed's decode)."""
        return str(self.tokenizer.decode(list(token_ids), skip_special_tokens=True))


def pick_device(requested: str) -> torch.device:
    """The device to run on: the request, or mps -> cuda -> cpu for "auto" (as the seed)."""
    if requested != "auto":
        return torch.device(requested)
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def pick_dtype(requested: str, kernels: str = "fast") -> torch.dtype:
    """torch dtype for a config name; "auto" is float32, the seed's precision, except on the
    int4 kernel, which runs fast only with bfloat16 activations."""
    if requested == "auto":
        return torch.bfloat16 if kernels == "int4" else torch.float32
    return getattr(torch, requested)


def load_pair(
    config: DecodeConfig,
    progress: Progress | None = None,
    api_key: str | None = None,
    bars: BarSink | None = None,
    cancel: threading.Event | None = None,
) -> ModelPair:
    """Load the tokenizer and the models named by `config` (or reach their servers).

    `progress` hears of each stage; `bars`, of each download's and weight-loading's progress
    (see `progress.py`); setting `cancel` stops a download or load at its next step.
    Raises ModelLoadError (or RemoteError for a server) with a one-paragraph message, or
    LoadCancelled.
    """
    say = progress or (lambda _message: None)
    # Progress bars and warnings would scribble over the app's screen and the CLI's tables.
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    started = time.perf_counter()
    device = _checked_device(config.device)
    torch.set_num_threads(engine_threads(config.threads, device))
    dtype = pick_dtype(config.dtype, config.kernels)
    converting = time.perf_counter()
    local = converted_config(config, say, bars, cancel)
    conversion_seconds = time.perf_counter() - converting if local != config else 0.0
    source, role = tokenizer_source(local)
    say(f"loading tokenizer from {source}")
    tokenizer = load_pretrained(AutoTokenizer, source, role)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    models: dict[str, PreTrainedModel | None] = {}
    endpoints: dict[str, Endpoint | None] = {}
    limits: list[int] = []
    method = draft_method(config)
    roles = (
        ("drafter", local.drafter, config.drafter_url, config.drafter_model),
        ("verifier", local.verifier, config.verifier_url, config.verifier_model),
    )
    # Servers first: one that is down or serves another model is told in a second, not after
    # the local model's load.
    for role, name, url, served in sorted(roles, key=lambda role: role[2] is None):
        if role == "drafter" and method is not None:  # no drafter model: the verifier's limit
            models[role], endpoints[role] = None, None
        elif url is None:
            say(f"loading {role} {name}")
            precision = dtype if role == "verifier" else drafter_dtype(config, device, dtype, say)
            with reporting(bars, role, cancel) as bar_class:
                model = load_model(name, role, device, precision, config.device_map, bar_class)
            models[role], endpoints[role] = model, None
            limits.append(context_length(model))
        else:
            say(f"connecting to the {role} server {url}")
            endpoint, limit = connect(role, url, served, config, tokenizer, api_key)
            models[role], endpoints[role] = None, endpoint
            limits.append(limit)
    vocabulary = (
        None if models["drafter"] is None else read_draft_vocabulary(local.drafter, tokenizer)
    )
    check_vocabularies(local, tokenizer, models["drafter"], models["verifier"], vocabulary)
    kernels = run_on_kernels(models, config.kernels, say, gguf_files(config))
    drafter_id = _model_id(config.drafter, endpoints["drafter"])
    if method is not None:
        drafter_id = method_label(method, models["verifier"])
    pair = ModelPair(
        tokenizer=tokenizer,
        drafter=models["drafter"],
        verifier=models["verifier"],
        device=_input_device(models, device),
        dtype=dtype,
        drafter_id=drafter_id,
        verifier_id=_model_id(config.verifier, endpoints["verifier"]),
        context_length=min(limits),
        load_seconds=time.perf_counter() - started,
        vocab_size=len(tokenizer),
        drafter_endpoint=endpoints["drafter"],
        verifier_endpoint=endpoints["verifier"],
        drafter_vocabulary=vocabulary,
        conversion_seconds=conversion_seconds if conversion_seconds > 0.5 else 0.0,
        draft_method=method,
        kernels=kernels,
    )
    if config.tree is not None and pair.tree_problem is not None:
        raise ModelLoadError(f"This pair cannot draft token trees: {pair.tree_problem}.")
    return pair


def drafter_dtype(
    config: DecodeConfig, device: torch.device, dtype: torch.dtype, say: Progress
) -> torch.dtype:
    """The drafter's precision: --drafter-dtype, else the verifier's; a reduced one the fast
    CPU kernel cannot run here falls back to the verifier's, said once."""
    if config.drafter_dtype == "auto":
        return dtype
    asked = pick_dtype(config.drafter_dtype)
    if device.type == "cpu" and config.kernels in ("fast", "onednn") and asked != dtype:
        from spectui.engine.models.kernels import fast_kernel_problem

        problem = fast_kernel_problem(device, asked)
        if problem is not None:
            name = str(dtype).removeprefix("torch.")
            say(f"the drafter runs in {name}, not {config.drafter_dtype}: {problem}")
            return dtype
    return asked


def run_on_kernels(
    models: dict[str, PreTrainedModel | None],
    asked: str,
    say: Progress,
    files: dict[str, Path | None] | None = None,
) -> KernelChoice | None:
    """Put the local models' linear layers on the kernel `asked` for (int4 reads the GGUF
    `files` each model was converted from); the verifier's choice (else the drafter's), said
    once where it falls back."""
    files = files or {}
    if asked == "int4":
        say("packing the GGUF's Q4_1 layers as int4 (each checked against the loaded weight)")
    choices = {
        role: prepack_linears(model, asked, files.get(role))
        for role, model in models.items()
        if model is not None
    }
    choice = choices.get("verifier") or choices.get("drafter")
    if choice is not None and choice.reason:
        say(f"kernels: {choice.label}, not {asked}: {choice.reason}")
    return choice


def engine_threads(asked: int | None, device: torch.device) -> int:
    """The torch threads a decode runs on: `--threads` where given; else on a CPU half the
    cores, at least one. Measured on 2 cores (README, "Threads"): a second thread made a
    one-token step 1.3× faster on an idle machine, but 2.7× slower with one busy process
    beside it (OpenMP's threads spin-wait for each other, and one of them is descheduled),
    and the app's own screen is such a process. Off the CPU, torch's own count."""
    if asked is not None:
        return asked
    if device.type != "cpu":
        return torch.get_num_threads()
    return max(1, (os.cpu_count() or 1) // 2)


def gguf_files(config: DecodeConfig) -> dict[str, Path | None]:
    """The GGUF file each local model of `config` is named by, or None."""
    return {
        "drafter": gguf_file(config.drafter) if config.drafter_url is None else None,
        "verifier": gguf_file(config.verifier) if config.verifier_url is None else None,
    }


def converted_config(
    config: DecodeConfig,
    say: Progress,
    bars: BarSink | None = None,
    cancel: threading.Event | None = None,
) -> DecodeConfig:
    """`config` with each local model named by a GGUF file named by its converted directory
    instead (converting it first where it is not cached: the one slow start)."""
    local = config
    for role, name, url in (
        ("drafter", config.drafter, config.drafter_url),
        ("verifier", config.verifier, config.verifier_url),
    ):
        drafting = role == "drafter" and draft_method(config) is not None  # no drafter model
        file = gguf_file(name) if url is None and not drafting else None
        if file is None:
            continue
        source = gguf_source(file, role)
        if not source.converted:
            say(f"converting the {role} {file.name} from GGUF (once; cached in {source.cache})")
        with reporting(bars, role, cancel) as bar_class:
            directory = str(converted_directory(source, role, bar_class))
        local = (
            replace(local, drafter=directory)
            if role == "drafter"
            else replace(local, verifier=directory)
        )
    return local


def tokenizer_source(config: DecodeConfig) -> tuple[str, str]:
    """Where the pair's tokenizer comes from: the verifier, or the drafter if it is served
    (without a drafter model, `--verifier` names the served verifier's tokenizer)."""
    if config.verifier_url is None or config.drafter_url is not None:
        return config.verifier, "verifier"
    if draft_method(config) is not None:
        return config.verifier, "verifier"
    return config.drafter, "drafter"


def method_label(method: DraftMethod, verifier: PreTrainedModel | None) -> str:
    """The drafter's name on screen: the method, and for early exit the verifier's depth.

    Refuses early exit here, when the pair loads, where the verifier cannot run it.
    """
    if not isinstance(method, EarlyExit):
        return method.label
    from spectui.engine.drafters.early_exit import early_exit_problem, verifier_layers

    assert verifier is not None  # DecodeConfig refuses early exit with a served verifier
    problem = early_exit_problem(verifier, method.layers)
    if problem is not None:
        raise ModelLoadError(problem)
    return f"early exit ({method.layers}/{verifier_layers(verifier)} layers of the verifier)"


def _model_id(name: str, endpoint: Endpoint | None) -> str:
    return name if endpoint is None else model_id(name, endpoint.url, endpoint.model)


def _input_device(models: dict[str, PreTrainedModel | None], requested: torch.device) -> Any:
    """Where input ids go: the verifier's (else the drafter's) embedding, or the request."""
    for model in (models["verifier"], models["drafter"]):
        if model is not None:
            return model.get_input_embeddings().weight.device
    return requested


def context_length(model: PreTrainedModel) -> int:
    """How many positions the model can attend over."""
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return UNBOUNDED_CONTEXT


def _checked_device(requested: str) -> torch.device:
    device = pick_device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {requested!r} was asked for, but this torch build sees no CUDA GPU. "
            "Use --device cpu (or auto)."
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"device {requested!r} was asked for, but MPS is not available here.")
    return device
