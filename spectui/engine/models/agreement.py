"""Where a block and a step disagree: the verifier's argmax at each position of a text, fed one
token a forward (a step, as plain decoding) and a block of tokens a forward (as verification).

On an exact kernel (float32) the two agree at every position (`tests/test_kernels.py`); below
it (bfloat16, int4) a near-tie can round apart, and greedy-exact's text is then not exactly
the verifier's one-token-at-a-time text. `spectui bench` counts it per kernel; the app counts
it along the decode's own text (`app/precision.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedModel

from spectui.engine.models.cache import CachedModel


@dataclass(frozen=True)
class BlockStepAgreement:
    """How many positions of a text a block's argmax and a step's differ at."""

    positions: int  # argmaxes compared
    differ: int  # positions where the block's argmax is not the step's
    block: int  # rows a block forward fed


def block_step_argmaxes(
    model: PreTrainedModel, ids: Sequence[int], start: int, block: int
) -> tuple[list[int], list[int]]:
    """The argmax after each position from `start` on, fed one token a forward (a step) and
    `block` tokens a forward (a verification block), both through the KV cache."""
    device = next(model.parameters()).device
    step_model, block_model = CachedModel(model, device), CachedModel(model, device)
    step_model.forward(list(ids[:start]), n_logits=1)
    block_model.forward(list(ids[:start]), n_logits=1)
    steps = [int(step_model.forward([token], 1).argmax()) for token in ids[start:]]
    blocks: list[int] = []
    for at in range(start, len(ids), block):
        feed = list(ids[at : at + block])
        blocks += block_model.forward(feed, len(feed)).argmax(-1).tolist()
    return steps, blocks


def block_step_agreement(
    model: PreTrainedModel, ids: Sequence[int], start: int, block: int
) -> BlockStepAgreement:
    """`block_step_argmaxes` counted: the positions compared and where they differ."""
    steps, blocks = block_step_argmaxes(model, ids, start, block)
    return BlockStepAgreement(len(steps), differing(steps, blocks), block)


def differing(first: Sequence[int], second: Sequence[int]) -> int:
    """At how many positions two argmax sequences of one length differ."""
    return sum(a != b for a, b in zip(first, second, strict=True))
