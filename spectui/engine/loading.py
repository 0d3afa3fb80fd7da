"""Loading a drafter/verifier pair: any Hugging Face causal LM, by hub id or local directory."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as transformers_logging

from spectui.engine.config import DecodeConfig
from spectui.engine.errors import ModelLoadError

Progress = Callable[[str], None]
UNBOUNDED_CONTEXT = 1 << 30  # for models whose config names no position limit
# Any of these in a directory means it ships its own tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


@dataclass
class ModelPair:
    """A loaded drafter and verifier sharing the verifier's tokenizer (as the seed does)."""

    tokenizer: Any
    drafter: PreTrainedModel
    verifier: PreTrainedModel
    device: torch.device
    dtype: torch.dtype
    drafter_id: str
    verifier_id: str
    context_length: int  # the smaller of the two models' position limits
    load_seconds: float

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


def pick_dtype(requested: str) -> torch.dtype:
    """torch dtype for a config name; "auto" is float32, the seed's precision."""
    return torch.float32 if requested == "auto" else getattr(torch, requested)


def load_pair(config: DecodeConfig, progress: Progress | None = None) -> ModelPair:
    """Load tokenizer, drafter and verifier named by `config`, or raise ModelLoadError."""
    say = progress or (lambda _message: None)
    # Progress bars and warnings would scribble over the app's screen and the CLI's tables.
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    started = time.perf_counter()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = _checked_device(config.device)
    dtype = pick_dtype(config.dtype)
    say(f"loading tokenizer from {config.verifier}")
    tokenizer = _load(AutoTokenizer, config.verifier, "verifier")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    say(f"loading drafter {config.drafter}")
    drafter = _load_model(config.drafter, "drafter", device, dtype)
    say(f"loading verifier {config.verifier}")
    verifier = _load_model(config.verifier, "verifier", device, dtype)
    _check_vocabularies(config, tokenizer, drafter, verifier)
    return ModelPair(
        tokenizer=tokenizer,
        drafter=drafter,
        verifier=verifier,
        device=device,
        dtype=dtype,
        drafter_id=config.drafter,
        verifier_id=config.verifier,
        context_length=min(context_length(drafter), context_length(verifier)),
        load_seconds=time.perf_counter() - started,
    )


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


def _load_model(name: str, role: str, device: torch.device, dtype: torch.dtype) -> PreTrainedModel:
    model = _load(AutoModelForCausalLM, name, role, dtype=dtype)
    try:
        model = model.to(device)
    except (RuntimeError, MemoryError) as error:
        raise ModelLoadError(_memory_message(name, role, model, error)) from None
    model.eval()
    return model


def _load(loader: Any, name: str, role: str, **kwargs: Any) -> Any:
    """`loader.from_pretrained(name)` with every failure turned into a one-paragraph message."""
    _check_local_path(name, role)
    local = Path(name).expanduser().is_dir()
    try:
        if not local:
            return _from_hub(loader, name, role, **kwargs)
        return loader.from_pretrained(str(Path(name).expanduser()), **kwargs)
    except ModelLoadError:
        raise
    except MemoryError as error:
        raise ModelLoadError(_memory_message(name, role, None, error)) from None
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        if _out_of_memory(error):
            raise ModelLoadError(_memory_message(name, role, None, error)) from None
        raise ModelLoadError(_not_loadable_message(name, role, local, error)) from None


def _out_of_memory(error: BaseException) -> bool:
    """Whether a load failed for memory: CUDA/MPS OOM or the CPU allocator giving up."""
    text = str(error).lower()
    return isinstance(error, torch.OutOfMemoryError) or any(
        words in text for words in ("out of memory", "not enough memory", "cannot allocate memory")
    )


