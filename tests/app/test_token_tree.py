"""The token tree widget on hand-built trees: marks, path, folds, the walk, keys, messages.

Snapshots at 80×24 and 160×48 (regenerate with `pytest tests/app/test_token_tree.py
--snapshot-update`, then look at the SVGs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer
from tree_records import TEXTS, chain_tree, scripted_tree

import spectui.app
from spectui.app.messages import TreeNodeSelected
from spectui.app.tree_layout import Mark, Shape, layout, walked
from spectui.app.tree_round import same_round, tree_so_far
from spectui.app.widgets.token_tree import PATH_STYLE, TOKEN_STYLES, TokenTree
from spectui.engine.tree.record import TreeRecord
from spectui.engine.tree.shape import ROOT

APP_CSS = Path(spectui.app.__file__).parent / "app.tcss"


class TreeApp(App[None]):
    """The widget alone, framed as the decode screen frames a panel; space steps the walk."""

    CSS_PATH = str(APP_CSS)
    BINDINGS = [
        Binding("space", "step", "step", id="step"),
        Binding("enter", "finish", "finish", id="finish"),
    ]

    def __init__(self, tree: TreeRecord | None, walked: int | None = None) -> None:
        super().__init__()
        self.record, self.start = tree, walked

    def compose(self) -> ComposeResult:
        yield TokenTree(self.record, TEXTS, " upon", walked=self.start, classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TokenTree).focus()

    def action_step(self) -> None:
        """As the decode screen will: one more of the walk's judgements shown."""
        tree = self.query_one(TokenTree)
        tree.walked = 1 if tree.walked is None else tree.walked + 1

    def action_finish(self) -> None:
        """As the decode screen will: the whole walk shown."""
        self.query_one(TokenTree).walked = None


def rows_of(text: str) -> list[str]:
    """The tree's rows (its column header dropped)."""
    return text.splitlines()[1:]


def row_of(text: str, token: str) -> str:
    """The row of the node whose token reads `token`."""
    return next(row for row in rows_of(text) if f" {token} " in row)


# The layout, without a widget.


def test_the_root_and_the_path_are_always_laid_out_and_the_rest_fits_the_budget() -> None:
    tree = scripted_tree()
    for budget in (1, 4, 7, 12, 20):
        rows = layout(walked(tree, None), budget)
        shown = [row.node_id for row in rows]
        assert shown[0] == ROOT
        assert set(tree.path) <= set(shown)
        assert len(rows) == max(budget, 1 + len(tree.path)) or len(rows) == len(tree.nodes) + 1
    everything = layout(walked(tree, None), 100)
    assert len(everything) == len(tree.nodes) + 1 and not any(row.hidden for row in everything)


def test_a_fold_counts_its_hidden_children_and_a_kept_node_is_never_folded() -> None:
    tree = scripted_tree()
    rows = layout(walked(tree, None), 7)
    hidden = {row.node_id: row.hidden for row in rows}
    assert hidden[ROOT] == (1, 2, 14) and hidden[0] == (4, 15)
    kept = layout(walked(tree, None), 7, keep=[5])  # " end", under the rejected " the"
    assert {5, 1} <= {row.node_id for row in kept}
    unfolded = layout(walked(tree, None), 7, expanded=[3])
    assert set(Shape(tree).kids[3]) <= {row.node_id for row in unfolded}


def test_marks_follow_the_walk() -> None:
    tree = scripted_tree()
    done, early = walked(tree, None), walked(tree, 2)
    marks = {node.node_id: done.mark(node) for node in tree.nodes}
    assert marks[0] is Mark.ACCEPTED and marks[1] is Mark.REJECTED
    assert marks[2] is Mark.UNJUDGED and marks[14] is Mark.PRUNED
    assert early.mark(tree.nodes[1]) is Mark.REJECTED  # step 2 of the walk
    assert early.mark(tree.nodes[3]) is Mark.PENDING and early.mark(tree.nodes[2]) is Mark.PENDING
    assert early.on_path(0) and not early.on_path(3) and early.latest() == 1
    assert walked(tree, 0).latest() == ROOT and walked(tree, 99).steps == len(tree.walk)


