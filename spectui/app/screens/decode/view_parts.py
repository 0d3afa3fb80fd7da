"""The parts of the decode screen's view model (view_model.py), one record per panel, and
what they are made with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from spectui.app.rounds import Piece, PieceKind, RoundView

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rich.console import RenderableType

    from spectui.app.decode_view import DecodeView
    from spectui.engine.cost.model import CostModel
    from spectui.engine.models.agreement import BlockStepAgreement
    from spectui.engine.stats import StatsSnapshot
    from spectui.engine.tree.record import TreeRecord

IDLE_HINTS = {  # the gate panel before the first round
    "ready": "press space to draft one (f: fast-forward the whole decode)",
    "loading": "the models are loading (keys pressed now are kept)",
    "error": "the engine stopped",
    "finished": "the decode ended",
}
REPLAY_HINTS = {  # the same, in a replay: there is no model, and nothing is drafted
    "ready": "press space to play the trace's first round",
    "finished": "the trace ended",
}


def idle_hint(phase: str, replay: bool) -> str:
    """What the gate panel says before the first round, for this phase."""
    if replay and phase in REPLAY_HINTS:
        return REPLAY_HINTS[phase]
    return IDLE_HINTS.get(phase, IDLE_HINTS["ready"])


@dataclass(frozen=True)
class Layout:
    """Which panels are on screen, and how the stacked tree and detail share the rows."""

    detail: bool
    gates: bool
    stats: bool
    tree: bool
    tree_rows: int | None  # the tree's most rows (None: its own default)
    detail_rows: int | None  # the detail's most rows (None: no limit)


@dataclass(frozen=True)
class StreamView:
    """The token stream: a loading view, or the decode's pieces with the one picked."""

    loading: RenderableType | None  # while the models load: the stage and its bars
    loading_shape: int  # how many bars the loading view has
    decode: DecodeView
    pieces: list[Piece]
    selected: int | None
    viewed: int | None  # an earlier round stepped back to (marked in the stream)
    marks: bool  # each token's kind written into the text
    subtitles: tuple[str, ...]  # its border's forms, longest first: the painter fits one


@dataclass(frozen=True)
class GatesView:
    """The gate table of the round on screen."""

    round: RoundView | None
    highlight: int | None  # the draft position picked or last checked
    hint: str  # what the panel says before the first round
    past: bool  # an earlier round (b), not the live one
    branch: bool  # whether this session can branch there (B)
    room: int | None  # a tree round's node rows


@dataclass(frozen=True)
class DetailView:
    """The token detail: the piece shown, and whether it follows the latest check."""

    piece: Piece | None
    live: bool
    drafted: bool  # its round drafted tokens
    round_shown: int | None  # an earlier round stepped back to


@dataclass(frozen=True)
class TreeView:
    """A tree round's token tree: the engine's record once the round is over, else the walk
    so far."""

    tree: TreeRecord | None
    texts: Mapping[int, str]
    root: str  # the committed token the tree grows from
    finished: bool


@dataclass(frozen=True)
class StatsView:
    """The stats panel's inputs."""

    stats: StatsSnapshot | None
    timings: bool
    round_seconds: tuple[float, float] | None
    costs: Mapping[int, CostModel]
    precision: BlockStepAgreement | None = None


def last_piece_of(pieces: list[Piece], round_index: int) -> Piece | None:
    """The piece holding round `round_index`'s last gate check (what `b` shows of it)."""
    for piece in reversed(pieces):
        if (
            piece.round_index == round_index
            and piece.check is not None
            and piece.kind is not PieceKind.CORRECTION
        ):
            return piece
    return None


def latest_piece(decode: DecodeView, pieces: list[Piece]) -> Piece | None:
    """The piece holding the most recent gate check (what 'live' shows)."""
    latest = decode.latest_check()
    if latest is None:
        return None
    for piece in reversed(pieces):
        if piece.check is latest and piece.kind is not PieceKind.CORRECTION:
            return piece
    return None
