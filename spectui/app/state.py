"""What the decode screen knows about the decode: a fold over its event log, read by widgets.

Plain Python (no widgets, no torch), so it is easy to reason about and to test. The token
stream is a list of `Piece`s: the generated tokens, and the current round's draft tokens that
did not (or not yet) join the output — pending, rejected, or never checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from spectui.engine import events

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.policy.records import GateCheck
    from spectui.engine.stats import StatsSnapshot
    from spectui.engine.trace.log import EventLog


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
    position: int | None  # draft position within its round (None for a bonus token)
    # The check at this position: a draft token's own; a correction's is the rejected draft's
    # it replaced (the verifier's distribution there is the correction's too).
    check: CheckView | None
    q: float | None = None  # the drafter's probability, for draft tokens (None: never drafted)
    token_id: int | None = None  # for tokens that joined the output
    # A rejected draft's: the token appended in its place (its correction), once it is.
    replaced_by: int | None = None

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
            replaced_by = appended.token_id if appended is not None else None
            pieces.append(
                Piece(slot.text, kind, self.index, position, slot.check, slot.q, None, replaced_by)
            )
            if appended is not None and appended.kind is PieceKind.CORRECTION:
                pieces.append(appended)
        pieces.extend(p for p in self.appended if p.kind is PieceKind.BONUS)
        return pieces


def round_seconds(before: StatsSnapshot | None, after: StatsSnapshot) -> tuple[float, float]:
    """A round's (draft, verify) seconds: how much the cumulative totals grew over it.

    `before`: the stats at the end of the round before (None for the first round: from 0).
    """
    draft = after.draft_seconds - (before.draft_seconds if before is not None else 0.0)
    verify = after.verify_seconds - (before.verify_seconds if before is not None else 0.0)
    return draft, verify


@dataclass
class DecodeView:
    """Everything shown about one decode run."""

    prompt: str = ""
    n_prompt_tokens: int = 0
    context_length: int = 0
    past: list[RoundView] = field(default_factory=list)  # rounds before `round`, in order
    round: RoundView | None = None
    stats: StatsSnapshot | None = None
    finish_reason: events.FinishReason | None = None
    round_seconds: tuple[float, float] | None = None  # the last finished round's (draft, verify)
    version: int = 0  # bumped by every update, so panels can skip redrawing what has not changed

    @classmethod
    def fold(cls, log: EventLog) -> DecodeView:
        """The view of a whole log: every event applied in order."""
        header = log.header
        view = cls(header.prompt, len(header.prompt_ids), header.context_length)
        for event in log.events:
            view.apply(event, log)
        return view

    def apply(self, event: events.EngineEvent, log: EventLog) -> None:
        """Take one engine event into the view (its token texts are in `log`)."""
        texts = log.texts
        if isinstance(event, events.RoundDrafted):
            drafts = tuple(texts[token] for token in event.draft_ids)
            self.round_drafted(event.round_index, drafts, event.q, event.config)
        elif isinstance(event, events.TokenChecked) and self.round is not None:
            check = event.check
            alternatives = tuple((texts[token], p) for token, p in check.alternatives)
            self.token_checked(
                CheckView(
                    check,
                    texts[check.token_id],
                    texts[check.top1_id],
                    alternatives,
                    self.round.config,
                )
            )
        elif isinstance(event, events.TokenAppended):
            self.token_appended(log.shown[event.index], event.origin, event.token_id)
        elif isinstance(event, events.RoundFinished):
            self.round_finished(event.stats)
        elif isinstance(event, events.DecodeFinished):
            self.decode_finished(event.reason, event.stats)
        elif isinstance(event, events.RoundRewound):
            self.version += 1
            self.stats = event.stats
            self.finish_reason = None

    # --- updates, one per event ------------------------------------------------------------

    def round_drafted(
        self, index: int, texts: tuple[str, ...], q: tuple[float, ...], config: DecodeConfig
    ) -> None:
        """A new round's drafts arrived; the previous round's output joins the history."""
        self.version += 1
        if self.round is not None:
            self.past.append(self.round)
        self.round = RoundView(
            index, config, [DraftSlot(t, q_t) for t, q_t in zip(texts, q, strict=True)]
        )

    def token_checked(self, check: CheckView) -> None:
        """One draft token was judged."""
        self.version += 1
        assert self.round is not None
        self.round.drafts[check.check.position].check = check

    def token_appended(
        self, text: str, origin: events.TokenOrigin, token_id: int | None = None
    ) -> None:
        """A token joined the output."""
        self.version += 1
        assert self.round is not None
        kind = PIECE_OF_ORIGIN[origin]
        position = None if kind is PieceKind.BONUS else len(self.round.appended)
        slot = self.round.drafts[position] if position is not None else None
        check = slot.check if slot is not None else None
        # Only an accepted draft is the drafter's token: a correction or a bonus has no q.
        q = slot.q if slot is not None and kind is PieceKind.DRAFT else None
        piece = Piece(text, kind, self.round.index, position, check, q, token_id)
        self.round.appended.append(piece)

    def round_finished(self, stats: StatsSnapshot) -> None:
        """The round ended."""
        self.version += 1
        assert self.round is not None
        self.round.finished = True
        self.round_seconds = round_seconds(self.stats, stats)
        self.stats = stats

    def decode_finished(self, reason: events.FinishReason, stats: StatsSnapshot) -> None:
        """The decode ended."""
        self.version += 1
        self.finish_reason = reason
        self.stats = stats

    # --- reading -----------------------------------------------------------------------------

    def rounds(self) -> list[RoundView]:
        """Every round so far, the current one last (index = round index)."""
        return self.past + ([self.round] if self.round is not None else [])

    def round_at(self, index: int) -> RoundView | None:
        """The round with this index, if it was drafted."""
        rounds = self.rounds()
        return rounds[index] if 0 <= index < len(rounds) else None

    @property
    def history(self) -> list[Piece]:
        """The output tokens of the finished rounds before the current one."""
        return [piece for past in self.past for piece in past.appended]

    @property
    def n_generated(self) -> int:
        """Tokens generated so far."""
        return len(self.history) + (len(self.round.appended) if self.round else 0)

    def committed_text(self) -> str:
        """The prompt and the tokens that joined the output, as the stream shows them."""
        appended = self.history + (self.round.appended if self.round is not None else [])
        return self.prompt + "".join(piece.text for piece in appended)

    def pieces(self) -> list[Piece]:
        """The stream after the prompt, in reading order (finished rounds, then this one)."""
        return self.history + (self.round.pieces() if self.round is not None else [])

    def latest_check(self) -> CheckView | None:
        """The most recent gate check (what the detail panel shows when nothing is selected):
        the current round's last, else (a round just drafted) the last of the round before."""
        for current in reversed(self.rounds()):
            judged = [slot.check for slot in current.drafts if slot.check is not None]
            if judged:
                return judged[-1]
        return None
