"""Token trees built by hand for the token tree widget's tests (no engine, no model)."""

from __future__ import annotations

from spectui.engine.policy.records import Chance, GateCheck
from spectui.engine.tree.record import TreeNodeRecord, TreeRecord

# id → text of every token the scripted trees use (the root's, " upon", is 0).
TEXTS = {
    0: " upon",
    1: " a",
    2: " the",
    3: " an",
    4: " time",
    5: " day",
    6: ",",
    7: " there",
    8: " lived",
    9: " king",
    10: " of",
    11: " when",
    12: ".",
    13: " end",
    14: " one",
    15: " while",
    16: " queen",
    17: "\n",
}

# (token id, parent node id, q, verdict: True/False judged, None not judged, "pruned")
# Node ids are the list's indices: verified ones first, then the pruned, as the engine numbers
# them. The walk judges in the order of `WALK`; the path is 0 → 3 → 6 → 7 → 8 → 9.
NODES: list[tuple[int, int, float, bool | None | str]] = [
    (1, -1, 0.60, True),  # 0  " a"       path
    (2, -1, 0.20, False),  # 1  " the"     rejected
    (3, -1, 0.10, None),  # 2  " an"      never judged
    (4, 0, 0.70, True),  # 3  " time"    path
    (5, 0, 0.20, False),  # 4  " day"     rejected
    (13, 1, 0.50, None),  # 5  " end"     under a rejected node: never judged
    (6, 3, 0.50, True),  # 6  ","       path
    (7, 6, 0.80, True),  # 7  " there"  path
    (8, 7, 0.90, True),  # 8  " lived"  path
    (9, 8, 0.40, True),  # 9  " king"   path (depth 6)
    (10, 3, 0.20, False),  # 10 " of"      rejected
    (11, 3, 0.10, None),  # 11 " when"    never judged
    (12, 3, 0.05, None),  # 12 "."       never judged
    (16, 8, 0.30, None),  # 13 " queen"   never judged
    (14, -1, 0.05, "pruned"),  # 14 " one"
    (15, 0, 0.05, "pruned"),  # 15 " while"
    (17, 9, 0.30, "pruned"),  # 16 "\n"
]
WALK = (0, 1, 3, 4, 6, 10, 7, 8, 9)
PATH = (0, 3, 6, 7, 8, 9)


def check(position: int, token_id: int, q: float, accepted: bool, p: float, rank: int) -> GateCheck:
    """A gate check whose active policy (soft-guarded) gave `accepted`."""
    return GateCheck(
        position=position,
        token_id=token_id,
        q=q,
        p=p,
        rank=rank,
        top1_id=token_id if rank == 1 else 0,
        p_top1=max(p, 0.5),
        margin=max(p, 0.5) - p,
        gates={"p": accepted, "k": rank <= 3},
        chance=Chance(accept_probability=min(1.0, p / q), uniform=0.5),
        verdicts={"greedy": rank == 1, "soft": accepted},
        policy="soft",
        alternatives=((token_id, p),),
    )


def scripted_tree() -> TreeRecord:
    """Three branches at the root (one rejected, one never judged), a rejected branch and a
    wide fan under the path, three pruned nodes, and a path six deep."""
    depth: dict[int, int] = {-1: 0}
    path_q: dict[int, float] = {-1: 1.0}
    nodes = []
    for node_id, (token_id, parent, q, verdict) in enumerate(NODES):
        depth[node_id] = depth[parent] + 1
        path_q[node_id] = path_q[parent] * q
        pruned = verdict == "pruned"
        step = WALK.index(node_id) if node_id in WALK else None
        p = 0.9 - 0.1 * depth[node_id] if verdict is True else 0.03 + 0.01 * (node_id % 5)
        rank = 1 if verdict is True else 2 + node_id % 7
        nodes.append(
            TreeNodeRecord(
                node_id=node_id,
                parent=parent,
                depth=depth[node_id],
                token_id=token_id,
                q=q,
                path_q=path_q[node_id],
                pruned=pruned,
                check=None if pruned else check(node_id, token_id, q, verdict is True, p, rank),
                step=step,
            )
        )
    return TreeRecord(
        shape="top-4 · depth 6 · ≤ 14 nodes",
        rule="longest",
        nodes=tuple(nodes),
        walk=WALK,
        path=PATH,
    )


def chain_tree(n: int = 3, accepted: int = 2) -> TreeRecord:
    """A chain (a tree of width 1): its first `accepted` of `n` nodes accepted, the next not."""
    nodes = []
    path_q = 1.0
    for node_id in range(n):
        ok = node_id < accepted
        path_q *= 0.5
        judged = node_id <= accepted
        nodes.append(
            TreeNodeRecord(
                node_id,
                node_id - 1,
                node_id + 1,
                node_id + 1,
                0.5,
                path_q,
                False,
                check(node_id, node_id + 1, 0.5, ok, 0.8 if ok else 0.02, 1 if ok else 4),
                node_id if judged else None,
            )
        )
    walk = tuple(range(min(n, accepted + 1)))
    return TreeRecord("chain · k 3", "longest", tuple(nodes), walk, tuple(range(accepted)))
