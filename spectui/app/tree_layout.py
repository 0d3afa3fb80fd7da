"""Which rows of a round's token tree are on screen, and what each node's verdict reads as.

Plain Python (no widgets), read by the token tree widget. Always on screen, even past the
row budget (the widget then shows a window of rows around its cursor): the root, the
accepted path, the selected node and the children of nodes the reader unfolded, with their
ancestors. Then, while they fit: the walk's nodes in the order the rule judged them, the
other verified nodes and the pruned ones, best path probability first. What does not fit
folds into a count on its parent's row: `▸ +3 more (5 nodes: ✓1 ✗1 ·2 ✂1)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from spectui.engine.tree.record import TreeNodeRecord, TreeRecord
from spectui.engine.tree.shape import ROOT


class Mark(str, Enum):
    """A node's verdict as far as the walk has come (each its own character)."""

    ACCEPTED = "✓"
    REJECTED = "✗"
    PENDING = "…"  # the walk has not come to it yet
    UNJUDGED = "·"  # verified, but the rule never judged it (the walk is over)
    PRUNED = "✂"  # cut by the node budget: never verified


MARK_ORDER = (Mark.ACCEPTED, Mark.REJECTED, Mark.PENDING, Mark.UNJUDGED, Mark.PRUNED)


@dataclass(frozen=True)
class Walked:
    """A tree seen after the first `steps` judgements of its walk."""

    tree: TreeRecord
    steps: int
    more: bool = False  # judgements may follow the record's walk (a round still stepping)

    @property
    def complete(self) -> bool:
        """Whether every judgement of the walk has been seen."""
        return not self.more and self.steps >= len(self.tree.walk)

    def mark(self, node: TreeNodeRecord) -> Mark:
        """The node's mark at this point of the walk."""
        if node.pruned:
            return Mark.PRUNED
        if node.step is None:
            # Which nodes the rule never judges is known only once the walk is over.
            return Mark.UNJUDGED if self.complete else Mark.PENDING
        if node.step >= self.steps:
            return Mark.PENDING
        return Mark.ACCEPTED if node.check is not None and node.check.accepted else Mark.REJECTED

    def on_path(self, node_id: int) -> bool:
        """Whether the node is on the accepted path and the walk has accepted it already."""
        if node_id not in self.tree.path:
            return False
        step = node_by_id(self.tree, node_id).step
        return step is not None and step < self.steps

    def latest(self) -> int:
        """The node judged last so far (ROOT before the first judgement)."""
        return self.tree.walk[self.steps - 1] if self.steps > 0 else ROOT


def walked(tree: TreeRecord, steps: int | None, more: bool = False) -> Walked:
    """The tree after `steps` judgements (None: its whole walk), clamped to the walk; `more`:
    the round goes on past the record's walk (a record of the walk so far)."""
    total = len(tree.walk)
    return Walked(tree, total if steps is None else max(0, min(steps, total)), more)


def node_by_id(tree: TreeRecord, node_id: int) -> TreeNodeRecord:
    """A node by its id."""
    if 0 <= node_id < len(tree.nodes) and tree.nodes[node_id].node_id == node_id:
        return tree.nodes[node_id]  # ids are indices in the records the engine writes
    return next(node for node in tree.nodes if node.node_id == node_id)


@dataclass(frozen=True)
class Row:
    """One row of the drawn tree: the root or a node, and its children that are not shown."""

    node_id: int  # ROOT for the root
    guides: str  # the tree lines before it, e.g. "│ └─"
    hidden: tuple[int, ...] = ()  # its children not shown (folded into a count on its row)


