"""What the decode screen knows about the decode: a fold over its event log, read by widgets.

`DecodeView` is the decode's side only; the screen's own state (its session, settings, run and
selection) is `ScreenState` (screens/decode/state.py), which holds one. Plain Python (no
widgets, no torch), so it is easy to reason about and to test. The token stream is a list of
`Piece`s (rounds.py): the generated tokens, and the current round's draft tokens that did not
(or not yet) join the output — pending, rejected, or never checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spectui.app.rounds import (
    PIECE_OF_ORIGIN,
    CheckView,
    DraftSlot,
    Piece,
    PieceKind,
    RoundView,
    appended_position,
)
from spectui.engine import events

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.stats import StatsSnapshot
    from spectui.engine.trace.log import EventLog
    from spectui.engine.tree.record import TreeRecord


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
            self.round_drafted(
                event.round_index, drafts, event.q, event.config, event.draft_ids, event.parents
            )
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
            self.round_finished(event.stats, event.tree)
        elif isinstance(event, events.DecodeFinished):
            self.decode_finished(event.reason, event.stats)
        elif isinstance(event, events.RoundRewound):
            self.version += 1
            self.stats = event.stats
            self.finish_reason = None

    # --- updates, one per event ------------------------------------------------------------

    def round_drafted(
        self,
        index: int,
        texts: tuple[str, ...],
        q: tuple[float, ...],
        config: DecodeConfig,
        draft_ids: tuple[int, ...] = (),
        parents: tuple[int, ...] = (),
    ) -> None:
        """A new round's drafts arrived (`parents`: a token tree's); the previous round's
        output joins the history."""
        self.version += 1
        if self.round is not None:
            self.past.append(self.round)
        slots = [DraftSlot(t, q_t) for t, q_t in zip(texts, q, strict=True)]
        self.round = RoundView(index, config, slots, draft_ids=draft_ids, parents=parents)

    def token_checked(self, check: CheckView) -> None:
        """One draft token was judged."""
        self.version += 1
        assert self.round is not None
        position = check.check.position
        self.round.drafts[position].check = check
        self.round.walk.append(position)

    def token_appended(
        self, text: str, origin: events.TokenOrigin, token_id: int | None = None
    ) -> None:
        """A token joined the output."""
        self.version += 1
        assert self.round is not None
        current = self.round
        kind = PIECE_OF_ORIGIN[origin]
        position = appended_position(current, kind)
        slot = current.drafts[position] if position is not None else None
        check = slot.check if slot is not None else None
        # Only an accepted draft is the drafter's token: a correction or a bonus has no q.
        q = slot.q if slot is not None and kind is PieceKind.DRAFT else None
        depth = len(current.path) + 1 if current.is_tree and position is not None else None
        piece = Piece(text, kind, current.index, position, check, q, token_id, None, depth)
        if current.is_tree and kind is PieceKind.DRAFT and position is not None:
            current.path.append(position)
        current.appended.append(piece)

    def round_finished(self, stats: StatsSnapshot, tree: TreeRecord | None = None) -> None:
        """The round ended (`tree`: a tree round's record)."""
        self.version += 1
        assert self.round is not None
        self.round.finished = True
        self.round.tree = tree
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

    def text_before(self, round_index: int) -> str:
        """The committed token just before a round: the last of the rounds before it, or the
        prompt's last word."""
        before = [piece for past in self.past[:round_index] for piece in past.appended]
        if before:
            return before[-1].text
        words = self.prompt.rstrip().rsplit(" ", 1)
        return (" " if len(words) > 1 else "") + words[-1] if self.prompt.strip() else ""

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
            judged = current.judged()
            if judged:
                return judged[-1]
        return None
