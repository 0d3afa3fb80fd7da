"""A scripted decode: fake drafter and verifier seams whose every round is known in advance.

The drafter proposes tokens 100, 101, …; the verifier agrees with the first `n` of them in
each round (its top-1 is the draft, p = 0.9) and then prefers token 7. The rounds, and what
each one must do:

    round  policy  k  bonus  verifier agrees  judged  accepted  appended
    1      greedy  5  on     1                2       1         2 (1 + correction)
    2      greedy  5  on     5                5       5         6 (5 + bonus)
    3      greedy  3  off    3                3       3         3 (no bonus)
    4      greedy  3  off    0                1       0         1 (correction)
    5      soft    4  on     4, cap 2         3       2         3 (the cap refuses #3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from spectui.engine import DecodeConfig
from spectui.engine.decode import SpeculativeDecoder
from spectui.engine.events import RoundFinished
from spectui.engine.models.loading import ModelPair
from spectui.engine.seams import DraftMeasures, Proposal

PREFERRED = 7  # the verifier's token where it disagrees with the draft
BONUS = 8  # its token after the last draft
AGREES = [1, 5, 3, 0, 4]  # leading draft tokens the verifier agrees with, per round


class ScriptedCache:
    """A cache that only counts positions."""

    def __init__(self) -> None:
        self.cached_length = 0

    def prefill(self, tokens: Sequence[int]) -> None:
        self.cached_length = len(tokens)

    def roll_back(self, length: int) -> None:
        self.cached_length = min(self.cached_length, length)


class ScriptedDrafter(ScriptedCache):
    """Proposes 100, 101, … with q = 0.5 each."""

    def propose(
        self, tokens: Sequence[int], k: int, sampler: Any, stop_id: int | None, warp: Any = None
    ) -> Proposal:
        self.cached_length = len(tokens) + k - 1
        return Proposal(tuple(range(100, 100 + k)), (0.5,) * k, None)


@dataclass
class ScriptedScores:
    measures: list[DraftMeasures]

    def top1(self, position: int) -> int:
        return self.measures[position].top1_id if position < len(self.measures) else BONUS

    def sample(self, position: int, generator: Any, drawn: Any = None) -> int:
        return self.top1(position)


class ScriptedVerifier(ScriptedCache):
    """Agrees with the first AGREES[round] drafts of each round."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def score(
        self, tokens: Sequence[int], draft_ids: Sequence[int], n_top: int, warp: Any = None
    ) -> ScriptedScores:
        agrees = AGREES[self.calls]
        self.calls += 1
        self.cached_length = len(tokens) + len(draft_ids)
        return ScriptedScores([_measures(t, i < agrees) for i, t in enumerate(draft_ids)])


def _measures(token_id: int, agrees: bool) -> DraftMeasures:
    if agrees:
        return DraftMeasures(token_id, 0.9, 1, token_id, 0.9, (token_id, PREFERRED), (0.9, 0.05))
    return DraftMeasures(
        token_id, 0.01, 3, PREFERRED, 0.9, (PREFERRED, 1, token_id), (0.9, 0.05, 0.01)
    )


def _scripted_pair() -> ModelPair:
    tokenizer = type("NoEos", (), {"eos_token_id": None, "bos_token_id": None})()
    return ModelPair(tokenizer, None, None, torch.device("cpu"), torch.float32, "d", "v", 1000, 0.0)


def scripted_decode() -> list[RoundFinished]:
    config = DecodeConfig(policy="greedy", draft_span=5, bonus=True, max_new_tokens=100)
    decoder = SpeculativeDecoder(
        _scripted_pair(), config, [1, 2, 3], drafter=ScriptedDrafter(), verifier=ScriptedVerifier()
    )
    rounds: list[RoundFinished] = []
    for event in decoder.events():
        if isinstance(event, RoundFinished):
            rounds.append(event)
            if event.round_index == 1:
                decoder.retune(draft_span=3, bonus=False)
            if event.round_index == 3:
                decoder.retune(policy="soft", draft_span=4, bonus=True, max_accept=2)
            if event.round_index == 4:
                return rounds
    raise AssertionError("the script has five rounds")
