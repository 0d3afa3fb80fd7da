"""Compare policies on one prompt: where their outputs part, and what a lossy one costs.

By default greedy-exact (the reference) against soft-guarded; any two or more registered
policies can be compared, the first being the reference the others' divergences are measured
against. Every decode shares every setting but the policy. Each output is then scored by the
verifier in one forward pass over prompt + output (no cache): the log-likelihood the verifier
gives it, and the positions where the token is not the verifier's own argmax there, which is
what a lossy policy trades for accepting more draft tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.decode import SpeculativeDecoder, encode_prompt
from spectui.engine.events import DecodeFinished, RoundFinished
from spectui.engine.models.loading import ModelPair
from spectui.engine.policy.registry import COMPARED
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
    """Decodes of the same prompt under two or more policies, side by side."""

    prompt_ids: tuple[int, ...]
    sides: tuple[ScoredOutput, ...]  # one per policy; the first is the reference
    # Per side, aligned with `sides`: the output positions where it differs from the
    # reference's (or only one of the two reaches); () for the reference itself.
    differing: tuple[tuple[int, ...], ...]

    @property
    def reference(self) -> ScoredOutput:
        """The side the others are measured against (greedy-exact by default)."""
        return self.sides[0]

    @property
    def policies(self) -> tuple[str, ...]:
        """The compared policies' names, the reference first."""
        return tuple(side.policy for side in self.sides)

    def side(self, policy: str) -> ScoredOutput:
        """The side decoded under `policy` (KeyError if it was not compared)."""
        for side in self.sides:
            if side.policy == policy:
                return side
        raise KeyError(policy)

    @property
    def differing_anywhere(self) -> tuple[int, ...]:
        """Output positions where any side differs from the reference, in order."""
        return tuple(sorted(set().union(*self.differing)))

    @property
    def first_divergence(self) -> int | None:
        """The first output position where any side leaves the reference; None if none does."""
        anywhere = self.differing_anywhere
        return anywhere[0] if anywhere else None


# Called as a comparison goes: (policy, tokens decoded so far, tokens asked for).
# (policy, its output so far, tokens asked for): after each round and before scoring.
Progress = Callable[[str, tuple[int, ...], int], None]


def compare_policies(
    pair: ModelPair,
    config: DecodeConfig,
    prompt: str | Sequence[int],
    max_new_tokens: int,
    policies: Sequence[str] = COMPARED,
    progress: Progress | None = None,
) -> PolicyComparison:
    """Decode `prompt` under each of `policies` (else as `config`) and score every output.

    The first policy is the reference (by default greedy-exact, then soft-guarded).
    `progress(policy, output so far, max_new_tokens)` is called after each round and before
    scoring, so a caller can show each decode as it comes.
    """
    if len(policies) < 2 or len(set(policies)) < len(policies):
        raise ConfigError(f"compare two or more different policies, got {', '.join(policies)}")
    sides = tuple(_scored_side(pair, config, prompt, max_new_tokens, p, progress) for p in policies)
    reference = sides[0].output_ids
    return PolicyComparison(
        prompt_ids=encode_prompt(pair, prompt),
        sides=sides,
        differing=tuple(differing_positions(reference, side.output_ids) for side in sides),
    )


def _scored_side(
    pair: ModelPair,
    config: DecodeConfig,
    prompt: str | Sequence[int],
    max_new_tokens: int,
    policy: str,
    progress: Progress | None = None,
) -> ScoredOutput:
    """One policy's decode of `prompt`, scored by the verifier."""
    settings = replace(config, policy=policy, max_new_tokens=max_new_tokens)
    done: DecodeFinished | None = None
    output: tuple[int, ...] = ()
    for event in SpeculativeDecoder(pair, settings, prompt).events():
        if isinstance(event, RoundFinished) and progress is not None:
            output += event.appended_ids
            progress(policy, output, max_new_tokens)
        elif isinstance(event, DecodeFinished):
            done = event
    assert done is not None
    if progress is not None:
        progress(policy, tuple(done.output_ids), max_new_tokens)
    log_likelihood, off_argmax = score_output(pair, done.prompt_ids, done.output_ids)
    return ScoredOutput(policy, done.output_ids, log_likelihood, off_argmax, done.stats)


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
