"""Compare greedy-exact and soft-guarded on one prompt: where they part, and what soft costs.

Both decodes share every setting but the policy. Each output is then scored by the verifier
in one forward pass over prompt + output (no cache): the log-likelihood the verifier gives
it, and the positions where the token is not the verifier's own argmax there, which is what
the soft policy trades for accepting more draft tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from spectui.engine.config import DecodeConfig
from spectui.engine.decode import SpeculativeDecoder
from spectui.engine.loading import ModelPair
from spectui.engine.policies import COMPARED
from spectui.engine.stats import StatsSnapshot


@dataclass(frozen=True)
class ScoredOutput:
    """One policy's output and what the verifier makes of it."""

    policy: str
    output_ids: tuple[int, ...]
    log_likelihood: float  # sum of log p_verifier(token | prompt + the output before it)
    off_argmax: tuple[int, ...]  # output positions whose token is not the verifier's argmax
    stats: StatsSnapshot

    @property
    def mean_log_likelihood(self) -> float:
        """Log-likelihood per generated token (0 for an empty output)."""
        return self.log_likelihood / len(self.output_ids) if self.output_ids else 0.0


@dataclass(frozen=True)
class PolicyComparison:
    """Greedy-exact and soft-guarded decodes of the same prompt, side by side."""

    prompt_ids: tuple[int, ...]
    greedy: ScoredOutput
    soft: ScoredOutput
    differing: tuple[int, ...]  # output positions where the two differ (or one has ended)

    @property
    def first_divergence(self) -> int | None:
        """The first output position where the two differ; None if they are identical."""
        return self.differing[0] if self.differing else None

    @property
    def soft_off_argmax(self) -> int:
        """How many of the soft output's tokens are not the verifier's argmax."""
        return len(self.soft.off_argmax)


def compare_policies(
    pair: ModelPair, config: DecodeConfig, prompt: str | Sequence[int], max_new_tokens: int
) -> PolicyComparison:
    """Decode `prompt` under greedy-exact and soft-guarded (else as `config`); score both."""
    sides = {}
    for policy in COMPARED:
        decoder = SpeculativeDecoder(
            pair, replace(config, policy=policy, max_new_tokens=max_new_tokens), prompt
        )
        done = decoder.run()
        log_likelihood, off_argmax = score_output(pair, done.prompt_ids, done.output_ids)
        sides[policy] = ScoredOutput(
            policy, done.output_ids, log_likelihood, off_argmax, done.stats
        )
    greedy, soft = (sides[name] for name in COMPARED)
    return PolicyComparison(
        prompt_ids=decoder.prompt_ids,
        greedy=greedy,
        soft=soft,
        differing=differing_positions(greedy.output_ids, soft.output_ids),
    )


@torch.no_grad()
def score_output(
    pair: ModelPair, prompt_ids: Sequence[int], output_ids: Sequence[int]
) -> tuple[float, tuple[int, ...]]:
    """The verifier's log-likelihood of `output_ids` after the prompt, and where it is off-argmax.

    One verifier pass over prompt + output through the verifier seam (a local model or a
    server), reading each output token's p and the verifier's top-1 there.
    """
    if not output_ids:
        return 0.0, ()
    verifier = pair.new_verifier()
    verifier.prefill(prompt_ids[:-1])
    measures = verifier.score(prompt_ids, output_ids, n_top=1).measures
    log_likelihood = sum(math.log(m.p) if m.p > 0 else -math.inf for m in measures)
    off = tuple(i for i, m in enumerate(measures) if m.token_id != m.top1_id)
    return log_likelihood, off


def differing_positions(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """Positions where two outputs differ, counting positions only one of them reaches."""
    return tuple(
        i for i in range(max(len(a), len(b))) if i >= len(a) or i >= len(b) or a[i] != b[i]
    )
