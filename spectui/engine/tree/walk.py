"""The acceptance walk over a verified tree, from the root, in the order its rule judges.

Every policy but speculative sampling walks `longest`: each node is judged by the policy's
gates (`gate_check`, the chain's own record), and the round keeps the longest path of accepted
nodes from the root. Ties go to the path met first in sibling order, that is to the drafter's
likelier branch (siblings are ranked by q). Greedy-exact accepts only the verifier's argmax,
so its path is the argmax's at every depth: the verifier's own greedy decode. The walk, the
order the app steps through, is at each node of the path its children in sibling order up to
the one taken; at the path's end all its children (each rejected). Speculative sampling walks
by `rejection` (`sampling`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spectui.engine.policy.registry import gate_check
from spectui.engine.tree.shape import ROOT, DraftTree, children

if TYPE_CHECKING:
    import torch

    from spectui.engine.config import DecodeConfig
    from spectui.engine.policy.records import GateCheck
    from spectui.engine.seams import Scored

Coin = Callable[[], float]  # the engine's next acceptance coin


@dataclass(frozen=True)
class TreeVerdict:
    """What the walk decided: every node's check, the order judged, the path kept, and where
    the round's last token (the policy's correction, or the bonus) is read."""

    checks: tuple[GateCheck, ...]  # one per verified node, by id
    walk: tuple[int, ...]  # node ids in the order the rule judged them
    path: tuple[int, ...]  # the accepted nodes, root to end
    scores: Scored  # what the correction or bonus is drawn from
    row: int  # ... at this row of it
    drawn: int | torch.Tensor | None  # the correction's draw; None: the path ended at a leaf


def longest_path(
    parents: Sequence[int], accepted: Sequence[bool]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(walk, path): the longest root path of accepted nodes, ties to the earlier sibling."""
    kids: dict[int, list[int]] = {ROOT: []}
    for node_id, parent in enumerate(parents):
        kids.setdefault(node_id, [])
        kids.setdefault(parent, []).append(node_id)
    reach: dict[int, int] = {}  # an accepted node -> the longest accepted path down from it
    for node_id in reversed(range(len(parents))):
        if accepted[node_id]:
            reach[node_id] = 1 + max((reach.get(kid, 0) for kid in kids[node_id]), default=0)
    walk: list[int] = []
    path: list[int] = []
    node = ROOT
    while True:
        options = kids[node]
        taken = [kid for kid in options if kid in reach]
        if not taken:
            walk.extend(options)
            return tuple(walk), tuple(path)
        chosen = max(taken, key=lambda kid: (reach[kid], -kid))
        walk.extend(options[: options.index(chosen) + 1])
        path.append(chosen)
        node = chosen


def walk_longest(tree: DraftTree, scored: Scored, config: DecodeConfig, coin: Coin) -> TreeVerdict:
    """Judge every node by the gates, keep the longest accepted path; the coins are drawn for
    the walked nodes in walk order (as a chain draws one per judged position)."""
    nodes = tree.verified
    measures = scored.measures

    def check(node_id: int, uniform: float = 0.0) -> GateCheck:
        node = nodes[node_id]
        return gate_check(measures[node_id], node.q, node_id, node.depth - 1, config, uniform)

    checks = [check(node_id) for node_id in range(len(nodes))]
    walk, path = longest_path([node.parent for node in nodes], [c.accepted for c in checks])
    for node_id in walk:
        checks[node_id] = check(node_id, coin())
    end = path[-1] if path else ROOT
    kids = children(nodes)[end]
    drawn = drawn_from(tree, kids[0], config) if kids else None
    return TreeVerdict(tuple(checks), walk, path, scored, end + 1, drawn)


def drawn_from(tree: DraftTree, node_id: int, config: DecodeConfig) -> int | torch.Tensor:
    """What node `node_id` was drawn from: q's row at its parent (sampled), or its token."""
    if config.sample_draft and tree.rows is not None:
        return tree.rows[tree.nodes[node_id].parent]
    return tree.nodes[node_id].token_id