def _from_hub(loader: Any, name: str, role: str, **kwargs: Any) -> Any:
    """Load a hub id from the local cache first; go online only if the hub answers."""
    try:
        return loader.from_pretrained(name, local_files_only=True, **kwargs)
    except OSError:
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not hub_reachable():
        raise ModelLoadError(_offline_message(name, role))
    try:
        return loader.from_pretrained(name, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, MemoryError):
        raise  # a missing repo, a bad model, memory: told apart by _load
    except Exception as error:  # the download broke off (httpx errors are not OSErrors)
        raise ModelLoadError(
            f"Downloading the {role} {name!r} from the Hugging Face hub failed: "
            f"{type(error).__name__}: {error}. Check the network and try again, or pass "
            f"--{role} a local directory."
        ) from None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub's host accepts a connection (fast, no retries)."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with slashes is meant as a path.
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _check_local_path(name: str, role: str) -> None:
    path = Path(name).expanduser()
    if _looks_like_path(name) and not path.exists():
        raise ModelLoadError(
            f"The {role} {name!r} does not exist: there is no directory at {path}. "
            f"Pass --{role} a directory holding a Hugging Face model (config.json and weights), "
            "or a hub id such as gpt2."
        )
    if path.exists() and not path.is_dir():
        raise ModelLoadError(
            f"The {role} {name!r} is a file, not a model directory. Pass the directory that "
            "holds config.json and the weights."
        )


def _offline_message(name: str, role: str) -> str:
    return (
        f"The {role} {name!r} is not available offline: it is not in the local Hugging Face "
        "cache and the hub cannot be reached from this machine. Download it where you have "
        f"network (huggingface-cli download {name}) and copy the cache over, or save the model "
        f"to a directory and pass it as --{role} /path/to/dir. Without any option spectui uses "
        "its bundled offline pair."
    )


def _not_loadable_message(name: str, role: str, local: bool, error: Exception) -> str:
    first_line = _first_line(error)
    if not local:
        return (
            f"Could not load the {role} {name!r} from the Hugging Face hub: {first_line} "
            "Check the id's spelling at https://huggingface.co/models (a private or gated model "
            f"needs `hf auth login`), or pass --{role} a local model directory."
        )
    return (
        f"Could not load the {role} from the directory {name!r}: {first_line} "
        "A model directory needs config.json, weights (model.safetensors or pytorch_model.bin) "
        "and, for the verifier, tokenizer files; any Hugging Face causal language model works."
    )


def _first_line(error: BaseException) -> str:
    """An error's first line, or its type where it has no message (a bare MemoryError)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _memory_message(name: str, role: str, model: Any, error: BaseException) -> str:
    size = ""
    if model is not None:
        size = f" ({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters)"
    return (
        f"Not enough memory to load the {role} {name!r}{size}: {_first_line(error)} "
        "Try --dtype float16 or bfloat16, another --device, or a smaller model."
    )


def _vocab_size(model: PreTrainedModel) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def _check_vocabularies(
    config: DecodeConfig, tokenizer: Any, drafter: PreTrainedModel, verifier: PreTrainedModel
) -> None:
    drafter_vocab, verifier_vocab = _vocab_size(drafter), _vocab_size(verifier)
    if drafter_vocab != verifier_vocab:
        raise ModelLoadError(
            f"The drafter {config.drafter!r} has a vocabulary of {drafter_vocab} tokens but the "
            f"verifier {config.verifier!r} has {verifier_vocab}: speculative decoding needs a "
            "pair that shares one tokenizer. Pick models of one family (e.g. gpt2 with "
            "gpt2-medium)."
        )
    if len(tokenizer) > verifier_vocab:
        raise ModelLoadError(
            f"The verifier's tokenizer has {len(tokenizer)} tokens but its model only "
            f"{verifier_vocab} outputs: the tokenizer does not belong to {config.verifier!r}."
        )
    drafter_tokenizer = _optional_tokenizer(config.drafter)
    if drafter_tokenizer is not None and drafter_tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ModelLoadError(
            f"The drafter {config.drafter!r} and the verifier {config.verifier!r} have "
            "tokenizers of the same size but different vocabularies: token ids would mean "
            "different things to each. Pick a pair that shares one tokenizer."
        )


def _optional_tokenizer(name: str) -> Any | None:
    """The drafter's own tokenizer where it ships one; None where it has none."""
    try:
        directory = Path(name).expanduser()
        if directory.is_dir():
            # Without tokenizer files transformers builds an empty tokenizer from config.json
            # alone, which would read as a different vocabulary: a model-only directory has none.
            if not any((directory / file).exists() for file in TOKENIZER_FILES):
                return None
            return AutoTokenizer.from_pretrained(str(directory))
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError, KeyError):
        return None
