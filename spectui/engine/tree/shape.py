"""A token tree's shape and the tree a drafter proposes. Pure Python: no torch.

Two shapes, as the engines that draft trees name them:
- *dynamic* (EAGLE-2): at each depth the `topk` best nodes of that depth, by the drafter's path
  probability, are expanded into `topk` children each; after the last depth the `nodes` best
  of all drafted ones are kept (with sampled drafts the budget is kept while growing: see
  `drafting`);
- *static* (Medusa's choices list): every node is a path of sibling ranks, e.g. `0 1 0.0 0.1`
  is the two best tokens, and under the best one its two best (Medusa's `medusa_choices`).
A chain of k drafts is the dynamic tree of top-1 and depth k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ROOT = -1  # the parent of depth-1 nodes: the last committed token


@dataclass(frozen=True)
class TreeShape:
    """How a round's tree grows."""

    topk: int  # dynamic: children per expanded node, and nodes expanded per depth
    depth: int  # the deepest level drafted
    nodes: int  # dynamic: most nodes verified (EAGLE-2's total_tokens)
    choices: tuple[tuple[int, ...], ...] = ()  # static: the node paths (sibling ranks); () dynamic

    @property
    def static(self) -> bool:
        """A choices list rather than EAGLE-2's dynamic growth."""
        return bool(self.choices)

    def limited(self, depth: int) -> TreeShape:
        """This shape at most `depth` deep (a round near max_new_tokens or the context end)."""
        if depth >= self.depth:
            return self
        choices = tuple(path for path in self.choices if len(path) <= depth)
        return TreeShape(self.topk, depth, self.nodes, choices)

    def describe(self) -> str:
        """e.g. "top-4 · depth 5 · ≤ 60 nodes", or "static, 6 nodes, depth 3"."""
        if self.static:
            return f"static · {len(self.choices)} nodes · depth {self.depth}"
        return f"top-{self.topk} · depth {self.depth} · ≤ {self.nodes} nodes"


def parse_choices(text: str) -> tuple[tuple[int, ...], ...]:
    """`"0 1 0.0 0.1"` (spaces or semicolons between paths, dots between ranks) as rank paths.

    Raises ValueError naming what is wrong: a path whose parent is missing, a repeated path,
    or ranks under one parent that skip a number.
    """
    paths: list[tuple[int, ...]] = []
    for word in text.replace(";", " ").split():
        try:
            path = tuple(int(rank) for rank in word.split("."))
        except ValueError:
            raise ValueError(f"{word!r} is not a path of ranks such as 0.1") from None
        if any(rank < 0 for rank in path):
            raise ValueError(f"{word!r} has a negative rank")
        paths.append(path)
    if not paths:
        raise ValueError("no paths: expected e.g. '0 1 0.0'")
    known = set(paths)
    if len(known) != len(paths):
        raise ValueError("a path is listed twice")
    for path in paths:
        if len(path) > 1 and path[:-1] not in known:
            raise ValueError(f"{'.'.join(map(str, path))} has no parent path in the list")
        if path[-1] > 0 and (*path[:-1], path[-1] - 1) not in known:
            raise ValueError(f"{'.'.join(map(str, path))} skips a rank under its parent")
    return tuple(sorted(paths, key=lambda path: (len(path), path)))


@dataclass(frozen=True)
class DraftNode:
    """One drafted token of a tree."""

    parent: int  # the parent node's id, or ROOT
    depth: int  # 1 for the root's children
    token_id: int
    q: float  # the drafter's (warped) probability of this token at its parent
    path_q: float  # the product of q from the root: EAGLE-2's score, the order of pruning
    pruned: bool = False  # drafted, then cut by the node budget: never verified


@dataclass(frozen=True)
class DraftTree:
    """A round's drafted tree: the verified nodes first (ids 0..n−1), then the pruned ones.

    Nodes are in breadth-first order and siblings in the drafter's order (best first, or in
    draw order for sampled drafts), so a parent's id is below its children's.
    """

    nodes: tuple[DraftNode, ...]
    # The drafter's warped q at each expanded node (ROOT included), [vocab]: what its children
    # were drawn from. None where drafts were greedy.
    rows: dict[int, torch.Tensor] | None
    forwards: int  # drafter forwards it took

    @property
    def verified(self) -> tuple[DraftNode, ...]:
        """The nodes the verifier scores (ids 0..n−1)."""
        return tuple(node for node in self.nodes if not node.pruned)

    @property
    def token_ids(self) -> tuple[int, ...]:
        """The verified nodes' tokens, by id."""
        return tuple(node.token_id for node in self.verified)

    @property
    def depth(self) -> int:
        """The deepest verified node's depth (0 for an empty tree)."""
        return max((node.depth for node in self.verified), default=0)


def children(nodes: Sequence[DraftNode]) -> dict[int, list[int]]:
    """Each node's children's ids in sibling order, ROOT included (leaves map to [])."""
    kids: dict[int, list[int]] = {ROOT: []}
    for node_id, node in enumerate(nodes):
        kids.setdefault(node_id, [])
        kids.setdefault(node.parent, []).append(node_id)
    return kids


def ancestors(nodes: Sequence[DraftNode], node_id: int) -> list[int]:
    """The ids on the path from the root's first child down to `node_id`, itself included."""
    path: list[int] = []
    while node_id != ROOT:
        path.append(node_id)
        node_id = nodes[node_id].parent
    return path[::-1]


def is_chain(nodes: Sequence[DraftNode]) -> bool:
    """Whether every node's parent is the node before it: the tree is a chain."""
    return all(node.parent == node_id - 1 for node_id, node in enumerate(nodes))