def so_far(n_checks: int, path: tuple[int, ...]) -> TreeRecord:
    """The scripted round as a screen stepping it has it: drafted nodes, the first checks."""
    full = scripted_tree()
    drafted = full.verified
    checks = [full.nodes[node_id].check for node_id in full.walk[:n_checks]]
    return tree_so_far(
        [node.token_id for node in drafted],
        [node.q for node in drafted],
        [node.parent for node in drafted],
        [check for check in checks if check is not None],
        path,
        full.shape,
        full.rule,
    )


def test_the_walk_so_far_is_the_record_without_its_pruned_nodes_and_later_steps() -> None:
    full, early = scripted_tree(), so_far(3, (0, 3))
    assert early.walk == full.walk[:3] and early.path == (0, 3) and not early.pruned
    for node, drafted in zip(early.nodes, full.verified, strict=True):
        assert (node.depth, node.path_q) == (drafted.depth, drafted.path_q)
        assert node.step == (drafted.step if node.node_id in early.walk else None)
    assert same_round(early, full) and not same_round(early, chain_tree())
    seen = walked(early, None, more=True)
    assert not seen.complete and seen.mark(early.nodes[2]) is Mark.PENDING  # not "never judged"


# The widget.


async def test_at_80x24_the_path_is_marked_and_the_rest_folds_into_counts() -> None:
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = app.query_one(TokenTree)
        text = widget.text()
        assert len(text.splitlines()) <= 8  # 10 rows with its border
        assert widget.region.height <= 10
        for token in ("␣a", "␣time", ",", "␣there", "␣lived", "␣king"):
            assert "▶✓" in row_of(text, token)  # the path, all six deep
        assert row_of(text, "␣upon").endswith("▸ +3 more (4 nodes: ✗1 ·2 ✂1)")
        assert row_of(text, "␣a").endswith("▸ +2 more (✗1 ✂1)")
        assert row_of(text, "␣time").endswith("▸ +3 more (✗1 ·2)")
        assert widget.border_title == "tree · top-4 · depth 6 · ≤ 14 nodes"
        assert widget.border_subtitle == "longest · step 9/9 · path 6"


async def test_at_160x48_every_kind_of_node_has_its_row() -> None:
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        text = app.query_one(TokenTree).text()
        assert len(rows_of(text)) == 15
        assert "  2 ├─ ✗ ␣the" in row_of(text, "␣the")  # step 2 of the walk, rejected
        assert " · ␣an" in row_of(text, "␣an")  # verified, never judged
        assert " · ␣queen" in row_of(text, "␣queen")
        assert row_of(text, "␣king").endswith("▸ +1 more (✂1)")  # the pruned "\n" folded
        assert "  6 │ │ ├─ ✗ ␣of" in row_of(text, "␣of")


async def test_a_pruned_node_shows_scissors_and_no_verifier_numbers() -> None:
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(80, 24)) as pilot:
        widget = app.query_one(TokenTree)
        widget.max_rows = 30
        await pilot.pause()
        row = row_of(widget.text(), "␣while")
        assert "✂ ␣while" in row and row.split()[-2:] == ["—", "—"]
        assert row_of(widget.text(), "␣queen").split()[-3:] == ["0.30", "0.06", "8"]


