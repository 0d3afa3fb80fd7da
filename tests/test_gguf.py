"""GGUF files as model inputs: refused clearly when unreadable, converted once into a cache."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf")

from spectui.engine.errors import ModelLoadError  # noqa: E402
from spectui.engine.models.draft_vocabulary import (  # noqa: E402
    DraftVocabulary,
    read_draft_vocabulary,
    write_draft_vocabulary,
)
from spectui.engine.models.gguf import (  # noqa: E402
    check_readable,
    converted_directory,
    file_key,
    gguf_file,
    gguf_source,
)
from spectui.engine.models.progress import LoadCancelled, reporting  # noqa: E402


def write_gguf(path: Path, architecture: str, tensor_type: object = None) -> Path:
    """A small GGUF file of `architecture` holding one tensor (of `tensor_type`'s bytes)."""
    writer = gguf.GGUFWriter(str(path), arch=architecture)
    if tensor_type is None:
        writer.add_tensor("x", np.zeros((4, 32), dtype=np.float32))
    else:
        _, type_size = gguf.constants.GGML_QUANT_SIZES[tensor_type]
        writer.add_tensor("x", np.zeros((4, type_size), dtype=np.uint8), raw_dtype=tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def leftovers(cache: Path) -> list[Path]:
    """Whatever a conversion left in the cache."""
    return sorted(cache.rglob("*")) if cache.exists() else []


def test_a_gguf_path_or_a_directory_of_one_names_the_file(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "m.gguf", "llama")
    assert gguf_file(str(file)) == file
    assert gguf_file(str(tmp_path)) == file
    (tmp_path / "config.json").write_text("{}")  # a model directory is not a GGUF input
    assert gguf_file(str(tmp_path)) is None
    assert gguf_file("gpt2") is None


def test_an_unsupported_architecture_is_one_paragraph_naming_what_is(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "rwkv.gguf", "rwkv-unknown")
    with pytest.raises(ModelLoadError) as refused:
        check_readable(file, "verifier")
    text = str(refused.value)
    assert "architecture 'rwkv-unknown'" in text and "llama" in text and "\n" not in text
    assert "general" not in text.split("architectures")[1]


def test_an_unsupported_quantization_is_named(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "q.gguf", "llama", gguf.GGMLQuantizationType.Q8_1)
    with pytest.raises(ModelLoadError, match="quantized as Q8_1"):
        check_readable(file, "drafter")


@pytest.mark.parametrize("content", [b"hello, not a model\n", b"GGUF\x03\x00\x00\x00"])
def test_a_damaged_file_says_it_may_be_truncated(tmp_path: Path, content: bytes) -> None:
    file = tmp_path / "broken.gguf"
    file.write_bytes(content)
    with pytest.raises(ModelLoadError, match="truncated or damaged"):
        check_readable(file, "verifier")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no GGUF file"):
        gguf_source(tmp_path / "nowhere.gguf", "verifier")


def test_the_cache_key_follows_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTUI_CACHE", str(tmp_path / "cache"))
    file = write_gguf(tmp_path / "m.gguf", "llama")
    first = gguf_source(file, "verifier")
    assert first.cache.parent == tmp_path / "cache" / "gguf"
    assert gguf_source(file, "verifier") == first
    write_gguf(file, "llama", gguf.GGMLQuantizationType.Q8_0)  # same name, new content
    assert file_key(file) != first.cache.name.rsplit("-", 1)[1]
    assert gguf_source(file, "verifier").cache != first.cache


def test_a_failed_conversion_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECTUI_CACHE", str(tmp_path / "cache"))
    # Readable as GGUF and of a supported architecture, but holding no model: the conversion
    # itself fails, after check_readable.
    source = gguf_source(write_gguf(tmp_path / "empty.gguf", "llama"), "verifier")
    with pytest.raises(ModelLoadError, match="as a GGUF model"):
        converted_directory(source, "verifier")
    assert not source.converted
    assert leftovers(tmp_path / "cache") == []


def test_draft_vocabulary_maps_ids_in_and_logits_out() -> None:
    vocabulary = DraftVocabulary.of([2, 5, 7], full_size=10)
    assert vocabulary.drafter_ids(torch.tensor([[5, 2, 9, 7]])).tolist() == [[1, 0, 3, 2]]
    logits = torch.tensor([[0.1, 0.2, 0.3, 9.0]])  # the last row is "other": never proposed
    full = vocabulary.full_logits(logits)
    assert full.shape == (1, 10)
    assert full[0, [2, 5, 7]].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert torch.isinf(full[0, [0, 1, 3, 4, 6, 8, 9]]).all()
    assert int(full.argmax()) == 7


def test_a_draft_vocabulary_of_another_tokenizer_is_refused(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from spectui.models import BUNDLED_VERIFIER

    tokenizer = AutoTokenizer.from_pretrained(str(BUNDLED_VERIFIER))
    write_draft_vocabulary(tmp_path, [0, 1, 2], tokenizer)
    assert read_draft_vocabulary(str(tmp_path), tokenizer).size == 3  # type: ignore[union-attr]
    tokenizer.add_tokens(["<a-token-the-drafter-never-saw>"])
    with pytest.raises(ModelLoadError, match="another tokenizer"):
        read_draft_vocabulary(str(tmp_path), tokenizer)
    assert read_draft_vocabulary(str(tmp_path / "none"), tokenizer) is None


def test_cancelling_the_conversion_removes_the_partial_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm2_file: Path
) -> None:
    monkeypatch.setenv("SPECTUI_CACHE", str(tmp_path / "cache"))
    cancel = threading.Event()
    seen = []

    def sink(bar: object) -> None:
        seen.append(bar)
        cancel.set()  # q pressed as the first tensor is dequantized

    source = gguf_source(smollm2_file, "verifier")
    with pytest.raises(LoadCancelled), reporting(sink, "verifier", cancel) as bar_class:
        converted_directory(source, "verifier", bar_class)
    assert any("GGUF" in bar.label for bar in seen)  # type: ignore[attr-defined]
    assert not source.converted
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.smollm2
def test_the_conversion_reports_its_stages_from_the_first_second_and_reads_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm2_file: Path
) -> None:
    import gguf

    monkeypatch.setenv("SPECTUI_CACHE", str(tmp_path / "cache"))
    readers: list[str] = []
    original = gguf.GGUFReader

    def counted(path: str, mode: str = "r") -> object:
        readers.append(str(path))
        return original(path, mode)

    monkeypatch.setattr(gguf, "GGUFReader", counted)
    seen: list[Any] = []
    with reporting(seen.append, "verifier") as bar_class:
        converted_directory(gguf_source(smollm2_file, "verifier"), "verifier", bar_class)
    stages = [bar for bar in seen if bar.label == "converting from GGUF"]
    assert stages[0].done == 0 and stages[0].detail == "reading the GGUF file"
    assert [bar.detail for bar in stages] == [
        "reading the GGUF file",
        "building the tokenizer",
        "dequantizing the weights",
        "writing the model directory",
        "",
    ]
    assert [bar.done for bar in stages] == sorted(bar.done for bar in stages)
    assert stages[-1].done == 100 and stages[-1].finished
    assert stages[-2].seconds_left is not None  # an estimate of the time left, before the end
    assert readers == [str(smollm2_file)]  # transformers' three parses share one reader
