"""One round's token tree: every node with its verdict, the accepted path, the walk's order.

Each row reads without colour: `▶` and bold mark the accepted path, `✓`/`✗` the active
policy's verdicts, `…` a node the walk has not come to yet, `·` one it never judged, `✂` one
the node budget pruned (never verified); the number before it is its step in the walk. What
does not fit the row budget folds into a count (`tree_layout`); the path, the root and the
selected node never fold. The arrows move a cursor into any node, posted as TreeNodeSelected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from spectui.app.format import GREEN, GREY, PIECE_STYLES, RED, SELECTED_STYLE, prob, quoted
from spectui.app.messages import TreeNodeSelected
from spectui.app.rounds import PieceKind
from spectui.app.tree_layout import (
    Mark,
    Row,
    Shape,
    Walked,
    default_rows,
    fold_note,
    layout,
    node_by_id,
)
from spectui.app.tree_layout import walked as walked_tree
from spectui.app.tree_round import same_round
from spectui.app.widgets.panel import SkipsUnchanged
from spectui.engine.tree.record import TreeNodeRecord, TreeRecord
from spectui.engine.tree.shape import ROOT

# A token's style by its mark, each with its own attributes (the colour is never the only sign).
TOKEN_STYLES: dict[Mark, str] = {
    Mark.ACCEPTED: PIECE_STYLES[PieceKind.DRAFT],  # underline
    Mark.REJECTED: PIECE_STYLES[PieceKind.REJECTED],  # bold strike
    Mark.PENDING: PIECE_STYLES[PieceKind.PENDING],  # italic
    Mark.UNJUDGED: PIECE_STYLES[PieceKind.UNCHECKED],  # italic strike
    Mark.PRUNED: f"dim {GREY}",
}
PATH_STYLE = f"bold underline {GREEN}"  # a token on the accepted path (and ▶ before it)
MARK_STYLES: dict[Mark, str] = {
    Mark.ACCEPTED: GREEN,
    Mark.REJECTED: f"bold {RED}",
    Mark.PENDING: GREY,
    Mark.UNJUDGED: GREY,
    Mark.PRUNED: f"dim {GREY}",
}
NUMBERS = "   q    p  rk"  # the columns after the token: drafter q, verifier p, p's rank
NARROW_TOKEN, WIDE_TOKEN = 8, 14  # token cells, below and from 120 columns

TokenTexts = Callable[[int], str] | Mapping[int, str]
_TREE_ACTIONS = {"move", "into", "out", "fold", "root", "follow"}


class TokenTree(SkipsUnchanged, Widget, can_focus=True):
    """A round's token tree with a cursor; `walked` reveals the walk's first N judgements."""

    DEFAULT_CSS = """
    TokenTree { height: auto; text-wrap: nowrap; text-overflow: clip; }
    TokenTree:focus { background-tint: $foreground 4%; }
    """

    # Not a compact group ("↑↓ node"): the Footer drew the next key against it ("node← parent").
    BINDINGS = [
        Binding("up", "move(-1)", "up", key_display="↑", tooltip="The node above", id="tree_up"),
        Binding(
            "down", "move(1)", "down", key_display="↓", tooltip="The node below", id="tree_down"
        ),
        Binding(
            "left", "out", "parent", key_display="←", tooltip="Fold, or the parent", id="tree_out"
        ),
        Binding("right", "into", "child", key_display="→", tooltip="Unfold, a child", id="tree_in"),
        # Not enter: space and enter step and finish the round wherever the focus is.
        Binding("o", "fold", "unfold", tooltip="Show all its children, or fold", id="tree_fold"),
        Binding("home", "root", "root", show=False, tooltip="To the root", id="tree_root"),
        Binding("end", "follow", "follow", tooltip="Follow the walk again", id="tree_follow"),
    ]

    record: reactive[TreeRecord | None] = reactive(None, layout=True, bindings=True)
    walked: reactive[int | None] = reactive(None, layout=True)  # steps shown; None: the whole walk
    # False while the record is the walk so far (`tree_round.tree_so_far`): more may follow.
    finished: reactive[bool] = reactive(True, layout=True)
    max_rows: reactive[int | None] = reactive(None, layout=True)  # None: a third of the screen

    def __init__(
        self,
        tree: TreeRecord | None = None,
        texts: TokenTexts = str,
        root_text: str = "",
        *,
        walked: int | None = None,
        focus_key: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._texts = texts
        self.root_text = root_text  # the committed context's last token
        self.focus_key = focus_key  # the screen's key into the tree, named in its title
        self.following = True  # the cursor follows the walk until a key moves it
        self.cursor = ROOT  # the selected node's id
        self.unfolded: list[int] = []  # nodes whose children are all shown
        self._posted: tuple[TreeRecord, int] | None = None
        self.set_reactive(TokenTree.walked, walked)
        self.set_reactive(TokenTree.record, tree)
        self._follow()

    def show(
        self,
        tree: TreeRecord | None,
        texts: TokenTexts,
        root_text: str,
        walked: int | None = None,
        finished: bool = True,
    ) -> None:
        """Show a round's tree (None: a chain round) after `walked` judgements (None: all);
        `finished` False: `tree` is the walk so far and more judgements follow."""
        self._texts, self.root_text = texts, root_text
        self.set_reactive(TokenTree.walked, walked)
        self.set_reactive(TokenTree.finished, finished)
        if tree is not None and same_round(self.record, tree):  # the round further on
            self.set_reactive(TokenTree.record, tree)  # the cursor and the folds stay
            if self.cursor not in {ROOT, *(node.node_id for node in tree.nodes)}:
                self.following = True
            self._follow()
        else:
            self.record = tree
        self.refresh(layout=True)

    # The cursor and the folds.

    def watch_record(self) -> None:
        self.unfolded = []
        self.following = True
        self._follow()

    def watch_walked(self) -> None:
        self._follow()

    def watch_finished(self) -> None:
        self._follow()

    def _seen(self, tree: TreeRecord) -> Walked:
        return walked_tree(tree, self.walked, not self.finished)

    def on_mount(self) -> None:
        self._post()

    def on_focus(self) -> None:
        self._titles(focused=True)  # (has_focus may not be set yet when this runs)

    def on_blur(self) -> None:
        self._titles(focused=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The keys are offered only while there is a tree to move in."""
        return self.record is not None or action not in _TREE_ACTIONS

    def _follow(self) -> None:
        """While following, put the cursor on the node the walk judged last; retitle."""
        self._titles()
        if self.following and self.record is not None:
            self.cursor = self._seen(self.record).latest()
            self._post()

    def _titles(self, focused: bool | None = None) -> None:
        """The border: the tree's shape; the rule, the walk so far, the path accepted so far."""
        if self.record is None:
            self.border_title, self.border_subtitle = "tree", ""
            return
        seen = self._seen(self.record)
        accepted = sum(seen.on_path(node_id) for node_id in self.record.path)
        self.border_title = f"tree · {self.record.shape}"
        if self.focus_key:
            inside = self.has_focus if focused is None else focused
            where = "esc out" if inside else f"{self.focus_key} into it"
            self.border_title += f" · {where}"
        so_far = "" if seen.complete else " so far"
        walk = f"step {seen.steps}" + ("" if seen.more else f"/{len(self.record.walk)}")
        self.border_subtitle = f"{self.record.rule} · {walk} · path {accepted}{so_far}"

    def rows(self) -> list[Row]:
        """Every row of the laid-out tree, top to bottom (the screen shows a window of them)."""
        if self.record is None:
            return []
        seen = self._seen(self.record)
        return layout(seen, self.budget() - 1, [self.cursor], self.unfolded)

    def budget(self) -> int:
        """Rows the tree may take, its column header included."""
        if self.max_rows is not None:
            return self.max_rows
        return default_rows(self.screen.size.height if self.is_attached else 24)

    def _move_to(self, node_id: int) -> None:
        self.following = False
        self.cursor = node_id
        self.refresh(layout=True)
        self._post()

    def _post(self) -> None:
        """Tell the screen which node is selected, once per change."""
        tree = self.record
        if tree is None or not self.is_attached or self._posted == (tree, self.cursor):
            return
        self._posted = (tree, self.cursor)
        self.post_message(TreeNodeSelected(tree, self.cursor, self.following))

    def _row(self, rows: list[Row]) -> int:
        """The cursor's row."""
        return next((i for i, row in enumerate(rows) if row.node_id == self.cursor), 0)

    def action_move(self, delta: int) -> None:
        """Up or down across the rows."""
        rows = self.rows()
        if rows:
            self._move_to(rows[max(0, min(len(rows) - 1, self._row(rows) + delta))].node_id)

    def action_into(self) -> None:
        """To the node's first child shown, unfolding its children if none is."""
        if self.record is None:
            return
        kids = Shape(self.record).kids[self.cursor]
        if not kids:
            return
        rows = self.rows()
        shown = {row.node_id for row in rows}
        if not any(kid in shown for kid in kids):
            self.unfolded.append(self.cursor)
        self._move_to(next((kid for kid in kids if kid in shown), kids[0]))

    def action_out(self) -> None:
        """Fold the node's children if it was unfolded; else to its parent."""
        if self.record is None:
            return
        if self.cursor in self.unfolded:
            self.unfolded.remove(self.cursor)
            self._move_to(self.cursor)
        elif self.cursor != ROOT:
            self._move_to(Shape(self.record).parent[self.cursor])

    def action_fold(self) -> None:
        """Show all the node's children (past the row budget), or fold them again."""
        if self.record is None:
            return
        if self.cursor in self.unfolded:
            self.unfolded.remove(self.cursor)
        elif Shape(self.record).kids[self.cursor]:
            self.unfolded.append(self.cursor)
        self._move_to(self.cursor)

    def action_root(self) -> None:
        """To the root."""
        self._move_to(ROOT)

    def action_follow(self) -> None:
        """Back to following the walk."""
        self.following = True
        self._follow()
        self.refresh(layout=True)

    # Drawing.

    def text(self) -> str:
        """The tree as it reads without colour (what a monochrome terminal shows)."""
        return self.render().plain

    def _token(self, token_id: int) -> str:
        texts = self._texts
        return texts.get(token_id, str(token_id)) if isinstance(texts, Mapping) else texts(token_id)

    def render(self) -> Text:
        """The column header, then the rows in a window around the cursor."""
        tree = self.record
        if tree is None:
            return Text("No token tree: this round drafted a chain.", style="dim")
        seen = self._seen(tree)
        width = WIDE_TOKEN if self.size.width >= 120 else NARROW_TOKEN
        rows = self.rows()
        room = max(1, self.budget() - 1)
        top = max(0, min(self._row(rows) - room // 2, len(rows) - room))
        window = rows[top : top + room]
        parts = [self._parts(row, seen, width) for row in window]
        column = max((left.cell_len for left, _ in parts), default=0)
        header = Text(" #  token".ljust(column) + NUMBERS, style="bold")
        above, below = top, len(rows) - top - len(window)
        if above or below:  # rows past the budget: the path, or an unfolded node's children
            header.append(f"  ↑{above} ↓{below} rows", style="dim")
        lines = [header]
        for row, (left, right) in zip(window, parts, strict=True):
            line = left + Text(" " * (column - left.cell_len)) + right
            if row.node_id == self.cursor:
                line.stylize(SELECTED_STYLE)
            lines.append(line)
        return Text("\n").join(lines)

    def _parts(self, row: Row, seen: Walked, width: int) -> tuple[Text, Text]:
        """A row's tree part (cursor, step, guides, marks, token) and what follows it."""
        cursor = "›" if row.node_id == self.cursor else " "
        folded = Text(f"  ▸ {fold_note(seen, row.hidden)}", style="dim") if row.hidden else Text()
        if row.node_id == ROOT:
            left = Text(f"{cursor}   ◆ ")
            left.append(quoted(self.root_text or "·", width), style="bold")
            return left + Text(" "), Text("committed", style="dim") + folded
        node = node_by_id(seen.tree, row.node_id)
        mark, path = seen.mark(node), seen.on_path(node.node_id)
        step = f"{node.step + 1:>2}" if node.step is not None and node.step < seen.steps else "  "
        left = Text(f"{cursor}{step} {row.guides}", style="bold" if path else "")
        left.append("▶" if path else " ", style="bold")
        left.append(mark.value, style=MARK_STYLES[mark])
        left.append(" ")
        token_style = PATH_STYLE if path else TOKEN_STYLES[mark]
        left.append(quoted(self._token(node.token_id), width), style=token_style)
        return left + Text(" "), _numbers(node, mark) + folded


def _numbers(node: TreeNodeRecord, mark: Mark) -> Text:
    """q, then the verifier's p and rank once the walk has shown them (… before, — pruned)."""
    check = node.check
    if mark is Mark.PENDING or check is None:
        gap = "…" if mark is Mark.PENDING else "—"
        return Text(f"{prob(node.q)} {gap:>4} {gap:>3}", style="dim")
    return Text(f"{prob(node.q)} {prob(check.p)} {check.rank:>3}")
