"""Token trees on the decode screen (issue 25, item 4): the tree panel follows the walk step by
step, its cursor picks any node (its gate row and top-k bars), a chain round has no tree, a
trace with trees replays its tree; snapshots at 80×24 and 160×48.

Regenerate the snapshots with `pytest tests/app/test_tree_screen.py --snapshot-update`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from app_helpers import Recorder, keys, plain, press, settle
from textual.pilot import Pilot

from spectui.app.replay import replay_app
from spectui.app.rounds import PieceKind
from spectui.app.widgets import GatePanel, TokenDetail, TokenTree
from spectui.engine import events
from spectui.engine.trace.reader import read_trace

TREE = {"tree_topk": 2, "tree_depth": 3, "tree_nodes": 6, "policy": "soft"}


def tree_of(pilot: Pilot[Any]) -> TokenTree:
    return pilot.app.screen.query_one(TokenTree)


def gate_rows(pilot: Pilot[Any]) -> list[str]:
    """The gate table's lines, as plain text."""
    return str(pilot.app.screen.query_one(GatePanel).render()).splitlines()


async def test_the_tree_follows_the_walk_check_by_check(make_app: Any) -> None:
    recorder = Recorder()
    async with make_app(**TREE).run_test(size=(120, 40), message_hook=recorder) as pilot:
        screen = await settle(pilot)
        tree = tree_of(pilot)
        assert not tree.display, "no round yet: no tree"
        await press(pilot, "space")  # the first round drafted: every node waits
        drafted = recorder.events(events.RoundDrafted)[0]
        assert tree.display and tree.record is not None
        assert [node.token_id for node in tree.record.nodes] == list(drafted.draft_ids)
        assert [node.parent for node in tree.record.nodes] == list(drafted.parents)
        assert tree.record.walk == () and not tree.finished
        current = screen.state.decode.round
        assert current is not None
        step = 0
        while not current.finished:  # each space reveals the walk's next judgement
            await press(pilot, "space")
            step += 1
            walk = [event.check.position for event in recorder.events(events.TokenChecked)]
            assert len(walk) == step
            if current.finished:
                break
            assert list(tree.record.walk) == walk and not tree.finished
            assert tree.cursor == walk[-1], "the cursor follows the node judged last"
            assert any(row.lstrip().startswith(f"▶{step}") for row in gate_rows(pilot)), (
                "the gate table lists the walk in its order, the latest check marked"
            )
        assert step >= 1
        finished = recorder.events(events.RoundFinished)[-1]
        assert tree.record == finished.tree and tree.finished, "the engine's record, at the end"
        # The stream reads the accepted path, in order, as the output.
        joined = [p.token_id for p in current.pieces() if p.kind is PieceKind.DRAFT]
        path_tokens = [tree.record.nodes[node_id].token_id for node_id in tree.record.path]
        assert joined == path_tokens == list(finished.appended_ids[: len(path_tokens)])
        assert "tree top-2 · depth 3 · ≤6" in screen.status_text


async def test_tab_picks_a_node_its_gate_row_and_bars_follow_esc_goes_back(
    make_app: Any,
) -> None:
    async with make_app(**TREE).run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "space")  # a round finished, the next drafted
        await press(pilot, "b")  # back to the finished round
        tree = tree_of(pilot)
        assert tree.record is not None and tree.finished
        await press(pilot, "tab")
        assert tree.has_focus and "esc out" in str(tree.border_title)
        await press(pilot, "home")  # the root: the committed token, no check to show
        assert tree.cursor == -1 and screen.state.tree_node is None
        await press(pilot, "down")  # the root's first child
        node_id = tree.cursor
        assert node_id == tree.record.children(-1)[0].node_id
        assert screen.state.tree_node == (0, node_id)
        detail = plain(screen.query_one(TokenDetail))
        assert f"tree node {node_id + 1} at depth 1" in detail
        assert "verifier top-" in detail, "the node's top-k bars"
        step = tree.record.nodes[node_id].step
        # one node, two numbers, both named: the walk step is the number its tree row shows
        assert step is not None and f"walk step {step + 1}, tree node {node_id + 1}" in detail
        assert any(row.lstrip().startswith(f"▶{step + 1}") for row in gate_rows(pilot)), (
            "its gate row is marked"
        )
        await press(pilot, "escape")
        assert not tree.has_focus and screen.state.tree_node is None
        assert screen.state.viewed is None, "esc: back to live"


