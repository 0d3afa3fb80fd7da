"""Random-weight GPT-2 pairs built from configs (no network): real sizes, hence real costs.

Random weights say nothing about acceptance (a random drafter agrees with a random verifier
almost never, or, when both just echo their input, always), so use them for cost and measure
acceptance-dependent speed with the oracle drafter. `perturbed` drafters (a noisy copy of the
verifier) give an acceptance in between, at the price of c ≈ 1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from spectui.bench.synthetic_pairs import SYNTHETIC_PAIRS, SyntheticSpec
from spectui.engine.models.loading import ModelPair, pick_device, pick_dtype

DrafterKind = Literal["own", "perturbed"]
EOS = "<|endoftext|>"
TOKENIZER_VOCAB = 512  # the models keep their full vocabulary; the tokenizer only encodes prompts
CORPUS = (
    "Once upon a time, there was a quiet village by the sea. The capital of France is Paris. "
    "She walked into the room and looked around. It is important to note that the weather "
    "changed quickly. This is a simple example of how a sentence can continue. In the "
    "beginning, the garden was small and the paths were narrow."
)


def build_synthetic_pair(
    name: str,
    *,
    drafter_kind: DrafterKind = "own",
    noise: float = 0.3,
    seed: int = 0,
    device: str = "cpu",
    dtype: str = "auto",
) -> ModelPair:
    """A loaded pair of random GPT-2s with the shapes of SYNTHETIC_PAIRS[name]."""
    started = time.perf_counter()
    spec = SYNTHETIC_PAIRS[name]
    verifier = _random_gpt2(spec, spec.verifier, seed)
    if drafter_kind == "perturbed":
        drafter = _perturbed_copy(spec, verifier, noise, seed + 1)
    else:
        drafter = _random_gpt2(spec, spec.drafter, seed + 1)
    torch_device, torch_dtype = pick_device(device), pick_dtype(dtype)
    for model in (drafter, verifier):
        _place(model, torch_device, torch_dtype)
    drafter_label = "perturbed copy of the verifier" if drafter_kind == "perturbed" else "own size"
    return ModelPair(
        tokenizer=build_tokenizer(),
        drafter=drafter,
        verifier=verifier,
        device=torch_device,
        dtype=torch_dtype,
        drafter_id=f"synthetic:{name} drafter ({drafter_label})",
        verifier_id=f"synthetic:{name} verifier",
        context_length=spec.n_positions,
        load_seconds=time.perf_counter() - started,
    )


def save_synthetic_pair(pair: ModelPair, directory: Path) -> tuple[Path, Path]:
    """Write the pair as two model directories (each with the tokenizer); returns them."""
    paths = (directory / "drafter", directory / "verifier")
    for model, path in zip((pair.local("drafter"), pair.local("verifier")), paths, strict=True):
        model.save_pretrained(path)
        pair.tokenizer.save_pretrained(path)
    return paths


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A small byte-level BPE tokenizer (EOS = id 0), enough to encode prompts."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([CORPUS], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS, pad_token=EOS
    )


def _place(model: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """Move to device and dtype in place (nn.Module.to), and switch to eval mode."""
    model.to(device=device, dtype=dtype).eval()


def _config(spec: SyntheticSpec, shape: dict[str, Any]) -> GPT2Config:
    return GPT2Config(
        vocab_size=spec.vocab_size,
        n_positions=spec.n_positions,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        **shape,
    )


def _random_gpt2(spec: SyntheticSpec, shape: dict[str, Any], seed: int) -> GPT2LMHeadModel:
    # Weight init draws from torch's global generator: seed a fork of it, not the process's.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return GPT2LMHeadModel(_config(spec, shape))


def _perturbed_copy(
    spec: SyntheticSpec, verifier: GPT2LMHeadModel, noise: float, seed: int
) -> GPT2LMHeadModel:
    """The verifier with every weight moved by `noise` times its own tensor's std."""
    drafter = GPT2LMHeadModel(_config(spec, spec.verifier))
    drafter.load_state_dict(verifier.state_dict())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in drafter.parameters():
            scale = float(parameter.std()) if parameter.numel() > 1 else 0.0
            parameter.add_(noise * scale * torch.randn(parameter.shape, generator=generator))
    return drafter
