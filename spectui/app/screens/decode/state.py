"""What the decode screen knows, in one frozen value, and which keys it offers in it.

Only the UI thread holds one: the engine worker hands things over by message (the pair
arrives in `ModelsReady`, the decode's source in `DecodeStarted`), which the reducer
(reduce.py) folds into a new state.

The decode itself, as its events tell it, is not here but in the `DecodeView` this state
holds (decode_view.py): the screen's state is the session, the settings, the run and what the
reader looks at; the decode's view is what the event log folds to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from spectui.app.control import StepControl
from spectui.app.decode_view import DecodeView
from spectui.app.keys import NEEDS, NO_SWEEP, REFUSALS, action_name, binding_for, key_names
from spectui.app.rounds import Piece, RoundView
from spectui.app.sessions import Session
from spectui.engine.config import DecodeConfig
from spectui.engine.trace.source import Ability

if TYPE_CHECKING:
    from spectui.engine.cost.model import CostModel
    from spectui.engine.models.agreement import BlockStepAgreement
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.models.progress import Bar
    from spectui.engine.trace.log import EventLog
    from spectui.engine.trace.source import EventSource


# Actions that need a running decode; shown greyed out otherwise.
DECODE_ACTIONS = frozenset({"step", "finish_round", "toggle_play", "fast_forward", "speed"})


@dataclass(frozen=True)
class RunOrder:
    """What one run's engine worker is handed: all of it taken in the UI thread."""

    run: int
    session: Session  # opens the source (loading the pair first if `pair` is None)
    control: StepControl
    config: DecodeConfig
    prompt: str
    pair: ModelPair | None  # None: the worker loads it (and posts it in ModelsReady)
    resumed: EventSource | None  # a retry: the decode it goes on with, from `resume_at`
    resume_at: int | None
    timings: bool  # whether to time the cost model
    timed_costs: dict[int, CostModel]  # the cost models the screen has, by draft span


