"""Growing a token tree from a drafter's distributions, whatever the drafter is.

`grow_tree` is the algorithm and knows no model: it is handed the drafter's q at the root and
an `expand` callback that scores a set of nodes in one drafter forward (`models.local` batches
them under a tree mask). Greedy drafts take each expanded node's best tokens; sampled drafts
draw each node's children i.i.d. from q, which is what multi-draft rejection sampling
(`sampling`) needs to stay lossless. For the same reason a sampled tree never drops a drawn
child afterwards: the node budget is kept while growing (a node's whole group of children is
drawn, or none of it), where greedy drafts grow every candidate and keep the best
`nodes` of them by path probability at the end, as EAGLE-2 reranks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from spectui.engine.tree.shape import ROOT, DraftNode, DraftTree, TreeShape
from spectui.engine.warps import pick_token

if TYPE_CHECKING:
    import torch

# The nodes to score, each as (candidate id, node whose parent is a candidate id too) -> the
# drafter's q after each, [vocab]: one drafter forward.
Expand = Callable[[Sequence[tuple[int, DraftNode]]], Sequence["torch.Tensor"]]


def grow_tree(
    shape: TreeShape,
    root_row: torch.Tensor,
    expand: Expand,
    sampler: torch.Generator | None,
    stop_id: int | None,
) -> tuple[DraftTree, tuple[int, ...]]:
    """The round's tree, and for each of its node ids the candidate id `expand` knew it by.

    `root_row` is q after the committed tokens (one forward, counted in `forwards`); nodes
    whose token is `stop_id` are never expanded.
    """
    found: list[DraftNode] = []
    paths: list[tuple[int, ...]] = []  # each candidate's sibling ranks from the root
    rows: dict[int, torch.Tensor] = {ROOT: root_row}
    layer, forwards = [ROOT], 1
    for depth in range(1, shape.depth + 1):
        new = _add_children(shape, layer, rows, found, paths, sampler, depth)
        expandable = [i for i in new if found[i].token_id != stop_id]
        chosen = _to_expand(shape, expandable, found, paths)
        if depth == shape.depth or not chosen:
            break
        for node_id, row in zip(chosen, expand([(i, found[i]) for i in chosen]), strict=True):
            rows[node_id] = row
        layer, forwards = chosen, forwards + 1
    kept = _kept(shape, found, sampled=sampler is not None)
    return _numbered(found, kept, rows if sampler is not None else None, forwards)


def _add_children(
    shape: TreeShape,
    layer: list[int],
    rows: dict[int, torch.Tensor],
    found: list[DraftNode],
    paths: list[tuple[int, ...]],
    sampler: torch.Generator | None,
    depth: int,
) -> list[int]:
    """Draft the children of every node in `layer`; their candidate ids."""
    new: list[int] = []
    for parent in layer:
        path = paths[parent] if parent != ROOT else ()
        count = _child_count(shape, path)
        if sampler is not None and not shape.static and len(found) + count > shape.nodes:
            break  # the budget is kept while growing: a sampled child is never dropped later
        row = rows[parent]
        base = found[parent].path_q if parent != ROOT else 1.0
        for rank, token in enumerate(_pick(row, count, sampler)):
            q = float(row[token])
            found.append(DraftNode(parent, depth, token, q, base * q))
            paths.append((*path, rank))
            new.append(len(found) - 1)
    return new


def _child_count(shape: TreeShape, path: tuple[int, ...]) -> int:
    if not shape.static:
        return shape.topk
    return sum(
        1 for choice in shape.choices if len(choice) == len(path) + 1 and choice[:-1] == path
    )


def _pick(row: torch.Tensor, count: int, sampler: torch.Generator | None) -> list[int]:
    """`count` tokens of q: drawn i.i.d. (with repeats), or its best ones (q > 0), best first."""
    import torch

    if sampler is not None:
        return [pick_token(row, sampler) for _ in range(count)]
    if count == 1:
        return [int(torch.argmax(row))]  # the chain's own pick, ties to the lowest id
    values, ids = torch.topk(row, min(count, row.shape[-1]))
    ranked = sorted(zip(values.tolist(), ids.tolist(), strict=True), key=lambda vi: (-vi[0], vi[1]))
    return [token for value, token in ranked if value > 0.0]


def _to_expand(
    shape: TreeShape, expandable: list[int], found: list[DraftNode], paths: list[tuple[int, ...]]
) -> list[int]:
    """The nodes of the newest depth whose children are drafted next."""
    if shape.static:
        return [i for i in expandable if _child_count(shape, paths[i]) > 0]
    best = sorted(expandable, key=lambda i: (-found[i].path_q, i))[: shape.topk]
    return sorted(best)


def _kept(shape: TreeShape, found: list[DraftNode], sampled: bool) -> list[int]:
    """The candidates verified: all of a sampled or static tree, else the best `nodes` by path
    probability (ties to the earlier drafted), closed under parents."""
    if sampled or shape.static or len(found) <= shape.nodes:
        return list(range(len(found)))
    kept: set[int] = set()
    for i in sorted(range(len(found)), key=lambda i: (-found[i].path_q, i)):
        if len(kept) == shape.nodes:
            break
        if found[i].parent == ROOT or found[i].parent in kept:
            kept.add(i)
    return sorted(kept)


def _numbered(
    found: list[DraftNode],
    kept: list[int],
    rows: dict[int, torch.Tensor] | None,
    forwards: int,
) -> tuple[DraftTree, tuple[int, ...]]:
    """Verified nodes first, then the pruned ones, each in drafting order; parents renumbered."""
    kept_set = set(kept)
    order = kept + [i for i in range(len(found)) if i not in kept_set]
    new_id = {old: new for new, old in enumerate(order)}
    new_id[ROOT] = ROOT
    nodes = tuple(
        replace(found[old], parent=new_id[found[old].parent], pruned=old not in kept_set)
        for old in order
    )
    renumbered = None if rows is None else {new_id[old]: row for old, row in rows.items()}
    return DraftTree(nodes, renumbered, forwards), tuple(order)
