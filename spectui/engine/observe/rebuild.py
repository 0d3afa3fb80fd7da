"""Rebuilding a served request's drafts where spectui can run the server's drafter itself.

With n-gram lookup (vLLM's `method: ngram`, which `--drafter ngram` drafts exactly as) the
drafts of every step follow from the prompt and the output alone: at each step the drafter
looks up the sequence so far, and under greedy verification the step accepts the drafts that
agree with the tokens the server then produced. The rebuilt steps are compared with the
server's, step by step; a difference names its step and what each side counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spectui.engine.observe.steps import Step

Propose = Callable[[Sequence[int], int], tuple[int, ...]]  # (sequence so far, k) -> drafts


@dataclass(frozen=True)
class RebuiltStep:
    """One step as spectui rebuilds it: where it starts in the output, its drafts, and how
    many the output's next tokens confirm."""

    position: int  # index in the output of the step's first appended token
    drafts: tuple[int, ...]
    accepted: int

    @property
    def step(self) -> Step:
        return Step(len(self.drafts), self.accepted)


def rebuild(
    prompt_ids: Sequence[int], output_ids: Sequence[int], k: int, propose: Propose
) -> list[RebuiltStep]:
    """Every step after the prefill's token: each proposes from the sequence so far and accepts
    the drafts the output goes on with (greedy verification)."""
    steps = []
    position = 1  # the prefill's forward produced output token 0, with no drafts
    while position < len(output_ids):
        drafts = propose([*prompt_ids, *output_ids[:position]], k)
        accepted = 0
        while (
            accepted < len(drafts)
            and position + accepted < len(output_ids)
            and drafts[accepted] == output_ids[position + accepted]
        ):
            accepted += 1
        steps.append(RebuiltStep(position, drafts, accepted))
        position += accepted + 1
    return steps


@dataclass(frozen=True)
class Divergence:
    """Where the rebuilt steps and the server's first differ."""

    step: int  # 0-based among the drafting steps
    ours: Step | None
    server: Step | None

    def words(self) -> str:
        def said(step: Step | None) -> str:
            return "none" if step is None else f"{step.accepted}/{step.drafted} accepted"

        return (
            f"drafting step {self.step + 1}: spectui rebuilt {said(self.ours)}, the server "
            f"reported {said(self.server)}"
        )


def first_divergence(ours: Sequence[Step], server: Sequence[Step]) -> Divergence | None:
    """The first drafting step where spectui's rebuild and the server's list differ."""
    drafting = [step for step in ours if step.drafted]
    for index in range(max(len(drafting), len(server))):
        mine = drafting[index] if index < len(drafting) else None
        theirs = server[index] if index < len(server) else None
        if mine != theirs:
            return Divergence(index, mine, theirs)
    return None
