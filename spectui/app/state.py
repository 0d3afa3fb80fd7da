"""What the decode screen knows about the decode: built from messages, read by the widgets.

Plain Python (no widgets, no torch), so it is easy to reason about and to test. The token
stream is a list of `Piece`s: the generated tokens, and the current round's draft tokens that
did not (or not yet) join the output — pending, rejected, or never checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.policies import GateCheck
    from spectui.engine.stats import StatsSnapshot


class PieceKind(str, Enum):
    """How a piece of the stream came to be (each has its own style and marker)."""

    DRAFT = "draft"  # accepted draft token
    CORRECTION = "correction"  # verifier's argmax at the first rejection
    BONUS = "bonus"  # verifier's extra token after a fully accepted draft
    PENDING = "pending"  # drafted this round, not judged yet
    REJECTED = "rejected"  # judged and refused
    UNCHECKED = "unchecked"  # after a rejection: discarded without a check


@dataclass(frozen=True)
class CheckView:
    """A gate check with the texts needed to show it."""

    check: GateCheck
    text: str
    top1_text: str
    alternatives: tuple[tuple[str, float], ...]
    config: DecodeConfig  # the round's settings (the thresholds the gates were held to)


@dataclass(frozen=True)
class Piece:
    """One selectable token in the stream."""

    text: str
    kind: PieceKind
    round_index: int
    position: int | None  # draft position within its round (None for a bonus token)
    check: CheckView | None  # the check at this position (a correction shows the rejected one)
    q: float | None = None  # the drafter's probability, for draft tokens


@dataclass
class DraftSlot:
    """One draft token of the current round."""

    text: str
    q: float
    check: CheckView | None = None


@dataclass
class RoundView:
    """The current (or last finished) round."""

    index: int
    config: DecodeConfig
    drafts: list[DraftSlot]
    appended: list[Piece] = field(default_factory=list)
    finished: bool = False

    @property
    def n_checked(self) -> int:
        """Draft tokens judged so far."""
        return sum(slot.check is not None for slot in self.drafts)

    def pieces(self) -> list[Piece]:
        """This round in reading order.

        A rejected draft token comes just before the correction that replaces it; the draft
        tokens after it were never checked (or are still pending); a bonus token comes last.
        """
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
            pieces.append(Piece(slot.text, kind, self.index, position, slot.check, slot.q))
            if appended is not None and appended.kind is PieceKind.CORRECTION:
                pieces.append(appended)
        pieces.extend(p for p in self.appended if p.kind is PieceKind.BONUS)
        return pieces


@dataclass
class DecodeView:
    """Everything shown about one decode run."""

    prompt: str = ""
    n_prompt_tokens: int = 0
    context_length: int = 0
    history: list[Piece] = field(default_factory=list)  # output tokens of finished rounds
    past: list[RoundView] = field(default_factory=list)  # rounds before `round`, in order
    round: RoundView | None = None
    stats: StatsSnapshot | None = None
    finish_reason: str | None = None
    version: int = 0  # bumped by every update, so panels can skip redrawing what has not changed

    # --- updates, one per message ----------------------------------------------------------

    def round_drafted(
        self, index: int, texts: tuple[str, ...], q: tuple[float, ...], config: DecodeConfig
    ) -> None:
        """A new round's drafts arrived; the previous round's output joins the history."""
        self.version += 1
        if self.round is not None:
            self.history.extend(self.round.appended)
            self.past.append(self.round)
        self.round = RoundView(
            index, config, [DraftSlot(t, q_t) for t, q_t in zip(texts, q, strict=True)]
        )

    def token_checked(self, check: CheckView) -> None:
        """One draft token was judged."""
        self.version += 1
        assert self.round is not None
        self.round.drafts[check.check.position].check = check

    def token_appended(self, text: str, origin: str) -> None:
        """A token joined the output."""
        self.version += 1
        assert self.round is not None
        kind = PieceKind(origin)
        position = None if kind is PieceKind.BONUS else len(self.round.appended)
        slot = self.round.drafts[position] if position is not None else None
        check, q = (slot.check, slot.q) if slot is not None else (None, None)
        self.round.appended.append(Piece(text, kind, self.round.index, position, check, q))

    def round_finished(self, stats: StatsSnapshot) -> None:
        """The round ended."""
        self.version += 1
        assert self.round is not None
        self.round.finished = True
        self.stats = stats

    def decode_finished(self, reason: str, stats: StatsSnapshot) -> None:
        """The decode ended."""
        self.version += 1
        self.finish_reason = reason
        self.stats = stats

    def rewound(self, round_index: int, stats: StatsSnapshot) -> None:
        """The decode went back to the start of round `round_index`: later rounds are gone."""
        self.version += 1
        kept = self.rounds()[:round_index]
        self.past = kept[:-1]
        self.round = kept[-1] if kept else None
        self.history = [piece for past in self.past for piece in past.appended]
        self.stats = stats
        self.finish_reason = None

    # --- reading -----------------------------------------------------------------------------

    def rounds(self) -> list[RoundView]:
        """Every round so far, the current one last (index = round index)."""
        return self.past + ([self.round] if self.round is not None else [])

    def round_at(self, index: int) -> RoundView | None:
        """The round with this index, if it was drafted."""
        rounds = self.rounds()
        return rounds[index] if 0 <= index < len(rounds) else None

    @property
    def n_generated(self) -> int:
        """Tokens generated so far."""
        return len(self.history) + (len(self.round.appended) if self.round else 0)

    def pieces(self) -> list[Piece]:
        """The stream after the prompt, in reading order (finished rounds, then this one)."""
        return self.history + (self.round.pieces() if self.round is not None else [])

    def latest_check(self) -> CheckView | None:
        """The most recent gate check (what the detail panel shows when nothing is selected)."""
        if self.round is None:
            return None
        judged = [slot.check for slot in self.round.drafts if slot.check is not None]
        return judged[-1] if judged else None
