"""The decode screen: one engine worker over the session's source, its event log, the actions.

The worker posts each engine event; the screen appends it to the decode's `EventLog` and
folds it into the `DecodeView` the widgets draw (`drawing.py`). Saving a trace writes the
log, a branch truncates it, and a replay is this same screen over a trace session.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from spectui.app.control import StepControl
from spectui.app.costs import CostTimer
from spectui.app.driver import drive
from spectui.app.keys import (
    DECODE_BINDINGS,
    NEEDS,
    NO_SWEEP,
    REFUSALS,
    WIDE_FOOTER,
    action_name,
    binding_for,
    key_names,
)
from spectui.app.screens.browsing import Browsing
from spectui.app.screens.compare import CompareScreen
from spectui.app.screens.drawing import WIDE, Drawing
from spectui.app.screens.help import HelpScreen
from spectui.app.screens.prompt import PromptScreen
from spectui.app.screens.receiving import Receiving
from spectui.app.screens.saving import Saving
from spectui.app.screens.stepping import Stepping
from spectui.app.screens.sweeping import Sweeping
from spectui.app.screens.tuning import Tuning
from spectui.app.sessions import LiveSession, Session
from spectui.app.state import DecodeView, Piece
from spectui.app.widgets import (
    GatePanel,
    StatsPanel,
    StatusHeader,
    StatusLine,
    TokenDetail,
    TokenStream,
)
from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.errors import ChatTemplateError, SpectuiError
from spectui.engine.trace.header import TraceError
from spectui.engine.trace.log import EventLog
from spectui.engine.trace.source import Ability
from spectui.engine.trace.writer import save_log

if TYPE_CHECKING:
    from spectui.engine.cost.model import CostModel
    from spectui.engine.trace.source import EventSource

# Actions that need a running decode; shown greyed out otherwise.
DECODE_ACTIONS = frozenset({"step", "finish_round", "toggle_play", "fast_forward", "speed"})


class DecodeScreen(Browsing, Stepping, Tuning, Saving, Sweeping, Receiving):
    """Step through a speculative decode one gate check at a time."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = DECODE_BINDINGS

    # The screen redraws its panels itself (repaint=False): a reactive's default repaint would
    # redraw the whole screen on every change.
    busy: reactive[bool] = reactive(False, repaint=False)  # the worker is computing for us
    selected: reactive[int | None] = reactive(None, repaint=False)  # into pieces(); None: live
    # The earlier round the reader stepped back to with b/n (None: live).
    viewed: reactive[int | None] = reactive(None, bindings=True, repaint=False)
    # m / --text-marks: each token's kind written into the stream's text (format.TEXT_MARKS).
    text_marks: reactive[bool] = reactive(False, repaint=False)

    def __init__(
        self,
        config: DecodeConfig,
        prompt: str,
        prompts: list[str],
        timings: bool = True,
        trace_path: Path | None = None,
        session: Session | None = None,
        text_marks: bool = False,
    ) -> None:
        super().__init__()
        self.set_reactive(DecodeScreen.text_marks, text_marks)
        self.session: Session = session or LiveSession()
        self.config = config  # the settings the next round uses: this screen owns them
        self.prompt = prompt
        self.prompts = prompts
        self.timings = timings
        self.trace_path = trace_path  # --trace FILE: saved when a decode ends and on exit
        self.autosave_error: str | None = None  # a failed save on exit, for the command to print
        self.load_failure: BaseException | None = None  # models that never loaded: the app exits
        self.event_log: EventLog | None = (
            None  # the running decode's events (None before it starts)
        )
        self.decode = DecodeView()
        self.control = StepControl()
        self.run_id = 0
        self.error: str | None = None
        self.error_mendable = True  # whether ctrl+r or e can get past the error
        self.load_status = "starting…"
        self.load_bars: dict[tuple[str, str], Any] = {}  # progress.Bar by Bar.key, while loading
        self.status_text = ""  # what the header says after "spectui — "
        self.models = ""
        self.model_sizes = ""  # "drafter 1.2M → verifier 5.9M" (model_info.py)
        self.costs: dict[int, CostModel] = {}  # the cost model by draft span, once timed
        self.drawing = Drawing(self)
        self._worker: Worker[None] | None = None
        self._settled = asyncio.Event()

    @property
    def pair(self) -> Any:
        """The loaded model pair (None while loading, and in a replay)."""
        return self.session.pair

    @property
    def phase(self) -> str:
        """loading, ready, finished or error."""
        if self.error is not None:
            return "error"
        if self.event_log is None:
            return "loading"
        return "finished" if self.decode.finish_reason is not None else "ready"

    @property
    def playing(self) -> bool:
        """Whether autoplay is on (the step control owns it)."""
        return self.control.playing

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys the Footer shows: from WIDE columns also f, b, c, w (and v with a sweep),
        which a narrower Footer has no room for (the help and the palette list them always)."""
        bindings = super().active_bindings
        if self.size.width < WIDE:
            return bindings
        wide = {}
        for key, active in bindings.items():
            short = WIDE_FOOTER.get(active.binding.id or "")
            if short is not None:
                active = active._replace(
                    binding=dataclasses.replace(active.binding, show=True, description=short)
                )
            wide[key] = active
        return wide

    def can(self, ability: Ability) -> bool:
        """Whether this session can do `ability`."""
        return ability in self.session.abilities

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Static(id="error", classes="panel")
                yield TokenStream(id="stream", classes="panel")
                yield GatePanel(id="gates", classes="panel")
            with Vertical(id="right"):
                yield TokenDetail(id="detail", classes="panel")
                yield StatsPanel(id="stats", classes="panel")
        yield StatusLine(id="status-line")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(TokenStream).border_title = "tokens"
        self.start_run()

    def on_unmount(self) -> None:
        self.control.stop()
        self.session.stop()  # a download under way stops at its next chunk
        log = self.session.log_to_save(self.event_log)
        if self.trace_path is not None and log is not None:
            try:
                save_log(self.trace_path, log)
            except TraceError as error:
                self.autosave_error = str(error)

    # --- the status line -------------------------------------------------------------------

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a decode message in the status line, instead of the one before."""
        self.query_one(StatusLine).say(text, severity)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A decode message never covers the panels: it goes to the status line (`say`)."""
        self.say(f"{title}: {message}" if title else message, severity)

    def on_key(self, event: events.Key) -> None:
        """The next key clears the last message (its action may say a new one). At engine
        speed the worker holds off until the key's repaint is on screen."""
        self.control.hold_for_key()
        self.call_after_refresh(self.control.key_shown)
        self.query_one(StatusLine).clear()
        if (refusal := self.refusal(event.key)) is not None:
            self.say(f"{refusal}.", "warning")

    def refusal(self, key: str) -> str | None:
        """Why this session refuses `key`'s action, if it does (the key is off the Footer, the
        help and the palette, but pressed all the same)."""
        binding = binding_for(key)
        if binding is None:
            return None
        action = action_name(binding.action)
        need = NEEDS.get(action)
        if need is not None and not self.can(need):
            return f"{binding.description} ({key_names(binding)}): {REFUSALS[need]}"
        if action == "sweep" and self.sweep is None:
            return f"{binding.description} ({key_names(binding)}): {NO_SWEEP}"
        return None

    def _decode_ready(self) -> bool:
        """Whether a step can go on; at the end, the status line says what can be done next."""
        if self.phase != "finished":
            return super()._decode_ready()
        self.say(self.ended_words(), "warning")
        return False

    def ended_words(self) -> str:
        """What the user can do once the decode (or the replayed trace) has ended."""
        if not self.can(Ability.DECODE):
            return "The trace has ended: q quits, b steps back through its rounds"
        return "The decode has ended: ctrl+r restarts, e edits the prompt, w saves the trace"

    # --- the engine worker -------------------------------------------------------------------

    def start_run(self, resume_at: int | None = None) -> None:
        """(Re)start the decode of `self.prompt`, loading the models first if needed.

        `resume_at`: go on with the same decode from the start of that round instead (a
        retry after an error: the finished rounds stay).
        """
        self.control.stop()  # the previous worker returns at its next stop point
        self.control = StepControl(speed=self.control.speed, first_round=resume_at or 0)
        if resume_at is not None:  # the retry rewinds to the round's own settings: then ours
            self.control.retune(self.config)
        self.run_id += 1
        self.drawing.reset()
        if resume_at is None:
            self.event_log = None
            self.decode = DecodeView(prompt=self.prompt)
        self.error = None
        self.selected = None
        self.viewed = None
        self.busy = True
        self._settled.clear()
        self._worker = self.drive_engine(
            self.run_id, self.control, self.config, self.prompt, resume_at, frozenset(self.costs)
        )
        self.state_changed()

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine", name="engine")
    def drive_engine(
        self,
        run: int,
        control: StepControl,
        config: DecodeConfig,
        prompt: str,
        resume_at: int | None,
        timed_spans: frozenset[int],
    ) -> None:
        """Iterate the session's source in this thread; everything reaches the UI as messages.

        `timed_spans`: draft spans whose cost model the screen has (taken in the UI thread)."""

        def open_source() -> EventSource:
            if resume_at is not None:
                return self.session.reopen()
            return self.session.open(self.post_message, run, config, prompt)

        timer = CostTimer(self.post_message, run, timed_spans) if self.timings else None
        drive(
            self.post_message,
            control,
            run,
            open_source,
            resume_at,
            before_round=timer.ensure if timer is not None else None,
        )

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        if event.state is WorkerState.ERROR:
            self.show_error(event.worker.error)
        if event.state in (WorkerState.ERROR, WorkerState.SUCCESS, WorkerState.CANCELLED):
            self.busy = False
            self._settled.set()

    def show_error(self, error: BaseException | None) -> None:
        """Show an engine error in the error panel (the app stays usable).

        Unless the models never loaded: nothing here can mend a model path or a server address,
        so the app exits (status 2) and the command reports the error as `spectui run` does.
        """
        if error is not None and not self.session.loaded:
            self.load_failure = error
            self.app.exit(return_code=2)
            return
        # No key mends a tokenizer without a chat template: the panel offers q alone.
        self.error_mendable = not isinstance(error, ChatTemplateError)
        if isinstance(error, (SpectuiError, ConfigError)):
            text = str(error)
        else:
            text = f"{type(error).__name__}: {error} (this looks like a bug in spectui)"
        self.error = text
        self.control.set_playing(False)
        self.app.bell()
        self.state_changed()

    async def settled(self, timeout: float = 60.0) -> None:
        """Wait until the worker has done all that was asked and the screen shows it (tests)."""
        await asyncio.wait_for(self._settled.wait(), timeout)
        await self.drawing.drawn()

    def state_changed(self) -> None:
        """The phase or autoplay may have changed: the Footer's keys and the header follow."""
        self.refresh_bindings()
        self.drawing.refresh_view()

    # --- drawing -----------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.drawing.resized()

    def watch_selected(self, selected: int | None) -> None:
        self.drawing.selection_changed(selected)

    def watch_text_marks(self) -> None:
        self.drawing.refresh_view()

    def watch_busy(self) -> None:
        self.drawing.refresh_header()

    def refresh_view(self, force: bool = False) -> None:
        """Redraw the panels whose inputs changed (`force`: all of them)."""
        self.drawing.refresh_view(force)

    def selected_piece(self) -> Piece | None:
        """The token picked with the arrow keys, if any."""
        pieces = self.decode.pieces()
        if self.selected is None or not pieces:
            return None
        return pieces[min(self.selected, len(pieces) - 1)]

    # --- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        need = NEEDS.get(action)
        if need is not None and not self.can(need):
            return False  # this session cannot: the key leaves the Footer and the palette
        if action == "sweep" and self.sweep is None:
            return False  # no sweep was opened (spectui --sweep FILE)
        # While the models load, steps queue up (the worker takes them once it is ready). At
        # the end, they say what can be done next (`ended_words`).
        if action in DECODE_ACTIONS and self.phase not in ("ready", "loading", "finished"):
            return None
        if action in ("restart", "edit_prompt", "compare") and self._loading_models():
            return None
        return True

    def _loading_models(self) -> bool:
        """Whether the worker is still loading (a restart now would load a second copy)."""
        return not self.session.loaded and self.phase == "loading"

    def action_edit_prompt(self) -> None:
        """Edit the prompt; the decode restarts on it."""

        def restart_on(prompt: str | None) -> None:
            if prompt is not None:
                self.prompt = prompt
                self.action_restart()

        self.app.push_screen(PromptScreen(self.prompt, self.prompts), restart_on)

    def action_restart(self) -> None:
        """Restart the decode from the prompt with the current settings."""
        if self._loading_models():
            self.say("The models are still loading; restart once they are.", "warning")
            return
        self.query_one(StatusLine).clear()  # what it said of the old run's rounds no longer holds
        self.start_run(self.retry_round())

    def retry_round(self) -> int | None:
        """After an error: the round a retry goes on from (the finished ones stay), if any."""
        if self.error is None or self.event_log is None:
            return None
        failed = len(self.event_log.rounds)
        return failed if self.session.resumable(failed) else None

    def action_toggle_marks(self) -> None:
        """Write each token's kind into the stream's text, or stop."""
        self.text_marks = not self.text_marks
        if self.text_marks:
            self.say("Text marks on: [-rejected-]{correction} [~discarded~] [?pending?] {+bonus}")
        else:
            self.say("Text marks off: kinds by style (? lists them)")

    def action_copy_output(self) -> None:
        """Copy the committed text (prompt and output, no drafts that did not join it)."""
        text = self.decode.committed_text()
        self.app.copy_to_clipboard(text)
        self.say(
            f"Copied the committed text: the prompt and {self.decode.n_generated} output tokens, "
            f"{len(text)} characters (no pending, rejected or discarded draft)"
        )

    def action_help(self) -> None:
        """List every key."""
        # The keys this session offers, as the Footer and the palette do (keys.py).
        offered = [
            binding
            for binding in self.BINDINGS
            if not isinstance(binding, Binding)
            or self.check_action(action_name(binding.action), ()) is not False
        ]
        self.app.push_screen(HelpScreen(offered))

    async def action_quit(self) -> None:
        """Quit."""
        self.control.stop()
        self.app.exit()

    def action_branch(self) -> None:
        """Go back to the start of the viewed round and continue under the current settings."""
        target = self.viewed
        if target is None or self.phase not in ("ready", "finished"):
            self.say("Step back to a round first (b), then branch there.", "warning")
            return
        self.control.set_playing(False)
        self._ask(lambda: self.control.branch(target, self.config))

    def action_compare(self) -> None:
        """Decode the prompt under greedy-exact and soft-guarded side by side."""
        if self.pair is None:
            self.say("The models are still loading; compare once they are.", "warning")
            return
        if self.playing:
            self.action_toggle_play()
        max_new_tokens = self.config.max_new_tokens or CompareScreen.DEFAULT_TOKENS
        self.app.push_screen(CompareScreen(self.pair, self.config, self.prompt, max_new_tokens))