async def test_the_tree_key_is_in_the_palette_and_the_help_in_a_tree_round(
    make_app: Any,
) -> None:
    async with make_app(**TREE).run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        titles = {command.title for command in pilot.app.get_system_commands(screen)}
        assert "Tree" not in titles, "no round yet: no tree to move into"
        await press(pilot, "space")
        titles = {command.title for command in pilot.app.get_system_commands(screen)}
        assert "Tree" in titles
        shown = {key for key, active in screen.active_bindings.items() if active.binding.show}
        assert "tab" in shown, "from 120 columns the Footer names it"
        await press(pilot, "question_mark")
        assert "tab" in plain_help(pilot)


def plain_help(pilot: Pilot[Any]) -> str:
    """The help screen's text."""
    return " ".join(plain(widget, 120) for widget in pilot.app.screen.query("Static"))


async def test_a_chain_round_has_no_tree_and_no_tree_key(make_app: Any) -> None:
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "tab")
        assert not tree_of(pilot).display and not tree_of(pilot).has_focus
        assert screen.check_action("focus_tree", ()) is False
        assert "k=5" in screen.status_text


async def test_a_trace_with_trees_replays_its_trees(make_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "trees.jsonl"
    app = make_app(max_new_tokens=12, **TREE)
    app.decode_screen.state = replace(app.decode_screen.state, trace_path=path)
    async with app.run_test() as pilot:
        screen = await settle(pilot)
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        live = [r.tree for r in screen.state.decode.rounds()]
        live_pieces = [(p.text, p.kind) for p in screen.state.decode.pieces()]
    assert all(tree is not None for tree in live)
    async with replay_app(read_trace(path), timings=False).run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space")  # the first round, its first check
        tree = tree_of(pilot)
        assert tree.display and tree.record is not None and len(tree.record.walk) == 1
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        assert [r.tree for r in screen.state.decode.rounds()] == live
        assert tree.record == live[-1]
        assert [(p.text, p.kind) for p in screen.state.decode.pieces()] == live_pieces


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_mid_walk(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """A tree round one check into its walk: the path so far, the nodes still to judge."""

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await settle(pilot)
        await press(pilot, "enter", "space", "space")  # round 2 drafted, its first check
        current = screen.state.decode.round
        assert current is not None and current.n_checked == 1 and not current.finished

    assert snap_compare(make_app(**TREE), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_a_picked_node(snap_compare: Any, make_app: Any, size: tuple[int, int]) -> None:
    """A finished tree round with a node picked in the tree: its gate row and top-k bars."""
    app = make_app(**TREE)
    run_before = keys("enter", "enter", "tab", "home", "down", "down")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_with_the_tree_focused_the_footer_still_starts_with_help_and_quit(
    make_app: Any,
) -> None:
    async with make_app(**TREE).run_test(size=(80, 24)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "tab")
        assert tree_of(pilot).has_focus
        shown = [a.binding.id for a in screen.active_bindings.values() if a.binding.show]
        assert shown[:2] == ["help", "quit"], shown
        footer = pilot.app.screen._compositor.render_strips()[-1].text
        assert footer.lstrip().startswith("? Help") and "q Quit" in footer, footer


async def test_at_120_columns_a_tree_decodes_footer_ends_whole_and_its_keys_are_spaced(
    make_app: Any,
) -> None:
    """The Footer ended in `tab Tre` at 120 columns, and the focused tree's keys read
    `↑↓ node← parent`."""
    async with make_app(**TREE).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "space")
        footer = pilot.app.screen._compositor.render_strips()[-1].text.rstrip()
        assert footer.endswith("tab Tree"), footer
        await press(pilot, "tab")
        footer = pilot.app.screen._compositor.render_strips()[-1].text
        assert "↑ up ↓ down ← parent → child" in " ".join(footer.split()), footer