class Shape:
    """The tree's parent → children links, for laying it out."""

    def __init__(self, tree: TreeRecord) -> None:
        self.tree = tree
        self.kids: dict[int, list[int]] = {ROOT: []}
        self.parent: dict[int, int] = {}
        for node in tree.nodes:
            self.kids.setdefault(node.node_id, [])
            self.kids.setdefault(node.parent, []).append(node.node_id)
            self.parent[node.node_id] = node.parent

    def ancestors(self, node_id: int) -> Iterator[int]:
        """The node and its ancestors up to the root."""
        while node_id != ROOT and node_id in self.parent:
            yield node_id
            node_id = self.parent[node_id]
        yield ROOT

    def closed(self, ids: Iterable[int]) -> set[int]:
        """The nodes with all their ancestors."""
        return {a for node_id in ids for a in self.ancestors(node_id)}

    def below(self, node_id: int) -> Iterator[int]:
        """The node and every node under it."""
        yield node_id
        for child in self.kids[node_id]:
            yield from self.below(child)


def _priority(seen: Walked) -> Iterator[int]:
    """The nodes in the order they earn a row once the kept ones have theirs: those judged so
    far in walk order, then the verified ones by path probability (the walk's later order
    is not given away), then the pruned ones."""
    yield from seen.tree.walk[: seen.steps]
    by_q = sorted(seen.tree.nodes, key=lambda node: -node.path_q)
    yield from (node.node_id for node in by_q if not node.pruned)
    yield from (node.node_id for node in by_q if node.pruned)


def shown_nodes(
    seen: Walked, budget: int, keep: Iterable[int] = (), expanded: Iterable[int] = ()
) -> set[int]:
    """The node ids on screen (ROOT among them) in `budget` rows. Always, even past the
    budget: the root, the path accepted so far, `keep` and the children of `expanded`, with
    their ancestors; then the others in `_priority`'s order while they fit."""
    tree = seen.tree
    shape = Shape(tree)
    unfolded = [kid for node_id in expanded for kid in shape.kids.get(node_id, ())]
    kept = [k for k in keep if k in shape.kids]
    path = [node_id for node_id in tree.path if seen.on_path(node_id)]
    shown = shape.closed([ROOT, *path, *kept, *unfolded])
    waiting = list(dict.fromkeys(c for c in _priority(seen) if c not in shown))
    while waiting and len(shown) < budget:  # again while a node's parent came in after it
        passed = len(waiting)
        for candidate in list(waiting):
            if len(shown) < budget and shape.parent[candidate] in shown:
                shown.add(candidate)
                waiting.remove(candidate)
        if len(waiting) == passed:
            break
    return shown


def layout(
    seen: Walked, budget: int, keep: Iterable[int] = (), expanded: Iterable[int] = ()
) -> list[Row]:
    """The rows to draw, top to bottom: the root, then each shown node under its parent, in
    sibling order; each row names its children that are not shown."""
    shape = Shape(seen.tree)
    shown = shown_nodes(seen, budget, keep, expanded)
    rows: list[Row] = []

    def visit(node_id: int, guides: str, prefix: str) -> None:
        kids = [kid for kid in shape.kids[node_id] if kid in shown]
        hidden = tuple(kid for kid in shape.kids[node_id] if kid not in shown)
        rows.append(Row(node_id, guides, hidden))
        for index, kid in enumerate(kids):
            last = index == len(kids) - 1
            visit(kid, prefix + ("└─" if last else "├─"), prefix + ("  " if last else "│ "))

    visit(ROOT, "", "")
    return rows


def fold_note(seen: Walked, hidden: Iterable[int]) -> str:
    """What a fold hides: `+3 more (5 nodes: ✓1 ✗1 ·2 ✂1)`, the marks of whole subtrees."""
    hidden = tuple(hidden)
    shape = Shape(seen.tree)
    below = [node_by_id(seen.tree, n) for top in hidden for n in shape.below(top)]
    counts = Counter(seen.mark(node) for node in below)
    marks = " ".join(f"{mark.value}{counts[mark]}" for mark in MARK_ORDER if counts[mark])
    nodes = f"{len(below)} nodes: " if len(below) > len(hidden) else ""
    return f"+{len(hidden)} more ({nodes}{marks})"


def default_rows(screen_height: int) -> int:
    """Rows the tree takes by default on a screen this tall (its column header included):
    8 at 24 rows, 16 at 48."""
    return max(5, screen_height // 3)
