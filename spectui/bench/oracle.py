"""spectui's engine as a benchmark method, and the engine with an oracle drafter.

The oracle drafter measures speed at a controlled acceptance α: the drafter still runs every
forward it normally would (so it pays its real cost), but each proposal is replaced by the
verifier's own greedy token with probability α, and otherwise by a token guaranteed to differ
from it. Under greedy-exact verification each draft is then accepted with probability exactly
α, independently: the setting of Leviathan et al.'s cost model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from spectui.bench.baselines import Decoded
from spectui.engine.config import DecodeConfig
from spectui.engine.decode import SpeculativeDecoder
from spectui.engine.events import RoundFinished
from spectui.engine.models.loading import ModelPair
from spectui.engine.models.local import LocalDrafter
from spectui.engine.policy.library import GREEDY_EXACT
from spectui.engine.seams import Drafter, Proposal, Wrapping
from spectui.engine.warps import NO_WARP, Warp


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


class OracleDrafter(Wrapping):
    """A drafter whose tokens are forced right (probability α) or wrong (1 − α).

    It wraps the real drafter and drafts one token at a time through it, so every forward the
    drafter normally runs still runs, and its cache holds the forced tokens it was fed.
    `target` is the verifier's greedy continuation of the prompt (EOS off), precomputed with
    plain `generate`: under greedy-exact verification the accepted text *is* that
    continuation, so the verifier's own token at any output position is known at draft time.
    """

    def __init__(
        self,
        inner: Drafter,
        n_prompt_tokens: int,
        target: Sequence[int],
        alpha: float,
        seed: int,
    ) -> None:
        super().__init__(inner)
        self.inner: Drafter = inner
        self.n_prompt_tokens = n_prompt_tokens
        self.target = tuple(target)
        self.alpha = alpha
        self.coin = torch.Generator().manual_seed(seed)

    def propose(
        self,
        tokens: Sequence[int],
        k: int,
        sampler: torch.Generator | None,
        stop_id: int | None,
        warp: Warp = NO_WARP,
    ) -> Proposal:
        """k tokens, each the drafter's own step with its token then forced right or wrong."""
        ids: list[int] = []
        q: list[float] = []
        rows: list[torch.Tensor] = []
        for _ in range(k):
            step = self.inner.propose([*tokens, *ids], 1, sampler, stop_id, warp)
            row = step.rows[0] if step.rows else None
            token = self._forced(step.ids[0], len(tokens) + len(ids) - self.n_prompt_tokens, row)
            ids.append(token)
            q.append(float(row[token]) if row is not None else step.q[0])
            rows.extend(step.rows or ())
            if token == stop_id:
                break
        return Proposal(tuple(ids), tuple(q), tuple(rows) if rows else None)

    def _forced(self, own: int, position: int, row: torch.Tensor | None) -> int:
        """The verifier's token at output `position` with probability α, else one that differs."""
        if position >= len(self.target):
            return own
        right = self.target[position]
        if float(torch.rand((), generator=self.coin)) < self.alpha:
            return right
        vocab = row.shape[-1] if row is not None else right + 2
        return own if own != right else (own + 1) % vocab


def oracle_decoder(
    pair: ModelPair,
    config: DecodeConfig,
    prompt_ids: Sequence[int],
    *,
    target: Sequence[int],
    alpha: float,
    seed: int,
) -> SpeculativeDecoder:
    """The engine with an `OracleDrafter` around its drafter (greedy-exact verification)."""
    if config.policy != GREEDY_EXACT.name:
        raise ValueError("the oracle drafter needs greedy-exact verification")
    own = LocalDrafter(pair.local("drafter"), pair.device, None, pair.drafter_vocabulary)
    drafter = OracleDrafter(own, len(prompt_ids), target, alpha, seed)
    return SpeculativeDecoder(pair, config, prompt_ids, drafter=drafter)