@dataclass(frozen=True)
class ScreenState:
    """Everything the decode screen knows about its session, its settings and its decode.

    A transition returns a new one (`dataclasses.replace`), never changes this one, with one
    exception: a decode event is appended to `event_log` and folded into `decode` in place
    (copying the view per event would cost fast-forward its speed); `decode.version` counts
    those changes, and a new run or a branch puts a new log and view in a new state.
    """

    session: Session
    config: DecodeConfig  # the settings the next round uses: the UI's one copy of them
    prompt: str
    prompts: tuple[str, ...]  # what `e` offers
    timings: bool = True
    trace_path: Path | None = None  # --trace FILE: saved when a decode ends and on exit
    text_marks: bool = False  # m / --text-marks: each token's kind written into the text
    # Handed over by the worker's messages, never written by the worker itself:
    pair: ModelPair | None = None  # from ModelsReady (None while loading, and in a replay)
    source: EventSource | None = None  # from DecodeStarted: a retry gives it to its worker
    # The run: its step control, its events and the view folded from them.
    # The control is the one owner of what the worker does (paused, playing, ...): a
    # transition reads it, and asks things of it only by an effect (effects.py).
    control: StepControl = field(default_factory=StepControl)
    run_id: int = 0
    event_log: EventLog | None = None  # the running decode's events (None before it starts)
    decode: DecodeView = field(default_factory=DecodeView)
    busy: bool = False  # the worker is computing for us
    error: str | None = None
    error_mendable: bool = True  # whether ctrl+r or e can get past the error
    # What the reader looks at: a token of pieces() (None: live), an earlier round (b/n).
    selected: int | None = None
    viewed: int | None = None
    # A node the tree panel's cursor was moved to: (round index, node id; -1 the root). None:
    # the cursor follows the walk. Selecting a stream token and following again clear it.
    tree_node: tuple[int, int] | None = None
    # Loading, and what the models are.
    load_status: str = "starting…"
    load_bars: Mapping[tuple[str, str], Bar] = field(default_factory=dict)  # by Bar.key
    models: str = ""
    model_sizes: str = ""  # "drafter 1.2M → verifier 5.9M" (model_info.py)
    costs: Mapping[int, CostModel] = field(default_factory=dict)  # by draft span, once timed
    # Where a block's argmax and a step's differ along this run's text (a pair below float32).
    precision: BlockStepAgreement | None = None
    # For the command, once the app has ended.
    autosave_error: str | None = None  # a failed save on exit
    load_failure: BaseException | None = None  # models that never loaded: the app exits

    @property
    def phase(self) -> str:
        """loading, ready, finished or error."""
        if self.error is not None:
            return "error"
        if self.event_log is None:
            return "loading"
        return "finished" if self.decode.finish_reason is not None else "ready"

    @property
    def loaded(self) -> bool:
        """Whether the models are loaded (a restart does not load them again)."""
        return self.pair is not None or not self.session.needs_models

    @property
    def playing(self) -> bool:
        """Whether autoplay is on (the step control owns it)."""
        return self.control.playing

    def can(self, ability: Ability) -> bool:
        """Whether this session can do `ability`."""
        return ability in self.session.abilities

    def loading_models(self) -> bool:
        """Whether the worker is still loading (a restart now would load a second copy)."""
        return not self.loaded and self.phase == "loading"

    def retry_round(self) -> int | None:
        """After an error: the round a retry goes on from (the finished ones stay), if any.

        Asked only once the worker has ended, so the source it handed over is at rest.
        """
        if self.error is None or self.event_log is None:
            return None
        failed = len(self.event_log.rounds)
        return failed if self.session.resumable(self.source, failed) else None

    def shown_round(self) -> RoundView | None:
        """The round on screen: the one viewed with b/n, else the live one."""
        decode = self.decode
        return decode.round if self.viewed is None else decode.round_at(self.viewed)

    def selected_piece(self) -> Piece | None:
        """The token picked with the arrow keys, if any."""
        pieces = self.decode.pieces()
        if self.selected is None or not pieces:
            return None
        return pieces[min(self.selected, len(pieces) - 1)]

    def ended_words(self) -> str:
        """What the user can do once the decode (or the replayed trace) has ended."""
        if not self.can(Ability.DECODE):
            return "The trace has ended: q quits, b steps back through its rounds"
        return "The decode has ended: ctrl+r restarts, e edits the prompt, w saves the trace"

    # --- which keys this session offers now ----------------------------------------------------

    def offers(self, action: str, sweep: bool) -> bool | None:
        """`check_action`: True, None (greyed out) or False (off the Footer and the palette).

        `sweep`: whether a sweep was opened (spectui --sweep FILE)."""
        need = NEEDS.get(action)
        if need is not None and not self.can(need):
            return False  # this session cannot: the key leaves the Footer and the palette
        if action == "sweep" and not sweep:
            return False
        if action == "focus_tree":  # offered while the round on screen drafted a tree
            shown = self.shown_round()
            return shown is not None and shown.is_tree
        # While the models load, steps queue up (the worker takes them once it is ready). At
        # the end, they say what can be done next (`ended_words`).
        if action in DECODE_ACTIONS and self.phase not in ("ready", "loading", "finished"):
            return None
        if action in ("restart", "edit_prompt", "compare") and self.loading_models():
            return None
        return True

    def refusal(self, key: str, sweep: bool) -> str | None:
        """Why this session refuses `key`'s action, if it does (the key is off the Footer, the
        help and the palette, but pressed all the same)."""
        binding = binding_for(key)
        if binding is None:
            return None
        action = action_name(binding.action)
        need = NEEDS.get(action)
        if need is not None and not self.can(need):
            return f"{binding.description} ({key_names(binding)}): {REFUSALS[need]}"
        if action == "sweep" and not sweep:
            return f"{binding.description} ({key_names(binding)}): {NO_SWEEP}"
        return None
