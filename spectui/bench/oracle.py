"""spectui's engine as a benchmark method, and the engine with an oracle drafter.

The oracle drafter measures speed at a controlled acceptance α: the drafter still runs every
forward it normally would (so it pays its real cost), but each proposal is replaced by the
verifier's own greedy token with probability α, and otherwise by a token guaranteed to differ
from it. Under greedy-exact verification each draft is then accepted with probability exactly
α, independently: the setting of Leviathan et al.'s cost model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from spectui.bench.baselines import Decoded
from spectui.engine.config import DecodeConfig
from spectui.engine.decode import SpeculativeDecoder
from spectui.engine.events import RoundFinished
from spectui.engine.loading import ModelPair


def engine_decode(decoder: SpeculativeDecoder) -> Decoded:
    """Run a decoder to the end, consuming every event as the app and `spectui run` do."""
    checked = 0
    for event in decoder.events():
        if isinstance(event, RoundFinished):
            checked += len(event.checks)
    stats = decoder.tally.snapshot()
    return Decoded(
        output_ids=decoder.output_ids,
        rounds=stats.rounds,
        drafted=stats.drafted,
        accepted=stats.accepted,
        checked=checked,
        model_seconds=stats.prefill_seconds + stats.draft_seconds + stats.verify_seconds,
        verifier_prefills=stats.verifier_forwards - stats.rounds,
    )


class OracleDrafterDecoder(SpeculativeDecoder):
    """The engine, with each draft token forced right (probability α) or wrong (1 − α).

    `target` is the verifier's greedy continuation of the prompt (EOS off), precomputed with
    plain `generate`: under greedy-exact verification the accepted text *is* that continuation,
    so the verifier's own token at any output position is known at draft time.
    """

    def __init__(
        self,
        pair: ModelPair,
        config: DecodeConfig,
        prompt_ids: Sequence[int],
        *,
        target: Sequence[int],
        alpha: float,
        seed: int,
    ) -> None:
        if config.policy != "greedy":
            raise ValueError("the oracle drafter needs greedy-exact verification")
        super().__init__(pair, config, prompt_ids)
        self._oracle_target = tuple(target)
        self._oracle_alpha = alpha
        self._oracle_coin = torch.Generator().manual_seed(seed)
        self._oracle_drafted = 0

    # The engine's private hooks: _draft runs once per round and calls _choose once per draft
    # position, in order. Arguments pass through untouched, so the engine may change them.
    def _draft(self, *args: Any, **kwargs: Any) -> Any:
        self._oracle_drafted = 0
        return super()._draft(*args, **kwargs)

    def _choose(self, q_probs: torch.Tensor, sample: bool) -> int:
        own = super()._choose(q_probs, sample)
        position = len(self.output_ids) + self._oracle_drafted  # output index being drafted
        self._oracle_drafted += 1
        if position >= len(self._oracle_target):
            return own
        right = self._oracle_target[position]
        if float(torch.rand((), generator=self._oracle_coin)) < self._oracle_alpha:
            return right
        return own if own != right else (own + 1) % q_probs.shape[-1]
