"""A tree round as far as its events have come, for the token tree while stepping.

The engine's `TreeRecord` arrives with the round's RoundFinished, after every gate check; a
screen stepping through the round (`space`) has only the drafted nodes (RoundDrafted's
draft_ids, q and parents) and the checks so far, which come in walk order with each check's
position its node id. `tree_so_far` builds the record those imply: no pruned nodes (the
drafted ones are the verified ones), the walk so far, and the path so far (the checked nodes
whose token was appended). Plain Python, no widgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from spectui.engine.policy.records import GateCheck
from spectui.engine.tree.record import TreeNodeRecord, TreeRecord


def tree_so_far(
    draft_ids: Sequence[int],
    q: Sequence[float],
    parents: Sequence[int],
    checks: Sequence[GateCheck],
    path: Sequence[int],
    shape: str = "",
    rule: str = "",
) -> TreeRecord:
    """The round's tree after `checks` (in walk order), `path` the node ids accepted so far."""
    by_node = {check.position: (step, check) for step, check in enumerate(checks)}
    depth: dict[int, int] = {-1: 0}
    path_q: dict[int, float] = {-1: 1.0}
    nodes = []
    for node_id, (token_id, q_node, parent) in enumerate(zip(draft_ids, q, parents, strict=True)):
        depth[node_id] = depth[parent] + 1  # a parent is drafted before its children
        path_q[node_id] = path_q[parent] * q_node
        step, check = by_node.get(node_id, (None, None))
        node = TreeNodeRecord(
            node_id, parent, depth[node_id], token_id, q_node, path_q[node_id], False, check, step
        )
        nodes.append(node)
    walk = tuple(check.position for check in checks)
    return TreeRecord(shape, rule, tuple(nodes), walk, tuple(path))


def same_round(old: TreeRecord | None, new: TreeRecord | None) -> bool:
    """Whether two records are one round's tree at two points (the same verified nodes)."""
    if old is None or new is None:
        return old is new
    return _drafted(old) == _drafted(new)


def _drafted(tree: TreeRecord) -> tuple[tuple[int, int, int], ...]:
    return tuple((node.node_id, node.parent, node.token_id) for node in tree.verified)
