"""A tree round in the decode screen's view (`app.decode_view`), on trees scripted by hand: which
tokens the stream reads in which order and kind, where each appended token sits, the checks
in walk order. No engine, no widgets."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from tree_records import check

from spectui.app.decode_view import DecodeView
from spectui.app.format import drafting_words
from spectui.app.rounds import CheckView, PieceKind, RoundView
from spectui.engine.config import DecodeConfig
from spectui.engine.events import TokenOrigin
from spectui.engine.tree.shape import ROOT

CONFIG = DecodeConfig(tree_topk=2, tree_depth=2, tree_nodes=4, policy="soft")
# The tree: under the root A (node 0) and B (1); under A, C (2) and D (3).
TOKENS = {10: "A", 11: "B", 12: "C", 13: "D", 20: "X", 21: "Y"}
DRAFT_IDS = (10, 11, 12, 13)
PARENTS = (ROOT, ROOT, 0, 0)
Q = (0.6, 0.3, 0.5, 0.4)
STATS: Any = SimpleNamespace(rounds=1, draft_seconds=0.0, verify_seconds=0.0)


def drafted() -> DecodeView:
    view = DecodeView(prompt="Once upon a time")
    texts = tuple(TOKENS[token] for token in DRAFT_IDS)
    view.round_drafted(0, texts, Q, CONFIG, DRAFT_IDS, PARENTS)
    return view


def judge(view: DecodeView, node_id: int, accepted: bool) -> None:
    token = DRAFT_IDS[node_id]
    made = check(
        node_id, token, Q[node_id], accepted, 0.5 if accepted else 0.01, 1 if accepted else 5
    )
    view.token_checked(CheckView(made, TOKENS[token], TOKENS[token], (), CONFIG))


def read(current: RoundView) -> list[tuple[str, PieceKind]]:
    return [(piece.text, piece.kind) for piece in current.pieces()]


def test_stepping_down_a_tree_reads_the_path_the_refusals_and_what_is_pending() -> None:
    view = drafted()
    current = view.round
    assert current is not None and current.is_tree
    # Nothing judged: the drafter's likeliest line, A then its first child C, is pending.
    assert read(current) == [("A", PieceKind.PENDING), ("C", PieceKind.PENDING)]
    judge(view, 0, True)
    view.token_appended("A", TokenOrigin.DRAFT, 10)
    assert read(current) == [("A", PieceKind.DRAFT), ("C", PieceKind.PENDING)]
    judge(view, 2, False)  # C refused: its sibling D is next
    assert read(current) == [
        ("A", PieceKind.DRAFT),
        ("C", PieceKind.REJECTED),
        ("D", PieceKind.PENDING),
    ]
    judge(view, 3, False)
    view.token_appended("X", TokenOrigin.CORRECTION, 20)
    view.round_finished(STATS)
    pieces = current.pieces()
    assert [(p.text, p.kind) for p in pieces] == [
        ("A", PieceKind.DRAFT),
        ("C", PieceKind.REJECTED),
        ("D", PieceKind.REJECTED),
        ("X", PieceKind.CORRECTION),
    ]
    # Each piece knows its node (position = node id) and depth; the refusals their correction.
    assert [(p.position, p.depth) for p in pieces] == [(0, 1), (2, 2), (3, 2), (3, 2)]
    assert [p.replaced_by for p in pieces[1:3]] == [20, 20]
    assert pieces[3].check is not None and pieces[3].check.check.position == 3  # D's check
    assert current.path == [0] and current.walk == [0, 2, 3]
    assert current.latest_position == 3 and [v.check.position for v in current.judged()] == [
        0,
        2,
        3,
    ]
    assert view.latest_check() is current.drafts[3].check


def test_a_refused_branch_then_an_accepted_sibling_and_the_bonus() -> None:
    view = drafted()
    current = view.round
    assert current is not None
    judge(view, 0, False)  # A refused at the root; its children will never be judged
    assert read(current) == [("A", PieceKind.REJECTED), ("B", PieceKind.PENDING)]
    judge(view, 1, True)
    view.token_appended("B", TokenOrigin.DRAFT, 11)
    view.token_appended("Y", TokenOrigin.BONUS, 21)  # B is a leaf
    view.round_finished(STATS)
    assert read(current) == [
        ("A", PieceKind.REJECTED),
        ("B", PieceKind.DRAFT),
        ("Y", PieceKind.BONUS),
    ]
    assert current.pieces()[0].replaced_by is None  # B, not a correction, took A's place
    assert view.committed_text() == "Once upon a timeBY"
    # The tree panel's cursor may pick any node: C, under the refused A, was never judged.
    node = current.node_piece(2)
    assert (node.text, node.kind, node.position, node.depth) == ("C", PieceKind.UNCHECKED, 2, 2)
    assert current.node_piece(1).kind is PieceKind.DRAFT


def test_a_refusal_discards_the_line_below_it_as_a_chain_does() -> None:
    """A tree one wide is a chain: after a refusal the drafts below it read discarded."""
    view = DecodeView()
    view.round_drafted(0, ("A", "C"), (0.6, 0.5), CONFIG, (10, 12), (ROOT, 0))
    current = view.round
    assert current is not None
    judge(view, 0, False)
    view.token_appended("X", TokenOrigin.CORRECTION, 20)
    assert read(current) == [
        ("A", PieceKind.REJECTED),
        ("X", PieceKind.CORRECTION),
        ("C", PieceKind.UNCHECKED),
    ]
    chain = DecodeView()
    chain.round_drafted(0, ("A", "C"), (0.6, 0.5), CONFIG)
    judge(chain, 0, False)
    chain.token_appended("X", TokenOrigin.CORRECTION, 20)
    assert chain.round is not None and read(chain.round) == read(current)


def test_the_header_names_the_tree_or_the_chain() -> None:
    assert drafting_words(DecodeConfig(draft_span=4)) == "k=4"
    assert drafting_words(CONFIG) == "tree top-2 · depth 2 · ≤4"
    static = DecodeConfig(tree_choices="0 1 0.0")
    assert drafting_words(static) == "tree of 3 (static, depth 2)"


def test_text_before_a_round_is_the_last_committed_token() -> None:
    view = drafted()
    assert view.text_before(0) == " time"
    judge(view, 0, True)
    view.token_appended("A", TokenOrigin.DRAFT, 10)
    view.round_finished(STATS)
    view.round_drafted(1, ("B",), (0.5,), CONFIG, (11,), (ROOT,))
    assert view.text_before(1) == "A"


def test_an_accepted_node_off_the_path_is_named_so_in_the_detail() -> None:
    """The longest-path rule judges (and may accept) siblings before the child whose branch it
    takes: such a node passed its gates yet never joined the output, and its detail says so
    rather than "accepted draft"."""
    from rich.console import Console, Group

    from spectui.app.widgets.token_detail import _describe

    view = drafted()
    current = view.round
    assert current is not None
    judge(view, 0, True)
    view.token_appended("A", TokenOrigin.DRAFT, 10)
    judge(view, 2, True)  # C accepted, but the walk goes on to D (as a longer branch would)
    judge(view, 3, True)
    view.token_appended("D", TokenOrigin.DRAFT, 13)
    view.token_appended("Y", TokenOrigin.BONUS, 21)
    view.round_finished(STATS)
    off_path, on_path = current.node_piece(2), current.node_piece(3)
    assert off_path.kind is PieceKind.DRAFT and off_path.off_path
    assert not on_path.off_path and on_path.token_id == 13
    assert off_path.check is not None  # with its top-k's texts, as the engine's come
    texts = tuple((TOKENS.get(t, "?"), q) for t, q in off_path.check.check.alternatives)
    shown = replace(off_path, check=replace(off_path.check, alternatives=texts))
    console = Console(width=60, color_system=None, record=True)
    console.print(Group(*_describe(shown, drafted=True)))
    head = console.export_text().splitlines()[0]
    assert "accepted, off the path" in head and "accepted draft" not in head, head
