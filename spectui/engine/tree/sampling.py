"""Speculative sampling over a token tree: recursive rejection sampling over siblings.

SpecInfer's multi-step speculative sampling (Miao et al. 2024, Algorithm 2), also the
"recursive rejection sampling" of Yang et al. and of EAGLE: at a node whose p is the
verifier's distribution, its children x₁, x₂, … are tried in order. xᵢ is accepted when a coin
u < min(1, p(xᵢ)/q(xᵢ)); when rejected, p becomes the residual max(0, p − q) normalised and
the next sibling is tried against it. If every child is rejected the round's last token is
drawn from the residual left (the chain's correction); after an accepted leaf it is the
verifier's own draw (the bonus). With children drawn i.i.d. from the drafter's q
(`drafting`), the output is distributed exactly as the verifier's; greedy drafts are drawn
with certainty (q is one-hot), which makes each rejection remove that token from p. With
one child per node this is Leviathan et al.'s chain, draw for draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spectui.engine.policy.registry import gate_check
from spectui.engine.tree.shape import ROOT, DraftTree, children
from spectui.engine.tree.walk import Coin, TreeVerdict, drawn_from

if TYPE_CHECKING:
    import torch

    from spectui.engine.config import DecodeConfig
    from spectui.engine.models.local import RowScores


def residual(p_row: torch.Tensor, drawn: int | torch.Tensor) -> torch.Tensor:
    """max(0, p − q) normalised, q what the rejected sibling was drawn from: [vocab]."""
    import torch

    q_row = (
        torch.nn.functional.one_hot(torch.tensor(drawn), p_row.shape[-1]).to(p_row)
        if isinstance(drawn, int)
        else drawn.to(p_row)
    )
    left = torch.clamp(p_row - q_row, min=0.0)  # [vocab]
    total = float(left.sum())
    return p_row if total <= 0.0 else left / total  # p == q: every draft is accepted


def walk_rejection(
    tree: DraftTree, scored: RowScores, config: DecodeConfig, coin: Coin
) -> TreeVerdict:
    """Walk from the root accepting or rejecting siblings in order, one coin per node tried.

    Nodes the walk never tries keep a check against the verifier's own p with no coin
    (uniform 0): their gates and the other policies' verdicts hold; their sampling verdict
    was never drawn.
    """
    from spectui.engine.models.local import RowScores

    nodes = tree.verified
    measures = scored.measures
    checks = [
        gate_check(measures[i], node.q, i, node.depth - 1, config) for i, node in enumerate(nodes)
    ]
    kids = children(nodes)
    walk: list[int] = []
    path: list[int] = []
    node = ROOT
    while True:
        p_row = scored.rows[node + 1].cpu()  # [vocab]: p after `node`
        before, drawn, taken = p_row, None, None
        for kid in kids[node]:
            drawn = drawn_from(tree, kid, config)
            tested = float(p_row[nodes[kid].token_id])
            checks[kid] = gate_check(
                measures[kid], nodes[kid].q, kid, nodes[kid].depth - 1, config, coin(), tested
            )
            walk.append(kid)
            if checks[kid].accepted:
                taken = kid
                break
            before, p_row = p_row, residual(p_row, drawn)
        if taken is None:
            break
        path.append(taken)
        node = taken
    if drawn is None:  # a leaf: the bonus is the verifier's own draw at it
        return TreeVerdict(tuple(checks), tuple(walk), tuple(path), scored, node + 1, None)
    # Every child rejected: the correction is the residual the last one left, drawn from the
    # p it was tested against (a chain's own correction, where there was one child).
    return TreeVerdict(
        tuple(checks), tuple(walk), tuple(path), RowScores(before[None], ()), 0, drawn
    )
