"""Tiny random-weight model pairs the tests build (no network, seconds on a CPU)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

CORPUS = [
    "She walked into the room and looked around.",
    "Once upon a time, there was a quiet village by the sea.",
    "The capital of France is Paris, a city of bridges and books.",
    "It is important to note that the weather changed quickly.",
    "This is a simple example of how a sentence can continue.",
    "In the beginning, the garden was small and the paths were narrow.",
] * 20
VOCAB_SIZE = 320
EOS = "<|endoftext|>"


def build_tokenizer(directory: Path) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a few sentences, saved to `directory`."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS
    )
    wrapped.save_pretrained(directory)
    return wrapped


def build_model(
    directory: Path,
    vocab_size: int,
    n_layer: int,
    n_embd: int,
    seed: int,
    n_positions: int = 64,
    eos_token_id: int = 0,
    perturb_from: GPT2LMHeadModel | None = None,
    noise: float = 0.0,
) -> GPT2LMHeadModel:
    """A random GPT-2 (or a perturbed copy of `perturb_from`), saved to `directory`."""
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=2,
        initializer_range=0.3,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    if perturb_from is not None:
        model.load_state_dict(perturb_from.state_dict())
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(noise * torch.randn_like(parameter))
    model.eval()
    model.save_pretrained(directory)
    return model


@dataclass(frozen=True)
class TinyPair:
    """Directories of a drafter/verifier pair the tests built."""

    drafter: str
    verifier: str
