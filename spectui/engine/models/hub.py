"""One Hugging Face model, by local directory or hub id, with every failure put in words.

A hub id is read from the local cache first and fetched only when the hub answers, so an
offline machine gets a message naming what to do rather than a retrying download.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel

from spectui.engine.errors import ModelLoadError
from spectui.engine.models.progress import LoadCancelled, ReportingBar


def load_model(
    name: str,
    role: str,
    device: torch.device,
    dtype: torch.dtype,
    device_map: str | None,
    bar_class: type[ReportingBar] | None = None,
) -> PreTrainedModel:
    """A causal LM in eval mode on `device` (or placed by accelerate's `device_map`)."""
    bars = {} if bar_class is None else {"tqdm_class": bar_class}  # the downloads' progress
    if device_map is not None:  # accelerate places the layers (over every GPU, then the CPU)
        _check_accelerate()
        model = load_pretrained(
            AutoModelForCausalLM, name, role, dtype=dtype, device_map=device_map, **bars
        )
        model.eval()
        return model
    model = load_pretrained(AutoModelForCausalLM, name, role, dtype=dtype, **bars)
    try:
        model = model.to(device)
    except (RuntimeError, MemoryError) as error:
        raise ModelLoadError(_memory_message(name, role, model, error)) from None
    model.eval()
    return model


def _check_accelerate() -> None:
    try:
        import accelerate  # noqa: F401
    except ImportError:
        raise ModelLoadError(
            "--device-map hands loading to Hugging Face accelerate, which is not installed: "
            "pip install accelerate (or spectui[big]), or leave --device-map out."
        ) from None


def load_pretrained(loader: Any, name: str, role: str, **kwargs: Any) -> Any:
    """`loader.from_pretrained(name)` with every failure turned into a one-paragraph message."""
    _check_local_path(name, role)
    local = Path(name).expanduser().is_dir()
    try:
        if not local:
            return _from_hub(loader, name, role, **kwargs)
        return loader.from_pretrained(str(Path(name).expanduser()), **kwargs)
    except (ModelLoadError, LoadCancelled):
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
    except (OSError, ValueError, KeyError, RuntimeError, MemoryError, LoadCancelled):
        raise  # a missing repo, a bad model, memory, a cancel: told apart by _load
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
        f"network (hf download {name}) and copy the cache over, or save the model "
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
