"""One round of the decode screen's view: its drafts, its checks in the order they came, and
the stream's pieces it reads as, a chain's and a token tree's. Plain Python (no widgets, no
torch), folded from engine events by `decode_view.DecodeView`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING

from spectui.engine import events
from spectui.engine.tree.shape import ROOT

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.policy.records import GateCheck
    from spectui.engine.tree.record import TreeRecord


class PieceKind(str, Enum):
    """How a piece of the stream came to be (each has its own style and marker)."""

    DRAFT = "draft"  # accepted draft token
    CORRECTION = "correction"  # verifier's argmax at the first rejection
    BONUS = "bonus"  # verifier's extra token after a fully accepted draft
    PENDING = "pending"  # drafted this round, not judged yet
    REJECTED = "rejected"  # judged and refused
    UNCHECKED = "unchecked"  # after a rejection: discarded without a check


PIECE_OF_ORIGIN = {
    events.TokenOrigin.DRAFT: PieceKind.DRAFT,
    events.TokenOrigin.CORRECTION: PieceKind.CORRECTION,
    events.TokenOrigin.BONUS: PieceKind.BONUS,
}


@dataclass(frozen=True)
class CheckView:
    """A gate check with the texts needed to show it."""

    check: GateCheck
    text: str
    top1_text: str
    alternatives: tuple[tuple[str, float], ...]
    config: DecodeConfig  # the round's settings (the thresholds the gates were held to)

    def token_text(self, token_id: int) -> str:
        """The text of a token this check names (the draft, the top-1, an alternative)."""
        if token_id == self.check.token_id:
            return self.text
        if token_id == self.check.top1_id:
            return self.top1_text
        named = zip(self.check.alternatives, self.alternatives, strict=True)
        return next((text for (t, _), (text, _) in named if t == token_id), str(token_id))


@dataclass(frozen=True)
class Piece:
    """One selectable token in the stream."""

    text: str
    kind: PieceKind
    round_index: int
    position: int | None  # draft position within its round, a tree's node id (None: a bonus)
    # The check at this position: a draft token's own; a correction's is the rejected draft's
    # it replaced (the verifier's distribution there is the correction's too).
    check: CheckView | None
    q: float | None = None  # the drafter's probability, for draft tokens (None: never drafted)
    token_id: int | None = None  # for tokens that joined the output
    # A rejected draft's: the token appended in its place (its correction), once it is.
    replaced_by: int | None = None
    depth: int | None = None  # a token tree's node: its depth (1 under the root); None: a chain
    # A tree node its gates accepted in a finished round whose walk took another branch.
    off_path: bool = False
    # A tree node's step in its round's walk (the number the tree panel shows beside it);
    # None: not judged, or not known until the round's tree record arrives.
    walk_step: int | None = None

    def verifier_p(self) -> tuple[float, int] | None:
        """The verifier's (p, rank) of this token at its position, when its check shows it.

        A draft token's are its check's; a correction's are found among the check's top
        alternatives (None when it is not among them: a residual draw can land anywhere).
        """
        view = self.check
        if view is None:
            return None
        check = view.check
        token_id = check.token_id if self.token_id is None else self.token_id
        if token_id == check.token_id:
            return check.p, check.rank
        if token_id == check.top1_id:
            return check.p_top1, 1
        ranked = enumerate(check.alternatives, start=1)
        return next(((p, rank) for rank, (t, p) in ranked if t == token_id), None)


@dataclass
class DraftSlot:
    """One draft token of the current round."""

    text: str
    q: float
    check: CheckView | None = None


@dataclass
class RoundView:
    """The current (or last finished) round.

    A token tree's round (`parents` not empty) has a slot per verified node, by node id; its
    checks come in the order the rule walks the tree (`walk`), and the accepted ones make the
    `path`. Its `tree` record arrives with the round's end.
    """

    index: int
    config: DecodeConfig
    drafts: list[DraftSlot]
    appended: list[Piece] = field(default_factory=list)
    finished: bool = False
    draft_ids: tuple[int, ...] = ()
    parents: tuple[int, ...] = ()  # a tree's: each node's parent (ROOT, or a node id)
    walk: list[int] = field(default_factory=list)  # positions in the order they were judged
    path: list[int] = field(default_factory=list)  # a tree's accepted node ids, root to end
    tree: TreeRecord | None = None  # the engine's record of a tree round, once it is over

    @property
    def is_tree(self) -> bool:
        """Whether this round drafted a token tree (a chain has no parents)."""
        return bool(self.parents)

    @property
    def n_checked(self) -> int:
        """Draft tokens judged so far."""
        return len(self.walk)

    @property
    def latest_position(self) -> int | None:
        """The position (a tree's node id) judged last, if any."""
        return self.walk[-1] if self.walk else None

    def judged(self) -> list[CheckView]:
        """The checks so far, in the order they were made."""
        return [check for position in self.walk if (check := self.drafts[position].check)]

    def children(self, node_id: int) -> list[int]:
        """A tree node's children (ROOT: the root's) in sibling order."""
        return [kid for kid, parent in enumerate(self.parents) if parent == node_id]

    def pieces(self) -> list[Piece]:
        """This round in reading order.

        A rejected draft token comes just before the correction that replaces it; the draft
        tokens after it were never checked (or are still pending); a bonus token comes last.
        """
        if self.is_tree:
            return self._tree_pieces()
        pieces: list[Piece] = []
        rejected = False
        for position, slot in enumerate(self.drafts):
            appended = self.appended[position] if position < len(self.appended) else None
            if appended is not None and appended.kind is PieceKind.DRAFT:
                pieces.append(appended)
                continue
            if slot.check is not None and not slot.check.check.accepted:
                rejected = True
                kind = PieceKind.REJECTED
            else:
                kind = PieceKind.UNCHECKED if rejected or self.finished else PieceKind.PENDING
            replaced_by = appended.token_id if appended is not None else None
            pieces.append(
                Piece(slot.text, kind, self.index, position, slot.check, slot.q, None, replaced_by)
            )
            if appended is not None and appended.kind is PieceKind.CORRECTION:
                pieces.append(appended)
        pieces.extend(p for p in self.appended if p.kind is PieceKind.BONUS)
        return pieces

    def _tree_pieces(self) -> list[Piece]:
        """A tree round in reading order: down the accepted path, each node after the siblings
        the walk refused before it; at the path's end the refused children, the correction,
        then the drafter's best continuation not judged yet (pending while the round steps;
        discarded once a refusal or the round's end means it never will be), the bonus last.
        Accepted nodes off the path, and the rest of the tree, are the tree panel's."""
        pieces: list[Piece] = []
        accepted = [piece for piece in self.appended if piece.kind is PieceKind.DRAFT]
        correction = next((p for p in self.appended if p.kind is PieceKind.CORRECTION), None)
        node = ROOT
        for depth, piece in enumerate([*accepted, None], start=1):
            refused = [kid for kid in self._judged_children(node) if not self.accepted(kid)]
            replaced_by = correction.token_id if piece is None and correction else None
            pieces.extend(
                self._node_piece(kid, depth, PieceKind.REJECTED, replaced_by) for kid in refused
            )
            if piece is None:
                break
            pieces.append(piece)
            node = self.path[depth - 1]
        if correction is not None:
            pieces.append(correction)
        pieces.extend(self._continuation(node))
        pieces.extend(p for p in self.appended if p.kind is PieceKind.BONUS)
        return pieces

    def _continuation(self, node: int) -> list[Piece]:
        """The drafter's likeliest line below `node` that the walk has not judged: from its
        first child not judged (pending), or below its last refused child (never judged)."""
        judged = set(self.walk)
        waiting = [kid for kid in self.children(node) if kid not in judged]
        kind = PieceKind.UNCHECKED if self.finished else PieceKind.PENDING
        if waiting:
            start = waiting[0]
        else:
            refused = [kid for kid in self._judged_children(node) if not self.accepted(kid)]
            kids = self.children(refused[-1]) if refused else []
            if not kids:
                return []
            start, kind = kids[0], PieceKind.UNCHECKED
        line, depth = [], self._depth(start)
        while True:
            line.append(self._node_piece(start, depth, kind))
            kids = self.children(start)
            if not kids:
                return line
            start, depth = kids[0], depth + 1

    def _judged_children(self, node: int) -> list[int]:
        return [kid for kid in self.walk if self.parents[kid] == node]

    def accepted(self, node_id: int) -> bool:
        """Whether the node (a position) was judged and accepted."""
        check = self.drafts[node_id].check
        return check is not None and check.check.accepted

    def _depth(self, node_id: int) -> int:
        depth = 1
        while (node_id := self.parents[node_id]) != ROOT:
            depth += 1
        return depth

    def _node_piece(
        self,
        node_id: int,
        depth: int,
        kind: PieceKind,
        replaced_by: int | None = None,
        off_path: bool = False,
    ) -> Piece:
        slot = self.drafts[node_id]
        return Piece(
            slot.text,
            kind,
            self.index,
            node_id,
            slot.check,
            slot.q,
            None,
            replaced_by,
            depth,
            off_path,
            self._walk_step(node_id),
        )

    def _walk_step(self, node_id: int) -> int | None:
        if self.tree is None:
            return None
        return next((node.step for node in self.tree.nodes if node.node_id == node_id), None)

    def node_piece(self, node_id: int) -> Piece:
        """A tree node as a selectable token (the tree panel's cursor), of the kind it is now."""
        appended = next(
            (p for p in self.appended if p.kind is PieceKind.DRAFT and p.position == node_id), None
        )
        if appended is not None:
            return replace(appended, walk_step=self._walk_step(node_id))
        check = self.drafts[node_id].check
        if check is not None:
            kind = PieceKind.DRAFT if check.check.accepted else PieceKind.REJECTED
        else:
            kind = PieceKind.UNCHECKED if self.finished else PieceKind.PENDING
        # Not appended by the round's end: the walk took another branch.
        off_path = kind is PieceKind.DRAFT and self.finished
        return self._node_piece(node_id, self._depth(node_id), kind, off_path=off_path)


def appended_position(current: RoundView, kind: PieceKind) -> int | None:
    """Where a token joining the output stands among the round's drafts: a chain's next
    position; in a tree, an accepted node is the one just judged, and a correction takes the
    place of the refused child judged last (None: a bonus, or nothing was judged)."""
    if kind is PieceKind.BONUS:
        return None
    if not current.is_tree:
        return len(current.appended)
    latest = current.latest_position
    if kind is PieceKind.CORRECTION and latest is not None and current.accepted(latest):
        return None
    return latest
