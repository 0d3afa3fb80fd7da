"""A tree round as the events and traces carry it: every node with its verdicts, the walk in
rule order, the accepted path and the pruned branches. Pure Python: no torch.

An app draws the tree from `nodes` (parent, depth; `pruned` ones were cut by the node budget
and never verified, so they have no check), marks `path`, and steps through `walk`: the node
ids in the order the rule judged them (`TreeNodeRecord.step` is each one's index there).
"""

from __future__ import annotations

from dataclasses import dataclass

from spectui.engine.policy.records import GateCheck


@dataclass(frozen=True)
class TreeNodeRecord:
    """One drafted node."""

    node_id: int  # verified nodes are 0..n−1 (their index in the round's draft_ids), then pruned
    parent: int  # -1: the root, the last committed token
    depth: int  # 1 for the root's children
    token_id: int
    q: float  # the drafter's probability of the token at its parent
    path_q: float  # the product of q from the root (the drafter's path probability)
    pruned: bool  # cut by the node budget: never verified
    check: GateCheck | None  # every policy's verdict on this node; None if pruned
    # Its index in the walk, or None where the rule never judged it (off the path's branches;
    # under speculative sampling such a node's coin was never drawn).
    step: int | None


@dataclass(frozen=True)
class TreeRecord:
    """A round's token tree."""

    shape: str  # how it grew, e.g. "top-4 · depth 5 · ≤ 60 nodes"
    rule: str  # how it was walked: a `TreeWalk` value, "longest" accepted path or "rejection"
    nodes: tuple[TreeNodeRecord, ...]
    walk: tuple[int, ...]  # node ids in the order the rule judged them
    path: tuple[int, ...]  # the accepted nodes, root to end

    @property
    def verified(self) -> tuple[TreeNodeRecord, ...]:
        """The nodes the verifier scored."""
        return tuple(node for node in self.nodes if not node.pruned)

    @property
    def pruned(self) -> tuple[TreeNodeRecord, ...]:
        """The nodes the budget cut."""
        return tuple(node for node in self.nodes if node.pruned)

    def children(self, node_id: int) -> tuple[TreeNodeRecord, ...]:
        """A node's children (-1: the root's), in sibling order, pruned ones included."""
        return tuple(node for node in self.nodes if node.parent == node_id)

    @property
    def depth(self) -> int:
        """The deepest verified node's depth."""
        return max((node.depth for node in self.verified), default=0)

    @property
    def depths_judged(self) -> int:
        """How many depths the walk judged a node at (a chain's judged positions)."""
        return len({self.nodes[node_id].depth for node_id in self.walk})
