"""A served request's speculation as steps: what the server reports, and spectui's reading.

vLLM (`--per-request-spec-decode-metrics detailed`) returns, in each completion's
`metrics.speculative_decoding`, `per_step_drafted` and `per_step_accepted` for the steps that
drafted; a step that drafted nothing (n-gram lookup with no match) is not listed. spectui's
reading lists every step after the first token (the prefill's), the draftless ones as 0/0,
where it can place them: by rebuilding the drafts (`rebuild.py`), or else counted apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SPEC_FIELD = "speculative_decoding"


@dataclass(frozen=True)
class Step:
    """One verify step: how many drafts it scored and how many it accepted."""

    drafted: int
    accepted: int

    @property
    def tokens(self) -> int:
        """Tokens the step appended: the accepted drafts and the verifier's own token."""
        return self.accepted + 1

    @property
    def judged(self) -> int:
        """Drafts whose verdict was read: the accepted ones and the first rejection, if any."""
        return self.accepted + (1 if self.accepted < self.drafted else 0)


@dataclass(frozen=True)
class StepReading:
    """Every step of one request in order (draftless ones as 0/0 where they are placed), and
    the draftless steps that could only be counted."""

    steps: tuple[Step, ...]
    unplaced_draftless: int = 0  # draftless steps known only by count (no rebuild)

    @property
    def per_step_accepted(self) -> list[int]:
        return [step.accepted for step in self.steps]

    @property
    def per_step_drafted(self) -> list[int]:
        return [step.drafted for step in self.steps]

    @property
    def tokens_per_step(self) -> list[int]:
        return [step.tokens for step in self.steps]

    def figures(self) -> dict[str, float | int | None]:
        """The request's figures under both conventions (README, "Definitions")."""
        steps = list(self.steps) + [Step(0, 0)] * self.unplaced_draftless
        drafted = sum(step.drafted for step in steps)
        accepted = sum(step.accepted for step in steps)
        judged = sum(step.judged for step in steps)
        drafting = [step for step in steps if step.drafted]
        return {
            "steps": len(steps),
            "drafting_steps": len(drafting),
            "drafted": drafted,
            "accepted": accepted,
            "judged": judged,
            "draft_acceptance_rate": accepted / drafted if drafted else None,
            "alpha_per_judged": accepted / judged if judged else None,
            "tau": sum(step.tokens for step in steps) / len(steps) if steps else None,
            "accepted_per_step": accepted / len(steps) if steps else None,
            "mean_acceptance_length": 1 + accepted / len(drafting) if drafting else None,
        }


def server_steps(server: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps the server listed (those that drafted), in order."""
    drafted = list(server.get("per_step_drafted") or [])
    accepted = list(server.get("per_step_accepted") or [])
    return tuple(Step(int(d), int(a)) for d, a in zip(drafted, accepted, strict=True))


def counted_reading(server: Mapping[str, Any], completion_tokens: int) -> StepReading:
    """The server's steps, and the draftless ones counted from the tokens: every step after
    the prefill's first token appends its accepted drafts and one token of the verifier's."""
    listed = server_steps(server)
    draftless = completion_tokens - 1 - sum(step.tokens for step in listed)
    return StepReading(listed, max(0, draftless))


def histogram(steps: Sequence[Step], k: int) -> list[int]:
    """Steps that accepted exactly n drafts, n = 0..k (vLLM's acceptance_histogram)."""
    counts = [0] * (k + 1)
    for step in steps:
        if step.drafted:
            counts[min(step.accepted, k)] += 1
    return counts
