"""Messages the engine worker posts to the decode screen: one per engine event, plus loading.

An engine event travels inside its message as it is (never as copied fields), with the texts
of the token ids it names: those are decoded in the worker, so the UI thread never touches
the tokenizer or torch. Every message carries the `run` it belongs to, so a restarted decode
ignores a stale worker's stragglers.

The widgets' own messages to their screen (a token tree's selection) come last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from spectui.engine.tree.record import TreeNodeRecord, TreeRecord

if TYPE_CHECKING:
    from spectui.engine.compare import PolicyComparison
    from spectui.engine.cost.model import CostModel
    from spectui.engine.events import EngineEvent
    from spectui.engine.models.agreement import BlockStepAgreement
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.models.progress import Bar
    from spectui.engine.trace.header import TraceHeader
    from spectui.engine.trace.source import EventSource


class EngineMessage(Message, bubble=False):
    """Base of the worker's messages: handled by the decode screen, never bubbled further.

    (Textual resets `bubble` in every subclass, so each one repeats `bubble=False`.)
    """

    run: int  # each subclass's first field: the run it belongs to (a stale run's is dropped)


@dataclass
class LoadProgress(EngineMessage, bubble=False):
    """A step of loading the models (importing torch, reading weights)."""

    run: int
    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgress)


@dataclass
class LoadBar(EngineMessage, bubble=False):
    """A download's or a weight load's progress (from the libraries' own progress bars)."""

    run: int
    bar: Bar

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadBar) and message.bar.key == self.bar.key


@dataclass
class ModelsReady(EngineMessage, bubble=False):
    """The drafter and verifier are loaded; `pair` is kept to restart without reloading."""

    run: int
    pair: ModelPair | None  # None for a replay; imported for types only (it pulls in torch)
    summary: str  # e.g. "drafter → verifier · cpu · float32"
    load_seconds: float


@dataclass
class DecodeStarted(EngineMessage, bubble=False):
    """A decode began: `header` says what (prompt tokenized, nothing generated yet).

    `source` is handed over for a retry: the screen gives it back to the next run's worker,
    and reads it only once this run's worker has ended (whether a failed round can resume).
    """

    run: int
    header: TraceHeader
    source: EventSource


@dataclass
class DecodeEvent(EngineMessage, bubble=False):
    """One engine event, with the text of each token id it names (autoplay waits for these)."""

    run: int
    event: EngineEvent
    texts: dict[int, str]
    shown: str | None = None  # for an appended token: the text it adds to the stream


@dataclass
class CostMeasured(EngineMessage, bubble=False):
    """The cost model at one draft span, timed on the loaded pair between rounds."""

    run: int
    cost: CostModel


@dataclass
class PrecisionChecked(EngineMessage, bubble=False):
    """Where a block's argmax and a step's differ along the decode's text (a pair below
    float32; `precision.py`)."""

    run: int
    agreement: BlockStepAgreement


@dataclass
class DecodeBatch(EngineMessage, bubble=False):
    """A round's engine events at fast-forward speed, in order (one message, not one each)."""

    run: int
    events: list[DecodeEvent]


@dataclass
class ComparisonProgress(Message):
    """The compare worker finished a round of one policy's decode (or the decode itself)."""

    policy: str
    output_ids: tuple[int, ...]  # decoded so far
    text: str  # their text, as the tokenizer decodes them
    total: int  # asked for

    @property
    def tokens(self) -> int:
        """Tokens decoded so far."""
        return len(self.output_ids)

    def can_replace(self, message: Message) -> bool:
        """Only the latest output of the same policy matters (another's must still arrive)."""
        return isinstance(message, ComparisonProgress) and message.policy == self.policy


@dataclass
class ComparisonReady(Message):
    """The compare worker decoded the prompt under every compared policy and scored each."""

    comparison: PolicyComparison  # imported for types only: compare pulls in torch
    texts: tuple[tuple[str, ...], ...]  # per side, in the comparison's order: each token's text


@dataclass
class EngineWaiting(EngineMessage, bubble=False):
    """The worker has posted everything so far and waits for the next step request."""

    run: int
    served: int  # how many step requests the worker had seen when it began waiting

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EngineWaiting)


@dataclass
class TreeNodeSelected(Message):
    """The token tree's cursor came to a node: its gate row and top-k bars are the ones to show."""

    tree: TreeRecord
    node_id: int  # -1: the root (the last committed token, which has no check)
    following: bool  # moved there by the walk (stepping), not by a key

    @property
    def node(self) -> TreeNodeRecord | None:
        """The selected node's record (None for the root)."""
        return next((node for node in self.tree.nodes if node.node_id == self.node_id), None)
