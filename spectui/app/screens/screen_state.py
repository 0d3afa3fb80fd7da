"""What the decode screen knows, in one typed object, and what its parts may ask of the screen.

The screen owns one `ScreenState`; its parts (browsing, stepping, tuning, saving, sweeping,
receiving, drawing) are plain objects handed that state and a `Surface` to speak and redraw
through. Only the UI thread reads or writes it: the engine worker hands things over by
message (the pair arrives in `ModelsReady`, the decode's source in `DecodeStarted`).

The decode itself, as its events tell it, is not here but in the `DecodeView` this state
holds (decode_view.py): the screen's state is the session, the settings, the run and what the
reader looks at; the decode's view is what the event log folds to.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from spectui.app.control import StepControl
from spectui.app.decode_view import DecodeView
from spectui.app.keys import NEEDS, NO_SWEEP, REFUSALS, action_name, binding_for, key_names
from spectui.app.rounds import Piece, RoundView
from spectui.app.sessions import Session
from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.errors import ChatTemplateError, SpectuiError
from spectui.engine.trace.source import Ability

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from spectui.engine.cost.model import CostModel
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.models.progress import Bar
    from spectui.engine.trace.log import EventLog
    from spectui.engine.trace.source import EventSource


# Actions that need a running decode; shown greyed out otherwise.
DECODE_ACTIONS = frozenset({"step", "finish_round", "toggle_play", "fast_forward", "speed"})


class Surface(Protocol):
    """What the decode screen's parts ask of the screen: a message, a redraw."""

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a decode message in the status line, instead of the one before."""
        ...

    def refresh_view(self, force: bool = False) -> None:
        """Redraw the panels whose inputs changed (`force`: all of them)."""
        ...

    def refresh_header(self) -> None:
        """Redraw the header (policy, round, what the engine is doing)."""
        ...

    def redraw_soon(self, counted: int) -> None:
        """Redraw once the queued messages are handled (`counted`: engine events in them)."""
        ...

    def selection_changed(self, selected: int | None) -> None:
        """A token was (de)selected: the panels that show it follow."""
        ...

    def state_changed(self) -> None:
        """The phase or autoplay may have changed: the Footer's keys and the header follow."""
        ...


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


@dataclass
class ScreenState:
    """Everything the decode screen knows about its session, its settings and its decode."""

    session: Session
    config: DecodeConfig  # the settings the next round uses: the UI's one copy of them
    prompt: str
    prompts: list[str]  # what `e` offers
    timings: bool = True
    trace_path: Path | None = None  # --trace FILE: saved when a decode ends and on exit
    text_marks: bool = False  # m / --text-marks: each token's kind written into the text
    # Handed over by the worker's messages, never written by the worker itself:
    pair: ModelPair | None = None  # from ModelsReady (None while loading, and in a replay)
    source: EventSource | None = None  # from DecodeStarted: a retry gives it to its worker
    # The run: its step control, its events and the view folded from them.
    control: StepControl = field(default_factory=StepControl)
    run_id: int = 0
    event_log: EventLog | None = None  # the running decode's events (None before it starts)
    decode: DecodeView = field(default_factory=DecodeView)
    busy: bool = False  # the worker is computing for us
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # set when it caught up
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
    load_bars: dict[tuple[str, str], Bar] = field(default_factory=dict)  # by Bar.key
    models: str = ""
    model_sizes: str = ""  # "drafter 1.2M → verifier 5.9M" (model_info.py)
    costs: dict[int, CostModel] = field(default_factory=dict)  # by draft span, once timed
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

    def set_busy(self, busy: bool) -> bool:
        """The worker is (no longer) computing for the screen; whether that changed."""
        if busy:
            self.settled.clear()
        else:
            self.settled.set()
        changed, self.busy = busy != self.busy, busy
        return changed

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

    # --- transitions the screen makes --------------------------------------------------------

    def begin_run(self, resume_at: int | None = None) -> RunOrder:
        """A new run of the prompt: the old one's worker is stopped; what the new one gets.

        `resume_at`: go on with the same decode from the start of that round instead (a
        retry after an error: the finished rounds stay).
        """
        self.control.stop()  # the previous worker returns at its next stop point
        self.control = StepControl(speed=self.control.speed, first_round=resume_at or 0)
        if resume_at is not None:  # the retry rewinds to the round's own settings: then ours
            self.control.retune(self.config)
        self.run_id += 1
        if resume_at is None:
            self.event_log = None
            self.decode = DecodeView(prompt=self.prompt)
        self.error = None
        resumed = self.source if resume_at is not None else None
        return RunOrder(
            self.run_id,
            self.session,
            self.control,
            self.config,
            self.prompt,
            self.pair,
            resumed,
            resume_at,
            self.timings,
            dict(self.costs),
        )

    def fail(self, error: BaseException | None) -> bool:
        """The worker stopped on `error`: keep it to show; False if the models never loaded
        (nothing here can mend a model path or a server address: the app exits)."""
        if error is not None and not self.loaded:
            self.load_failure = error
            return False
        # No key mends a tokenizer without a chat template: the panel offers q alone.
        self.error_mendable = not isinstance(error, ChatTemplateError)
        if isinstance(error, (SpectuiError, ConfigError)):
            self.error = str(error)
        else:
            self.error = f"{type(error).__name__}: {error} (this looks like a bug in spectui)"
        self.control.set_playing(False)
        return True

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


T = TypeVar("T")


class Exposed(Generic[T]):
    """A `ScreenState` attribute, read (and a field set) as one of the screen that owns it.

    What the app, the command and the tests read of the decode screen; its parts read the
    state itself."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, screen: None, owner: type) -> Exposed[T]: ...
    @overload
    def __get__(self, screen: Any, owner: type) -> T: ...
    def __get__(self, screen: Any, owner: type) -> Exposed[T] | T:
        return self if screen is None else getattr(screen.state, self.name)

    def __set__(self, screen: Any, value: T) -> None:
        setattr(screen.state, self.name, value)
