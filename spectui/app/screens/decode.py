"""The decode screen: drives one engine worker and shows the stream, gates, token and stats."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from spectui.app import messages
from spectui.app.control import SPEEDS, StepControl
from spectui.app.driver import drive
from spectui.app.screens.compare import CompareScreen
from spectui.app.screens.help import HelpScreen
from spectui.app.screens.prompt import PromptScreen
from spectui.app.screens.settings import SettingsScreen
from spectui.app.state import CheckView, DecodeView, Piece, PieceKind
from spectui.app.tracing import SessionTrace, default_trace_path
from spectui.app.widgets import GatePanel, StatsPanel, StatusHeader, TokenDetail, TokenStream
from spectui.app.widgets.panel import Panel
from spectui.engine.config import (
    POLICY_LABELS,
    POLICY_NAMES,
    TUNABLE_FIELDS,
    ConfigError,
    DecodeConfig,
)
from spectui.engine.errors import SpectuiError
from spectui.engine.trace import TraceError

if TYPE_CHECKING:
    from spectui.engine.loading import ModelPair

# Actions that need a running decode; shown greyed out otherwise.
DECODE_ACTIONS = frozenset({"step", "finish_round", "toggle_play", "speed"})
WIDE = 120  # columns from which every panel is on screen at once
SHORT = 20  # rows below which the stacked layout drops the stats panel
# Seconds: engine events redraw the screen at most 15 times a second. Autoplay waits for each
# redraw, so this also caps "max" speed (~2.4 rounds/s on the bundled pair, 3.4 at 20/s), and
# the idle time it leaves keeps keys fast: key-to-repaint p95 during max autoplay 30-35 ms,
# against 53-59 ms at 20/s (`benchmarks/app_latency.py`).
REDRAW_INTERVAL = 1 / 15
IDLE_HINTS = {  # the gate panel before the first round
    "ready": "press space to draft one",
    "loading": "the models are loading (keys pressed now are kept)",
    "error": "the engine stopped",
    "finished": "the decode ended",
}


class DecodeScreen(Screen[None]):
    """Step through a speculative decode one gate check at a time."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        Binding(
            "space",
            "step",
            "Step",
            tooltip="Reveal the next gate check (at a round boundary: draft the next round)",
            id="step",
        ),
        Binding(
            "enter",
            "finish_round",
            "Round",
            tooltip="Run to the end of this round",
            id="finish_round",
        ),
        Binding("p", "toggle_play", "Play", tooltip="Autoplay on/off", id="play"),
        Binding(
            "t",
            "toggle_policy",
            "Policy",
            tooltip="Policy: greedy-exact → soft-guarded → speculative-sampling (next round)",
            id="policy",
        ),
        # The next four stay out of the Footer: at 80 columns it is full. The help screen and
        # the palette list them, and the header names B while an earlier round is viewed.
        Binding(
            "b",
            "view_round(-1)",
            "◀ Round",
            show=False,
            tooltip="Previous round: view an earlier round's drafts and gate checks",
            id="prev_round",
        ),
        Binding(
            "n",
            "view_round(1)",
            "Round ▶",
            show=False,
            tooltip="Next round (past the last: back to live)",
            id="next_round",
        ),
        Binding(
            "B,shift+b",
            "branch",
            "Branch",
            show=False,
            key_display="B",
            tooltip="Branch here: redo the viewed round on, under the current settings",
            id="branch",
        ),
        Binding(
            "c",
            "compare",
            "Compare",
            show=False,
            tooltip="Decode the prompt under greedy-exact and soft-guarded side by side",
            id="compare",
        ),
        Binding(
            "s", "settings", "Settings", tooltip="Gate thresholds, draft span, bonus", id="settings"
        ),
        Binding("e", "edit_prompt", "Prompt", tooltip="Edit the prompt and restart", id="prompt"),
        Binding(
            "ctrl+r",
            "restart",
            "Restart",
            tooltip="Restart the decode from the prompt",
            id="restart",
        ),
        Binding(
            "w",
            "save_trace",
            "Save trace",
            show=False,  # the Footer is full at 80 columns; ? and the palette list it
            tooltip="Save this decode as a trace (JSON Lines) that `spectui replay FILE` opens",
            id="save_trace",
        ),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="All keys", id="help"),
        Binding("q", "quit", "Quit", tooltip="Quit spectui", id="quit"),
        Binding(
            "left",
            "select(-1)",
            "Prev token",
            show=False,
            id="select_prev",
            tooltip="Select the previous token: its gate row and the verifier's top-k",
        ),
        Binding(
            "right",
            "select(1)",
            "Next token",
            show=False,
            id="select_next",
            tooltip="Select the next token (past the last: back to live)",
        ),
        Binding(
            "home",
            "select_first",
            "First token",
            show=False,
            id="select_first",
            tooltip="Select the first generated token",
        ),
        Binding(
            "end,escape",
            "live",
            "Live",
            show=False,
            id="live",
            tooltip="Back to live: follow the latest gate check",
        ),
        Binding(
            "plus,equals_sign",
            "speed(1)",
            "Faster",
            show=False,
            id="faster",
            tooltip="Autoplay faster (0.5/s … max)",
        ),
        Binding("minus", "speed(-1)", "Slower", show=False, id="slower", tooltip="Autoplay slower"),
        Binding(
            "right_square_bracket",
            "span(1)",
            "Span +1",
            show=False,
            id="span_up",
            tooltip="Draft one more token per round (from the next round)",
        ),
        Binding(
            "left_square_bracket",
            "span(-1)",
            "Span −1",
            show=False,
            id="span_down",
            tooltip="Draft one fewer token per round",
        ),
    ]

    # The screen redraws its panels itself (repaint=False): a reactive's default repaint would
    # redraw the whole screen on every change.
    phase: reactive[str] = reactive("loading", bindings=True, repaint=False)  # loading, ready,
    # finished or error
    playing: reactive[bool] = reactive(False, repaint=False)
    busy: reactive[bool] = reactive(False, repaint=False)  # the worker is computing for us
    selected: reactive[int | None] = reactive(None, repaint=False)  # into pieces(); None: live
    # The earlier round the reader stepped back to with b/n (None: live).
    viewed: reactive[int | None] = reactive(None, bindings=True, repaint=False)

    def __init__(
        self,
        config: DecodeConfig,
        prompt: str,
        prompts: list[str],
        timings: bool = True,
        trace_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.config = config  # the settings the next round uses (retunes land here first)
        self.prompt = prompt
        self.prompts = prompts
        self.timings = timings
        self.trace_path = trace_path  # --trace FILE: saved when a decode ends and on exit
        self.session_trace = SessionTrace()  # what the save key writes
        self.autosave_error: str | None = None  # a failed save on exit, for the command to print
        self.decode = DecodeView()
        self.control = StepControl()
        self.pair: ModelPair | None = None
        self.run_id = 0
        self.error: str | None = None
        self.load_status = "starting…"
        self.status_text = ""  # what the header says after "spectui — "
        self.models = ""
        self._worker: Worker[None] | None = None
        self._settled = asyncio.Event()
        self._redraw_pending = False
        self._last_redraw = 0.0
        self._unshown = 0  # engine events handled but not yet drawn

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
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(TokenStream).border_title = "tokens"
        self.start_run()

    def on_unmount(self) -> None:
        self.control.stop()
        if self.trace_path is not None and self.session_trace.started:
            try:
                self.session_trace.save(self.trace_path)
            except TraceError as error:
                self.autosave_error = str(error)

    # --- the engine worker -------------------------------------------------------------------

    def start_run(self) -> None:
        """(Re)start the decode of `self.prompt`, loading the models first if needed."""
        self.control.stop()  # the previous worker returns at its next stop point
        self.control = StepControl(speed=self.control.speed)
        self.run_id += 1
        self._unshown = 0
        self.decode = DecodeView(prompt=self.prompt)
        self.session_trace = SessionTrace()
        self.error = None
        self.playing = False
        self.selected = None
        self.viewed = None
        self.phase = "loading"
        self.busy = True
        self._settled.clear()
        self._worker = self.drive_engine(
            self.run_id, self.control, self.config, self.prompt, self.pair
        )
        self.refresh_view()

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine", name="engine")
    def drive_engine(
        self,
        run: int,
        control: StepControl,
        config: DecodeConfig,
        prompt: str,
        pair: ModelPair | None,
    ) -> None:
        """Iterate the engine in this thread; everything reaches the UI as messages."""
        drive(self.post_message, control, run, config, prompt, pair)

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
        """Show an engine error in the error panel (the app stays usable)."""
        if isinstance(error, (SpectuiError, ConfigError)):
            text = str(error)
        else:
            text = f"{type(error).__name__}: {error} (this looks like a bug in spectui)"
        self.error = text
        self.phase = "error"
        self.playing = False
        self.app.bell()
        self.refresh_view()

    async def settled(self, timeout: float = 60.0) -> None:
        """Wait until the worker has done all that was asked and the screen shows it (tests)."""
        await asyncio.wait_for(self._settled.wait(), timeout)
        while self._redraw_pending:  # a throttled redraw still to come
            await asyncio.sleep(REDRAW_INTERVAL / 5)

    # --- messages from the worker ------------------------------------------------------------

    @on(messages.EngineMessage)
    def record_trace(self, message: messages.EngineMessage) -> None:
        """Keep what a saved trace needs; with --trace FILE, save it when the decode ends."""
        if getattr(message, "run", None) != self.run_id:
            return
        self.session_trace.record(message)
        if isinstance(message, messages.DecodeFinished) and self.trace_path is not None:
            self.save_trace(self.trace_path)

    def _current(self, message: Any) -> bool:
        """Whether a message belongs to the running decode; if so, a redraw will show it."""
        if message.run != self.run_id:
            return False
        if isinstance(message, messages.DecodeEvent):
            self._unshown += 1
        self.redraw_soon()
        return True

    def on_load_progress(self, message: messages.LoadProgress) -> None:
        if self._current(message):
            self.load_status = message.text

    def on_models_ready(self, message: messages.ModelsReady) -> None:
        if self._current(message):
            self.pair = message.pair
            self.models = message.summary
            self.load_status = f"models loaded in {message.load_seconds:.1f} s"

    def on_decode_started(self, message: messages.DecodeStarted) -> None:
        if self._current(message):
            self.decode.n_prompt_tokens = message.n_prompt_tokens
            self.decode.context_length = message.context_length
            self.phase = "ready"

    def on_round_drafted(self, message: messages.RoundDrafted) -> None:
        if self._current(message):
            self.decode.round_drafted(message.round_index, message.texts, message.q, message.config)

    def on_token_checked(self, message: messages.TokenChecked) -> None:
        if self._current(message) and self.decode.round is not None:
            self.decode.token_checked(
                CheckView(
                    message.check,
                    message.text,
                    message.top1_text,
                    message.alternatives,
                    self.decode.round.config,
                )
            )

    def on_token_appended(self, message: messages.TokenAppended) -> None:
        if self._current(message):
            self.decode.token_appended(message.text, message.origin)

    def on_round_finished(self, message: messages.RoundFinished) -> None:
        if self._current(message):
            self.decode.round_finished(message.stats)

    def on_decode_finished(self, message: messages.DecodeFinished) -> None:
        if self._current(message):
            self.decode.decode_finished(message.reason, message.stats)
            self.phase = "finished"
            self.playing = False
            self.refresh_header()

    def on_rewound(self, message: messages.Rewound) -> None:
        if self._current(message):
            self.decode.rewound(message.round_index, message.stats)
            self.phase = "ready"
            self.playing = False
            self.viewed = None
            self.selected = None
            self.notify(
                f"back at the start of round {message.round_index + 1} · "
                f"{message.config.policy_label} from here",
                title="Branched",
            )

    def on_engine_waiting(self, message: messages.EngineWaiting) -> None:
        if self._current(message) and message.served == self.control.requests:
            self.busy = False
            self._settled.set()
            self.refresh_header()

    # --- drawing -----------------------------------------------------------------------------

    def on_resize(self) -> None:
        # At 80 columns every key fits in the Footer only without the palette hint (ctrl+p
        # still opens it, and the help screen lists it).
        self.query_one(Footer).show_command_palette = self.size.width >= WIDE
        self._show_panels()
        self.refresh_view(force=True)

    def watch_selected(self, selected: int | None) -> None:
        self._show_panels()
        self.refresh_view()
        if selected is None:  # back to live: follow the end again
            self.query_one(TokenStream).scroll_end(animate=False)

    def watch_busy(self) -> None:
        self.refresh_header()

    def watch_playing(self) -> None:
        self.refresh_header()

    def _show_panels(self) -> None:
        """Below WIDE columns a selected token's detail takes the gate and stats panels' place,
        and below SHORT rows the stats give way to the stream and the gates.

        Done with `display` rather than a CSS class on the screen: a class change restyles
        every widget, which is too slow to do on each arrow key.
        """
        narrow, inspecting = self.size.width < WIDE, self.selected is not None
        short = self.size.height < SHORT
        self.query_one(TokenDetail).display = not narrow or inspecting
        self.query_one(GatePanel).display = not (narrow and inspecting)
        self.query_one(StatsPanel).display = not (narrow and (inspecting or short))

    def redraw_soon(self) -> None:
        """Redraw once the queued messages are handled, at most every REDRAW_INTERVAL.

        One redraw covers a burst of events, and the pause between redraws leaves the UI
        thread free for key presses (autoplay waits for each redraw, so it never floods).
        Key presses redraw at once, through their actions.
        """
        if self._redraw_pending:
            return
        self._redraw_pending = True
        wait = self._last_redraw + REDRAW_INTERVAL - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._redraw)
        else:
            self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        self._last_redraw = time.monotonic()
        self.refresh_view()
        self.control.handled(self._unshown)
        self._unshown = 0

    def refresh_view(self, force: bool = False) -> None:
        """Redraw the panels whose inputs changed (`force`: all of them)."""
        if not self.is_mounted:
            return
        self.refresh_header()
        self._show_error()
        pieces = self.decode.pieces()
        selected = None if self.selected is None else min(self.selected, len(pieces) - 1)
        piece = pieces[selected] if selected is not None and pieces else None
        version = (self.run_id, self.decode.version, self.phase, selected)
        if force:
            self.query_one(TokenStream).forget()
            for panel in self.query(Panel):
                panel.forget()
        stream = self.query_one(TokenStream)
        if self.phase == "loading" and self.error is None:
            stream.show_message(f"⏳ {self.load_status}")
        elif not stream.unchanged((version, self.viewed)):
            stream.show(self.decode, pieces, selected, self.viewed)
        stream.border_subtitle = f"←/→ inspect · {self.models}" if self.models else ""
        current, past = self.decode.round, False
        if self.viewed is not None and (viewed := self.decode.round_at(self.viewed)) is not None:
            current, past = viewed, viewed is not self.decode.round
        highlight = None
        if piece is not None and current is not None and piece.round_index == current.index:
            highlight = piece.position
        elif piece is None and current is not None and current.n_checked and not past:
            highlight = current.n_checked - 1
        gates = self.query_one(GatePanel)
        if not gates.unchanged((version, highlight, self.viewed)):
            hint = IDLE_HINTS.get(self.phase, IDLE_HINTS["ready"])
            gates.show(current, highlight, hint, past=past)
        detail = self.query_one(TokenDetail)
        if not detail.unchanged(version):
            detail.show(piece or self.latest_piece(pieces), live=piece is None)
        stats = self.query_one(StatsPanel)
        if not stats.unchanged((self.run_id, id(self.decode.stats), self.config.draft_span)):
            stats.show(self.decode.stats, self.config.draft_span, self.timings)

    def _show_error(self) -> None:
        error = self.query_one("#error", Static)
        error.display = self.error is not None
        if self.error is not None:
            error.border_title = "error"
            error.update(f"{self.error}\n\nctrl+r retry · e edit the prompt · q quit")

    def refresh_header(self) -> None:
        """The header names the active policy, the round, and what the engine is doing."""
        if not self.is_mounted:
            return
        policy = POLICY_LABELS[self.config.policy]
        current = self.decode.round
        round_open = current is not None and not current.finished
        if round_open and current.config.policy != self.config.policy:  # type: ignore[union-attr]
            policy += " from next round"
        parts = [policy, f"k={self.config.draft_span}"]
        if current is not None and self.viewed is not None:
            parts.append(f"◀ round {self.viewed + 1}/{current.index + 1} · B branch")
        elif current is not None:
            parts.append(f"round {current.index + 1}")
        speed = SPEEDS[self.control.speed][1]
        state = {
            "loading": "loading models",
            "error": "error",
            "finished": f"finished ({(self.decode.finish_reason or '').replace('_', ' ')})",
        }.get(self.phase)
        if state is None:
            state = f"▶ playing {speed}" if self.playing else f"⏸ paused · {speed}"
            if self.busy and not self.playing:
                state += " · working"
        parts.append(state)
        self.status_text = " · ".join(parts)
        self.query_one(StatusHeader).show(self.status_text)

    def selected_piece(self) -> Piece | None:
        """The token picked with the arrow keys, if any."""
        pieces = self.decode.pieces()
        if self.selected is None or not pieces:
            return None
        return pieces[min(self.selected, len(pieces) - 1)]

    def latest_piece(self, pieces: list[Piece]) -> Piece | None:
        """The piece holding the most recent gate check (what 'live' shows)."""
        latest = self.decode.latest_check()
        if latest is None:
            return None
        for piece in reversed(pieces):
            if piece.check is latest and piece.kind is not PieceKind.CORRECTION:
                return piece
        return None

    # --- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the models load, steps queue up (the worker takes them once it is ready).
        if action in DECODE_ACTIONS and self.phase not in ("ready", "loading"):
            return None
        if action in ("restart", "edit_prompt", "compare") and self._loading_models():
            return None
        return True

    def _loading_models(self) -> bool:
        """Whether the worker is still loading (a restart now would load a second copy)."""
        return self.pair is None and self.phase == "loading"

    def _decode_ready(self) -> bool:
        if self.phase in ("ready", "loading"):
            return True
        reasons = {
            "finished": "The decode has finished: ctrl+r restarts it, e edits the prompt.",
            "error": "The engine stopped on an error: ctrl+r retries, e edits the prompt.",
        }
        self.notify(reasons[self.phase], severity="warning")
        return False

    def _ask(self, request: Any) -> None:
        self.busy = True
        self._settled.clear()
        request()

    def action_step(self) -> None:
        """Reveal the next gate check (or draft the next round)."""
        if self._decode_ready():
            self._ask(self.control.step)

    def action_finish_round(self) -> None:
        """Run to the end of the current round."""
        if self._decode_ready():
            self._ask(self.control.finish_round)

    def action_toggle_play(self) -> None:
        """Autoplay on or off."""
        if self._decode_ready():
            self.playing = not self.playing
            self._ask(lambda: self.control.set_playing(self.playing))

    def action_speed(self, delta: int) -> None:
        """Autoplay faster (+1) or slower (−1)."""
        self.control.set_speed(self.control.speed + delta)
        self.refresh_header()

    def action_toggle_policy(self) -> None:
        """Cycle greedy-exact → soft-guarded → speculative-sampling from the next round."""
        following = (POLICY_NAMES.index(self.config.policy) + 1) % len(POLICY_NAMES)
        self.retune(policy=POLICY_NAMES[following])

    def action_use_policy(self, name: str) -> None:
        """Use policy `name` from the next round."""
        self.retune(policy=name)

    def action_span(self, delta: int) -> None:
        """Draft one token more or fewer per round."""
        self.retune(draft_span=self.config.draft_span + delta)

    def retune(self, **changes: Any) -> bool:
        """Change settings from the next round on; refuse invalid values with the reason."""
        try:
            config = self.config.retuned(**changes)
        except ConfigError as error:
            self.notify(str(error), title="Setting refused", severity="error")
            return False
        self.config = config
        self.control.retune(**changes)
        current = self.decode.round
        next_round = 1 if current is None else current.index + (1 if current.finished else 2)
        summary = ", ".join(f"{name} {_shown(value)}" for name, value in changes.items())
        self.notify(f"{summary} from round {next_round}", title="Settings")
        self.refresh_view()
        return True

    def action_settings(self) -> None:
        """Open the settings screen."""

        def apply(changes: dict[str, Any] | None) -> None:
            if changes:
                self.retune(**changes)

        self.app.push_screen(SettingsScreen(self.config), apply)

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
            self.notify("The models are still loading; restart once they are.", severity="warning")
            return
        self.start_run()

    def action_help(self) -> None:
        """List every key."""
        self.app.push_screen(HelpScreen(self.BINDINGS))

    def action_save_trace(self) -> None:
        """Save this decode as a trace for `spectui replay` (to --trace FILE, if given)."""
        self.save_trace(self.trace_path or default_trace_path())

    def save_trace(self, path: Path) -> Path | None:
        """Write the session's trace to `path` and say where (or why it could not be)."""
        try:
            saved = self.session_trace.save(path)
        except TraceError as error:
            self.notify(str(error), title="Trace not saved", severity="error")
            return None
        rounds = len(self.session_trace.rounds)
        ended = "" if self.session_trace.done is not None else " (the decode goes on)"
        self.notify(f"{rounds} rounds saved to {saved}{ended}", title="Trace saved")
        return saved

    async def action_quit(self) -> None:
        """Quit."""
        self.control.stop()
        self.app.exit()

    def action_select(self, delta: int) -> None:
        """Select the previous/next token of the stream."""
        count = len(self.decode.pieces())
        if count == 0:
            return
        if self.selected is None:
            self.selected = count - 1 if delta < 0 else None
        elif self.selected + delta >= count:
            self.selected = None
        else:
            self.selected = max(0, self.selected + delta)

    def action_select_first(self) -> None:
        """Select the first generated token."""
        if self.decode.pieces():
            self.selected = 0

    def action_live(self) -> None:
        """Stop selecting: follow the latest check again."""
        self.selected = None
        self.viewed = None

    def action_view_round(self, delta: int) -> None:
        """Step back (−1) or forward (+1) through the rounds; past the latest: live again."""
        current = self.decode.round
        if current is None:
            self.notify("No round yet: nothing to step back to.", severity="warning")
            return
        latest = current.index
        viewed = (latest if self.viewed is None else self.viewed) + delta
        if viewed < 0:
            self.notify("This is the first round.", severity="warning")
            return
        self.selected = None
        self.viewed = None if viewed >= latest and delta > 0 else min(viewed, latest)
        self.refresh_view()

    def _branchable(self) -> bool:
        """Whether an earlier round is viewed and the decode can go back to it."""
        live = self.pair is not None and self.phase in ("ready", "finished")
        return live and self.viewed is not None

    def action_branch(self) -> None:
        """Go back to the start of the viewed round and continue under the current settings."""
        target = self.viewed
        if target is None or not self._branchable():
            reason = (
                "Branching decodes with the models, and none are loaded here."
                if self.pair is None and not self._loading_models()
                else "Step back to a round first (b), then branch there."
            )
            self.notify(reason, severity="warning")
            return
        changes = {name: getattr(self.config, name) for name in sorted(TUNABLE_FIELDS)}
        self.playing = False
        self._ask(lambda: self.control.branch(target, **changes))

    def action_compare(self) -> None:
        """Decode the prompt under greedy-exact and soft-guarded side by side."""
        if self.pair is None:
            reason = (
                "The models are still loading; compare once they are."
                if self._loading_models()
                else "Compare decodes with the models, and none are loaded here."
            )
            self.notify(reason, severity="warning")
            return
        if self.playing:
            self.action_toggle_play()
        max_new_tokens = self.config.max_new_tokens or CompareScreen.DEFAULT_TOKENS
        self.app.push_screen(CompareScreen(self.pair, self.config, self.prompt, max_new_tokens))


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return POLICY_LABELS.get(value, value)  # type: ignore[call-overload]
    return f"{value:g}" if isinstance(value, float) else str(value)
