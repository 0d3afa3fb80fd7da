"""GGUF files as model inputs: dequantized once into a cache directory that later starts load.

transformers reads a GGUF file (`from_pretrained(dir, gguf_file=name)`) by dequantizing every
tensor, which takes tens of seconds for a 135M model on two cores, and it refuses to
`save_pretrained` the result ("quantized with gguf and is not serializable"). So the first
start converts the file into an ordinary model directory (config, float32 safetensors,
tokenizer) under the user's cache, named by the file's stem and a key of its size, mtime and
first and last MiB (a changed file is a new key), written beside it and renamed into place
only when whole: a cancelled or failed conversion leaves no half-written cache. Later starts
load that directory as any local model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectui.engine.errors import ModelLoadError
from spectui.engine.models.progress import ReportingBar, StageBar

GGUF_SUFFIX = ".gguf"
MARKER_FILE = "spectui-gguf.json"  # written last: a directory without it is not a cache
KEY_SPAN = 1 << 20  # bytes read from each end of the file for its key


@dataclass(frozen=True)
class GgufSource:
    """A GGUF file named as a model, and where its conversion is cached."""

    file: Path
    cache: Path

    @property
    def converted(self) -> bool:
        """Whether the cache holds a whole conversion of this very file."""
        return (self.cache / MARKER_FILE).is_file()


def gguf_file(name: str) -> Path | None:
    """The GGUF file `name` means: a `.gguf` path, or a directory holding one (no config.json)."""
    path = Path(name).expanduser()
    if path.suffix.lower() == GGUF_SUFFIX:
        return path
    if path.is_dir() and not (path / "config.json").exists():
        files = sorted(path.glob(f"*{GGUF_SUFFIX}"))
        if len(files) == 1:
            return files[0]
    return None


def cache_root() -> Path:
    """Where spectui caches converted models: $SPECTUI_CACHE, else the user's cache dir."""
    if explicit := os.environ.get("SPECTUI_CACHE"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "spectui"


def gguf_source(file: Path, role: str) -> GgufSource:
    """The source for `file`, checked to exist and keyed to its contents."""
    if not file.is_file():
        raise ModelLoadError(
            f"The {role} {str(file)!r} does not exist: there is no GGUF file at "
            f"{file.expanduser()}. Pass --{role} a .gguf file, a model directory or a hub id."
        )
    return GgufSource(file, cache_root() / "gguf" / f"{file.stem}-{file_key(file)}")


def file_key(file: Path) -> str:
    """16 hex digits that change when the file's size, mtime or either end changes."""
    stat = file.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    with file.open("rb") as handle:
        digest.update(handle.read(KEY_SPAN))
        handle.seek(max(0, stat.st_size - KEY_SPAN))
        digest.update(handle.read(KEY_SPAN))
    return digest.hexdigest()[:16]


def converted_directory(source: GgufSource, role: str, bar_class: type | None = None) -> Path:
    """The model directory for `source`, converting the file first if it is not cached.

    `bar_class` (a `ReportingBar` subclass) hears of the tensors dequantized; its cancel
    event stops the conversion, and the partial directory is removed.
    """
    if source.converted:
        return source.cache
    stages = _stages(bar_class)
    if stages is not None:
        stages.begin("reading the GGUF file")  # the first second: check_readable reads it
    with _read_once():
        check_readable(source.file, role)
        return _convert(source, role, bar_class, stages)


def _convert(
    source: GgufSource, role: str, bar_class: type | None, stages: StageBar | None
) -> Path:
    """Write the conversion beside the cache, then move it into place (nothing half-written
    is ever the cache)."""
    partial = source.cache.with_name(f".{source.cache.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    try:
        with _dequantizing_bars(bar_class):
            write_conversion(source.file, partial, stages)
        marker = {
            "source": str(source.file.resolve()),
            "size": source.file.stat().st_size,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (partial / MARKER_FILE).write_text(json.dumps(marker, indent=1) + "\n")
        shutil.rmtree(source.cache, ignore_errors=True)  # a stale one without its marker
        os.replace(partial, source.cache)
    except BaseException as error:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(error, (ValueError, OSError, KeyError, NotImplementedError, TypeError)):
            raise ModelLoadError(unreadable_message(source.file, role, error)) from None
        raise
    return source.cache


def conversion_seconds(directory: Path) -> float | None:
    """How long the cached conversion in `directory` took, if it is one."""
    try:
        return float(json.loads((directory / MARKER_FILE).read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_readable(file: Path, role: str) -> None:
    """Refuse, before the slow part, a file that is not GGUF or holds what cannot be read."""
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ModelLoadError(
            f"The {role} {str(file)!r} is a GGUF file, which needs the gguf package: "
            "pip install gguf (and accelerate)."
        ) from None
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    try:
        reader = GGUFReader(str(file))
        field = reader.fields["general.architecture"]
        architecture = bytes(field.parts[field.data[0]]).decode()
        types = {tensor.tensor_type for tensor in reader.tensors}
    except (ValueError, OSError, KeyError, IndexError, EOFError) as error:
        raise ModelLoadError(unreadable_message(file, role, error)) from None
    if architecture not in GGUF_SUPPORTED_ARCHITECTURES:
        raise ModelLoadError(
            f"The {role} {str(file)!r} is a GGUF model of the architecture {architecture!r}, "
            "which transformers cannot read from GGUF. " + supported_words()
        )
    unreadable = sorted(t.name for t in types if not _dequantizable(t))
    if unreadable:
        raise ModelLoadError(
            f"The {role} {str(file)!r} holds tensors quantized as {', '.join(unreadable)}, "
            "which the gguf package cannot dequantize. " + supported_words()
        )


def supported_words() -> str:
    """What GGUF files spectui reads, in one sentence."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    # The mapping's "general" and "tokenizer" sections are metadata, not architectures.
    names = sorted(set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"})
    return (
        f"spectui reads GGUF files of the architectures {', '.join(names)}, in F32, F16, BF16 "
        "or the "
        "Q4_0…Q8_0 and K quantizations (as transformers does); or pass a Hugging Face model "
        "directory or hub id instead."
    )


def unreadable_message(file: Path, role: str, error: BaseException) -> str:
    """One paragraph for a GGUF file that could not be read (truncated, corrupt, foreign)."""
    text = str(error).strip()
    first = text.splitlines()[0].rstrip(".") if text else type(error).__name__
    return (
        f"Could not read the {role} {str(file)!r} as a GGUF model: {first}. The file may be "
        "truncated or damaged (compare its size with the original's and fetch it again). "
        + supported_words()
    )


def _dequantizable(tensor_type: Any) -> bool:
    """Whether gguf's `dequantize` reads this tensor type: tried on one block of zeros."""
    import numpy as np
    from gguf.constants import GGML_QUANT_SIZES
    from gguf.quants import dequantize

    if tensor_type not in GGML_QUANT_SIZES:
        return False
    _, type_size = GGML_QUANT_SIZES[tensor_type]
    try:
        dequantize(np.zeros((1, type_size), dtype=np.uint8), tensor_type)
    except (NotImplementedError, ValueError):
        return False
    return True


CONVERSION_LABEL = "converting from GGUF"
# The conversion's stages and their shares of its time, measured on the SmolLM2 file here
# (2 cores, with the file parsed once: reading 4.2 s, tokenizer 2.3 s, dequantizing into the
# model 8.4 s, writing 1.5 s): the bar's estimate of the time left comes from these.
CONVERSION_STAGES = (
    ("reading the GGUF file", 0.26),
    ("building the tokenizer", 0.14),
    ("dequantizing the weights", 0.51),
    ("writing the model directory", 0.09),
)


def write_conversion(file: Path, directory: Path, stages: StageBar | None = None) -> None:
    """Dequantize `file` with transformers and write it to `directory` as a model directory;
    `stages` hears of each stage as it begins."""
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    begin = stages.begin if stages is not None else (lambda _stage: None)
    begin("building the tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(str(file.parent), gguf_file=file.name)
    begin("dequantizing the weights")
    model = AutoModelForCausalLM.from_pretrained(
        str(file.parent), gguf_file=file.name, dtype=torch.float32
    )
    begin("writing the model directory")
    directory.mkdir(parents=True)
    save_model(model, str(directory / "model.safetensors"))  # handles the tied LM head
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights written are plain float32
    config.save_pretrained(directory)
    model.generation_config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if stages is not None:
        stages.finish()


def _stages(bar_class: type[ReportingBar] | None) -> StageBar | None:
    return None if bar_class is None else StageBar(bar_class, CONVERSION_LABEL, CONVERSION_STAGES)


@contextmanager
def _read_once() -> Iterator[None]:
    """transformers parses the GGUF file three times (the tokenizer's metadata, the config's,
    then the tensors), each a `gguf.GGUFReader` over the whole file (4 s for SmolLM2 here):
    while converting, every reader of one path is the first one (the file is memory-mapped
    read-only). The SmolLM2 conversion took 45 s before, 19 s after, on a busy 2-core machine."""
    import gguf

    original = gguf.GGUFReader
    readers: dict[str, Any] = {}

    def reader(path: str | os.PathLike[str], mode: str = "r") -> Any:
        key = f"{os.fspath(path)}:{mode}"
        if key not in readers:
            readers[key] = original(path, mode)  # type: ignore[arg-type]
        return readers[key]

    gguf.GGUFReader = reader  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        gguf.GGUFReader = original  # type: ignore[misc]


@contextmanager
def _dequantizing_bars(bar_class: type | None) -> Iterator[None]:
    """transformers draws its "de-quantizing GGUF tensors" bar with tqdm directly (not through
    its logging hook), so the module's own `tqdm` is what a progress report replaces."""
    if bar_class is None:
        yield
        return
    from transformers import modeling_gguf_pytorch_utils as reading

    previous = reading.tqdm
    reading.tqdm = bar_class  # type: ignore[assignment]
    try:
        yield
    finally:
        reading.tqdm = previous  # type: ignore[assignment]