async def test_space_walks_the_tree_in_the_rules_order() -> None:
    app = TreeApp(scripted_tree(), walked=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = app.query_one(TokenTree)
        assert widget.cursor == ROOT
        assert "…" in row_of(widget.text(), "␣a") and "✓" not in widget.text()
        for step, node_id in enumerate(scripted_tree().walk[:3], start=1):
            await pilot.press("space")
            assert widget.walked == step and widget.cursor == node_id  # it follows the walk
        text = widget.text()
        assert "  1 ├─▶✓ ␣a" in text and "› 3 │ └─▶✓ ␣time" in text
        assert "  2 └─ ✗ ␣the" in text
        assert " … ," in row_of(text, ",")  # the walk has not come to it
        assert widget.border_subtitle == "longest · step 3/9 · path 2 so far"
        await pilot.press("enter")  # the focused tree leaves space and enter to the screen
        assert "path 6" in widget.border_subtitle and "…" not in row_of(widget.text(), "␣king")


async def test_arrows_move_into_any_node_and_post_it() -> None:
    posted: list[Message] = []
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(80, 24), message_hook=posted.append) as pilot:
        await pilot.pause()
        widget = app.query_one(TokenTree)
        assert widget.cursor == 9  # the walk's last node
        await pilot.press("home")
        assert widget.cursor == ROOT and not widget.following
        await pilot.press("down", "down")
        assert widget.cursor == 3
        await pilot.press("right")
        assert widget.cursor == 6
        await pilot.press("left", "left", "left")
        assert widget.cursor == ROOT
        await pilot.press("right")  # the root's first child shown: the path's
        assert widget.cursor == 0
        await pilot.press("o")  # unfold " a": " day" and the pruned " while" appear
        assert "✗ ␣day" in widget.text() or "↓" in widget.text()
        await pilot.press("down", "down", "down", "down", "down", "down")
        assert widget.cursor == 4 and "▶" not in row_of(widget.text(), "␣day")
        await pilot.press("left")  # to its parent; left again folds it
        assert widget.cursor == 0
        await pilot.press("left")
        assert 0 not in widget.unfolded and widget.cursor == 0
        await pilot.press("end")  # back to the walk
        assert widget.cursor == 9 and widget.following
        await pilot.pause()
    # Each message once, though the hook sees it at every node it bubbles through.
    unique = list({id(m): m for m in posted if isinstance(m, TreeNodeSelected)}.values())
    selected = [m for m in unique if isinstance(m, TreeNodeSelected)]
    walk_down = [3, 6, 7, 8, 9, 4]
    assert [m.node_id for m in selected] == [9, ROOT, 0, 3, 6, 3, 0, ROOT, 0, *walk_down, 0, 9]
    assert selected[0].following and not selected[1].following and selected[-1].following
    assert selected[4].node is not None and selected[4].node.token_id == 6
    assert selected[1].node is None


async def test_a_node_under_a_rejected_one_can_be_reached() -> None:
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = app.query_one(TokenTree)
        await pilot.press("home", "o")  # unfold the root: " the", " an", " one"
        text = widget.text()
        assert "↓" in text  # past the budget: a window around the cursor
        await pilot.press(*["down"] * 7)
        assert widget.cursor == 1
        await pilot.press("right")  # " end": folded under " the", unfolded to reach it
        assert widget.cursor == 5 and "· ␣end" in widget.text()
        assert len(widget.text().splitlines()) == 8


async def test_the_keys_are_in_the_footer() -> None:
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = {
            binding.description
            for _, binding, enabled, _ in app.screen.active_bindings.values()
            if binding.show and enabled
        }
        assert {"up", "down", "parent", "child", "unfold", "follow", "step"} <= shown


async def test_a_chain_is_a_tree_of_width_one() -> None:
    app = TreeApp(chain_tree())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        rows = rows_of(app.query_one(TokenTree).text())
        assert [row[4:9] for row in rows] == ["◆ ␣up", "└─▶✓ ", "  └─▶", "    └"]
        assert "✗" in rows[3]


