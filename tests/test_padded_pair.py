"""Pairs whose embedding tables differ only by padding past the tokenizer load and decode.

Real pairs look like this (Qwen2.5-0.5B and -7B share one tokenizer and have different row
counts). Here: a Llama verifier with 512 rows and a Llama drafter with 384, both over a
320-token tokenizer. The padding rows are made the most likely outputs, so any decode that
did not cut the logits to the tokenizer's ids would emit them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_models import build_tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.models.kernels import output_rows

PROMPTS = ("Once upon a time,", "The capital of France is")


def build_llama(directory: Path, rows: int, n_tokens: int, seed: int) -> None:
    """A random tiny Llama with `rows` output rows whose padding rows win every argmax."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        config = LlamaConfig(
            vocab_size=rows,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=64,
            bos_token_id=0,
            eos_token_id=0,
            tie_word_embeddings=False,
        )
        model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.bias = None
        model.lm_head.weight[n_tokens:] = model.lm_head.weight[:n_tokens].abs().max() * 50
        model.model.norm.weight.fill_(1.0)
    model.save_pretrained(directory)


@pytest.fixture(scope="module")
def padded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("padded")
    tokenizer = build_tokenizer(root / "verifier")
    build_tokenizer(root / "drafter")
    n_tokens = len(tokenizer)
    build_llama(root / "verifier", 512, n_tokens, seed=1)
    build_llama(root / "drafter", 384, n_tokens, seed=2)
    return load_pair(DecodeConfig(drafter=str(root / "drafter"), verifier=str(root / "verifier")))


def test_the_padded_pair_loads_with_the_tokenizers_vocabulary(padded: Any) -> None:
    assert padded.vocab_size == len(padded.tokenizer) == 320
    assert output_rows(padded.verifier) == 512  # its head is prepacked: no .weight to read
    assert output_rows(padded.drafter) == 384


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_exact_equals_the_verifiers_generate_over_the_tokenizers_ids(
    padded: Any, prompt: str
) -> None:
    config = DecodeConfig(
        drafter="d", verifier="v", policy="greedy", max_new_tokens=20, stop_at_eos=False
    )
    done = SpeculativeDecoder(padded, config, prompt).run()
    ids = torch.tensor([padded.tokenizer(prompt).input_ids])
    padding = list(range(padded.vocab_size, 512))
    reference = padded.verifier.generate(
        ids,
        max_new_tokens=20,
        do_sample=False,
        suppress_tokens=padding,
        pad_token_id=0,
        eos_token_id=None,
    )[0, ids.shape[1] :]
    assert done.output_ids == tuple(reference.tolist())
    assert all(token < padded.vocab_size for token in done.output_ids)


def test_sampled_drafts_run_on_the_padded_pair(padded: Any) -> None:
    config = DecodeConfig(
        drafter="d", verifier="v", policy="sample", sample_draft=True, max_new_tokens=24, seed=3
    )
    done = SpeculativeDecoder(padded, config, PROMPTS[0]).run()
    assert len(done.output_ids) > 0 and all(token < 320 for token in done.output_ids)


def test_device_map_hands_loading_to_accelerate(
    tiny_pair: Any, tiny_loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--device-map auto loads through accelerate (here onto the CPU) and decodes the same."""
    from transformers import AutoModelForCausalLM

    real = AutoModelForCausalLM.from_pretrained
    asked: list[object] = []

    def from_pretrained(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("device_map"))
        return real(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
    config = DecodeConfig(
        drafter=tiny_pair.drafter,
        verifier=tiny_pair.verifier,
        device_map="auto",
        policy="greedy",
        max_new_tokens=16,
    )
    mapped = load_pair(config)
    assert asked == ["auto", "auto"], "both models were placed by accelerate"
    expected = SpeculativeDecoder(tiny_loaded, config, PROMPTS[0]).run().output_ids
    assert SpeculativeDecoder(mapped, config, PROMPTS[0]).run().output_ids == expected


def test_device_map_without_accelerate_says_what_to_install(
    tiny_pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from spectui.engine import ModelLoadError

    monkeypatch.setitem(sys.modules, "accelerate", None)  # import accelerate now fails
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier, device_map="auto")
    with pytest.raises(ModelLoadError, match="pip install accelerate"):
        load_pair(config)
