"""Tree statistics computed by hand on a scripted tree: nodes verified, accepted path, τ.

The drafter proposes the same tree every round (ids in brackets, q, pruned G never verified):

    root ─ A[0] ─ C[2] ─ F[5]
         │      └ D[3]
         └ B[1] ─ E[4] ─ (G[6], pruned)

Round 1: the verifier's argmax is A at the root and D after A, then 7: greedy walks A (taken),
C (rejected), D (taken, a leaf): walk [0, 2, 3], path [0, 3], appended A D +bonus 7.
Round 2: its argmax at the root is 5: A and B rejected, walk [0, 1], path [], correction 5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch
from scripted import ScriptedCache, _scripted_pair

from spectui.engine import DecodeConfig, SpeculativeDecoder
from spectui.engine.events import RoundFinished, TokenOrigin
from spectui.engine.models.local import RowScores
from spectui.engine.seams import measure_draft
from spectui.engine.tree.shape import ROOT, DraftNode, DraftTree

A, B, C, D, E, F, G = 10, 11, 12, 13, 14, 15, 16
VOCAB = 20
NODES = (
    DraftNode(ROOT, 1, A, 0.6, 0.6),
    DraftNode(ROOT, 1, B, 0.3, 0.3),
    DraftNode(0, 2, C, 0.5, 0.3),
    DraftNode(0, 2, D, 0.4, 0.24),
    DraftNode(1, 2, E, 0.9, 0.27),
    DraftNode(2, 3, F, 0.8, 0.24),
    DraftNode(4, 3, G, 0.1, 0.027, pruned=True),
)
# the verifier's argmax after the root and after each node (row 1 + node id), per round
ARGMAX = [
    {ROOT: A, 0: D, 3: 7},
    {ROOT: 5},
]


class ScriptedTreeDrafter(ScriptedCache):
    def propose(self, *args: Any) -> Any:
        raise AssertionError("a tree round never drafts a chain")

    def propose_tree(self, tokens: Sequence[int], *args: Any) -> DraftTree:
        self.cached_length = len(tokens) + 3
        return DraftTree(NODES, None, forwards=3)

    def keep_path(self, path: Sequence[int]) -> None:
        self.kept = tuple(path)


class ScriptedTreeVerifier(ScriptedCache):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def score(self, *args: Any) -> Any:
        raise AssertionError("a tree round is scored by score_tree")

    def score_tree(self, tokens: Sequence[int], tree: DraftTree, n_top: int, warp: Any) -> Any:
        argmax = ARGMAX[self.calls]
        self.calls += 1
        nodes = tree.verified
        self.cached_length = len(tokens) + len(nodes)
        rows = torch.full((len(nodes) + 1, VOCAB), 0.01)
        for parent in range(ROOT, len(nodes)):
            rows[parent + 1, argmax.get(parent, 0)] = 0.81
        parent_rows = torch.tensor([node.parent + 1 for node in nodes])
        measures = measure_draft(rows[parent_rows], list(tree.token_ids), n_top)
        return RowScores(rows, tuple(measures))

    def keep_path(self, path: Sequence[int]) -> None:
        self.kept = tuple(path)


@pytest.fixture(scope="module")
def rounds() -> list[RoundFinished]:
    config = DecodeConfig(
        policy="greedy", bonus=True, max_new_tokens=100, tree_topk=2, tree_depth=3
    )
    decoder = SpeculativeDecoder(
        _scripted_pair(),
        config,
        [1, 2, 3],
        drafter=ScriptedTreeDrafter(),  # type: ignore[arg-type]
        verifier=ScriptedTreeVerifier(),  # type: ignore[arg-type]
    )
    found: list[RoundFinished] = []
    for event in decoder.events():
        if isinstance(event, RoundFinished):
            found.append(event)
            if len(found) == 2:
                return found
    raise AssertionError("two rounds")


def test_the_walk_and_the_path_by_hand(rounds: list[RoundFinished]) -> None:
    first, second = rounds
    assert first.tree is not None and second.tree is not None
    assert first.tree.walk == (0, 2, 3) and first.tree.path == (0, 3)
    assert first.appended_ids == (A, D, 7)
    assert first.origins == (TokenOrigin.DRAFT, TokenOrigin.DRAFT, TokenOrigin.BONUS)
    assert second.tree.walk == (0, 1) and second.tree.path == ()
    assert second.appended_ids == (5,) and second.origins == (TokenOrigin.CORRECTION,)
    assert first.draft_ids == (A, B, C, D, E, F)  # the 6 verified nodes; G was pruned
    assert [node.node_id for node in first.tree.pruned] == [6]
    assert first.tree.nodes[6].check is None and first.tree.nodes[6].step is None
    assert [first.tree.nodes[i].step for i in (0, 2, 3, 1)] == [0, 1, 2, None]


def test_tree_figures_by_hand(rounds: list[RoundFinished]) -> None:
    stats = rounds[-1].stats
    assert stats.rounds == 2
    assert stats.drafted == 6 + 6  # nodes verified, pruned G left out
    assert stats.judged == 3 + 2  # nodes the walks judged
    assert stats.accepted == 2 + 0
    assert stats.new_tokens == 3 + 1
    assert stats.nodes_per_round == pytest.approx(12 / 2)
    assert stats.accepted_per_round == pytest.approx(2 / 2)  # the accepted path length
    assert stats.tokens_per_round == pytest.approx(4 / 2)  # τ
    assert stats.tokens_per_node == pytest.approx(4 / 12)
    assert stats.alpha == pytest.approx(2 / 5)
    # by depth: round 1 drafted depths 1-3, judged 1-2, accepted 1-2; round 2 judged depth 1
    assert stats.drafted_at == (2, 2, 2)
    assert stats.judged_at == (2, 1, 0)
    assert stats.accepted_at == (1, 1, 0)
    assert stats.per_position_conditional == pytest.approx((0.5, 1.0, 0.0))
    assert stats.accepted_length_histogram == (1, 0, 1, 0)
    assert stats.verifier_forwards == 1 + 2  # the prompt's prefill, then one per round
    assert stats.drafter_forwards == 1 + 3 + 3