async def test_a_chain_round_says_it_has_no_tree() -> None:
    app = TreeApp(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.query_one(TokenTree).text() == "No token tree: this round drafted a chain."
        offered = {b.description for _, b, on, _ in app.screen.active_bindings.values() if on}
        assert "parent" not in offered  # no tree: no keys to move in one


# Without colour.


async def test_without_colour_every_kind_of_node_still_reads_apart() -> None:
    """The marks tell the kinds apart in plain text, and the token styles by attributes."""
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(160, 48)) as pilot:
        app.query_one(TokenTree).max_rows = 30  # every node has its row
        await pilot.pause()
        text = app.query_one(TokenTree).text()
    kinds = {
        "on the path": ("␣a", "▶✓"),
        "accepted": None,
        "rejected": ("␣the", " ✗"),
        "not judged": ("␣an", " ·"),
        "pruned": ("␣while", " ✂"),
    }
    for kind, seen in kinds.items():
        if seen is not None:
            token, marks = seen
            assert f"{marks} {token}" in row_of(text, token), kind
    styles = [Style.parse(PATH_STYLE), *(Style.parse(s) for s in TOKEN_STYLES.values())]
    plain = [style.without_color for style in styles]
    assert len(set(plain)) == len(plain)  # each kind has its own attributes, colour aside
    assert all(style != Style() for style in plain)
    assert len({mark.value for mark in Mark}) == len(Mark)


async def test_an_accepted_node_off_the_path_reads_as_accepted_not_as_path() -> None:
    tree = scripted_tree()
    off_path = tree.nodes[13]  # " queen": make it accepted, as a longer branch would leave it
    assert off_path.check is not None
    accepted = off_path.check.__class__(**{**off_path.check.__dict__, "verdicts": {"soft": True}})
    nodes = list(tree.nodes)
    nodes[13] = off_path.__class__(**{**off_path.__dict__, "check": accepted, "step": 8})
    scripted = TreeRecord(tree.shape, tree.rule, tuple(nodes), (*tree.walk[:8], 13, 9), tree.path)
    app = TreeApp(scripted)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        row = row_of(app.query_one(TokenTree).text(), "␣queen")
        assert " ✓ ␣queen" in row and "▶" not in row


# Snapshots.


@pytest.mark.parametrize(
    "size", [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
)
def test_snapshot_of_a_tree_round(snap_compare: Any, size: tuple[int, int]) -> None:
    """The scripted round, the walk over."""
    assert snap_compare(TreeApp(scripted_tree()), terminal_size=size)


def test_snapshot_mid_walk_without_colour(
    snap_compare: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three judgements in, under NO_COLOR: marks and styles, no colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(TreeApp(scripted_tree(), walked=3), terminal_size=(80, 24))


async def test_show_takes_the_next_round_and_follows_its_walk() -> None:
    """What the decode screen calls on each of a tree round's events."""
    app = TreeApp(scripted_tree())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = app.query_one(TokenTree)
        await pilot.press("home", "o")
        assert widget.unfolded == [ROOT] and not widget.following
        chain = chain_tree()
        widget.show(chain, TEXTS, " upon", walked=1)
        await pilot.pause()
        assert widget.following and widget.unfolded == [] and widget.cursor == 0
        widget.show(chain, TEXTS, " upon", walked=3)  # the same round, one more step
        await pilot.pause()
        assert widget.cursor == 2 and widget.border_subtitle == "longest · step 3/3 · path 2"


async def test_stepping_a_live_round_shows_the_walk_so_far_then_the_record() -> None:
    """Before RoundFinished brings the record, a screen shows the checks so far."""
    app = TreeApp(None)
    async with app.run_test(size=(80, 24)) as pilot:
        widget = app.query_one(TokenTree)
        widget.show(so_far(3, (0, 3)), TEXTS, " upon", finished=False)
        await pilot.pause()
        assert widget.cursor == 3 and widget.border_subtitle == "longest · step 3 · path 2 so far"
        assert "·" not in widget.text() and "✂" not in widget.text()
        await pilot.press("home")
        widget.show(so_far(4, (0, 3)), TEXTS, " upon", finished=False)
        await pilot.pause()
        assert widget.cursor == ROOT and not widget.following  # the reader's place is kept
        widget.show(scripted_tree(), TEXTS, " upon")  # RoundFinished: the record itself
        await pilot.pause()
        assert widget.cursor == ROOT and widget.border_subtitle == "longest · step 9/9 · path 6"
        assert "✂" in widget.text()
