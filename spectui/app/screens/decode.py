"""The decode screen: one engine worker over the session's source, its event log, the actions.

The screen owns one `ScreenState` (screen_state.py) and hands it to its parts: `Receiving`
folds each of the worker's messages into it, `Drawing` draws the panels from it, and
`Browsing`, `Stepping`, `Tuning`, `Saving` and `Sweeping` carry out the keys' actions on it.
Saving a trace writes the log, a branch truncates it, and a replay is this same screen over a
trace session.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from spectui.app import messages
from spectui.app.control import StepControl
from spectui.app.costs import CostTimer
from spectui.app.decode_view import DecodeView
from spectui.app.driver import drive
from spectui.app.keys import DECODE_BINDINGS, footer_keys, offered_bindings
from spectui.app.launch import launch_of
from spectui.app.rounds import Piece
from spectui.app.screens.browsing import Browsing
from spectui.app.screens.compare import CompareScreen
from spectui.app.screens.drawing import WIDE, Drawing
from spectui.app.screens.help import HelpScreen
from spectui.app.screens.prompt import PromptScreen
from spectui.app.screens.receiving import Receiving
from spectui.app.screens.saving import Saving
from spectui.app.screens.screen_state import Exposed, RunOrder, ScreenState
from spectui.app.screens.settings import SettingsScreen
from spectui.app.screens.stepping import Stepping
from spectui.app.screens.sweep import SweepScreen
from spectui.app.screens.sweeping import Sweeping
from spectui.app.screens.tuning import Tuning
from spectui.app.sessions import LiveSession, Session
from spectui.app.widgets import (
    GatePanel,
    StatsPanel,
    StatusHeader,
    StatusLine,
    TokenDetail,
    TokenStream,
    TokenTree,
)
from spectui.engine.config import DecodeConfig
from spectui.engine.trace.source import Ability

if TYPE_CHECKING:
    from spectui.engine.cost.model import CostModel
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.sweep.file import Sweep
    from spectui.engine.trace.log import EventLog
    from spectui.engine.trace.source import EventSource


class DecodeScreen(Screen[None]):
    """Step through a speculative decode one gate check at a time."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = DECODE_BINDINGS
    AUTO_FOCUS = None  # the screen's keys work without a focus; tab moves into the tree

    # The state's fields the app, the command and the tests read (the parts use `state`).
    session: Exposed[Session] = Exposed()
    config: Exposed[DecodeConfig] = Exposed()
    prompt: Exposed[str] = Exposed()
    trace_path: Exposed[Path | None] = Exposed()
    pair: Exposed[ModelPair | None] = Exposed()
    control: Exposed[StepControl] = Exposed()
    run_id: Exposed[int] = Exposed()
    event_log: Exposed[EventLog | None] = Exposed()
    decode: Exposed[DecodeView] = Exposed()
    busy: Exposed[bool] = Exposed()
    error: Exposed[str | None] = Exposed()
    viewed: Exposed[int | None] = Exposed()
    models: Exposed[str] = Exposed()
    costs: Exposed[dict[int, CostModel]] = Exposed()
    autosave_error: Exposed[str | None] = Exposed()
    load_failure: Exposed[BaseException | None] = Exposed()
    phase: Exposed[str] = Exposed()  # loading, ready, finished or error
    playing: Exposed[bool] = Exposed()  # whether autoplay is on

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
        self.state = ScreenState(
            session or LiveSession(), config, prompt, prompts, timings, trace_path, text_marks
        )
        self.drawing = drawing = Drawing(self, self.state)  # what the others speak through
        self.browsing = Browsing(self.state, drawing)
        self.stepping = Stepping(self.state, drawing)
        self.tuning = Tuning(self.state, drawing)
        self.saving = Saving(self.state, drawing)
        self.sweeping = Sweeping(self.state, drawing, self.start_run)
        self.receiving = Receiving(self.state, drawing, self.browsing, self.saving)
        self._worker: Worker[None] | None = None

    @property
    def selected(self) -> int | None:
        """The token picked with the arrow keys, an index into `decode.pieces()` (None: live)."""
        return self.state.selected

    @selected.setter
    def selected(self, selected: int | None) -> None:
        self.browsing.select_token(selected)

    @property
    def status_text(self) -> str:
        """What the header says after "spectui — "."""
        return self.drawing.status_text

    @property
    def sweep(self) -> Sweep | None:
        """The sweep the app was opened with (`spectui --sweep FILE`), if any."""
        return launch_of(self.app).sweep

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys the Footer shows: from WIDE columns also f, b, c, w (and v with a sweep),
        which a narrower Footer has no room for (the help and the palette list them always)."""
        wide, in_browser = self.size.width >= WIDE, self.app.is_web  # in_browser: w downloads
        return footer_keys(super().active_bindings, wide=wide, in_browser=in_browser)

    def can(self, ability: Ability) -> bool:
        """Whether this session can do `ability`."""
        return self.state.can(ability)

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static(id="too-small")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Static(id="error", classes="panel")
                yield TokenStream(id="stream", classes="panel")
                yield TokenTree(id="tree", classes="panel", focus_key="tab")
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
        self.state.control.stop()
        self.state.session.stop()  # a download under way stops at its next chunk
        self.saving.save_on_exit()

    # --- the status line ----------------------------------------------------------------------

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a decode message in the status line, instead of the one before."""
        self.drawing.say(text, severity)

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

    def selected_piece(self) -> Piece | None:
        """The token picked with the arrow keys, if any."""
        return self.state.selected_piece()

    def on_resize(self) -> None:
        self.drawing.resized()

    # --- keys --------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        """The next key clears the last message (its action may say a new one). At engine
        speed the worker holds off while the key's repaint is drawn (`StepControl.hold_for_key`)."""
        self.state.control.hold_for_key()
        self.query_one(StatusLine).clear()
        if (refusal := self.state.refusal(event.key, self.sweep is not None)) is not None:
            self.say(f"{refusal}.", "warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.state.offers(action, sweep=self.sweep is not None)

    # --- the engine worker -------------------------------------------------------------------

    def start_run(self, resume_at: int | None = None) -> None:
        """(Re)start the decode of the prompt (`resume_at`: a retry, from that round)."""
        order = self.state.begin_run(resume_at)
        self.drawing.reset()
        self.browsing.live()
        if self.state.set_busy(True):
            self.drawing.refresh_header()
        self._worker = self.drive_engine(order)
        self.drawing.state_changed()

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine", name="engine")
    def drive_engine(self, order: RunOrder) -> None:
        """Iterate the session's source in this thread; everything reaches the UI as messages.

        All it needs is in `order`, taken in the UI thread: it reads nothing of the screen's
        state and writes nothing the UI reads."""
        post, run = self.post_message, order.run

        def open_source() -> EventSource:
            session = order.session
            if order.resumed is not None:
                return order.resumed
            if order.pair is not None and isinstance(session, LiveSession):
                return session.start(order.pair, order.config, order.prompt)
            return session.open(post, run, order.config, order.prompt)

        timer = CostTimer(post, run, order.timed_costs) if order.timings else None
        before_round = timer.ensure if timer is not None else None
        drive(post, order.control, run, open_source, order.resume_at, before_round=before_round)

    @on(messages.EngineMessage)
    def engine_message(self, message: messages.EngineMessage) -> None:
        self.receiving.receive(message)

    @on(messages.TreeNodeSelected)
    def tree_node_selected(self, message: messages.TreeNodeSelected) -> None:
        self.browsing.select_node(message.node_id, message.following)

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        if event.state is WorkerState.ERROR:
            self.show_error(event.worker.error)
        ended = event.state in (WorkerState.ERROR, WorkerState.SUCCESS, WorkerState.CANCELLED)
        if ended and self.state.set_busy(False):
            self.drawing.refresh_header()

    def show_error(self, error: BaseException | None) -> None:
        """Show an engine error in the error panel (the app stays usable); if the models never
        loaded, exit (status 2): the command reports it as `spectui run` does."""
        if not self.state.fail(error):
            self.app.exit(return_code=2)
            return
        self.app.bell()
        self.drawing.state_changed()

    async def settled(self, timeout: float = 60.0) -> None:
        """Wait until the worker has done all that was asked and the screen shows it (tests)."""
        await asyncio.wait_for(self.state.settled.wait(), timeout)
        await self.drawing.drawn()

    # --- actions: each key's, carried out by the part it belongs to --------------------------

    def action_select(self, delta: int) -> None:
        """Select the previous/next token of the stream."""
        self.browsing.select(delta)

    def action_select_first(self) -> None:
        """Select the first generated token."""
        self.browsing.select_first()

    def action_live(self) -> None:
        """Stop selecting: follow the latest check again (out of the tree, if in it)."""
        self.set_focus(None)
        self.query_one(TokenTree).action_follow()
        self.browsing.live()

    def action_focus_tree(self) -> None:
        """Into the round's token tree, where the arrows move across its nodes; again: out."""
        tree = self.query_one(TokenTree)
        self.set_focus(None if tree.has_focus else tree)

    def action_view_round(self, delta: int) -> None:
        """Step back (−1) or forward (+1) through the rounds; past the latest: live again."""
        self.browsing.view_round(delta)

    def action_step(self) -> None:
        """Reveal the next gate check (or draft the next round); stops fast-forward."""
        self.stepping.step()

    def action_finish_round(self) -> None:
        """Run to the end of the current round."""
        self.stepping.finish_round()

    def action_toggle_play(self) -> None:
        """Autoplay on or off."""
        self.stepping.toggle_play()

    def action_fast_forward(self) -> None:
        """Run the decode at engine speed, or stop."""
        self.stepping.fast_forward()

    def action_speed(self, delta: int) -> None:
        """Autoplay faster (+1) or slower (−1)."""
        self.stepping.speed(delta)

    def action_toggle_policy(self) -> None:
        """Cycle through the policies from the next round."""
        self.tuning.toggle_policy()

    def action_use_policy(self, name: str) -> None:
        """Use policy `name` from the next round."""
        self.tuning.use_policy(name)

    def action_span(self, delta: int) -> None:
        """Draft one token more or fewer per round."""
        self.tuning.span(delta)

    def action_settings(self) -> None:
        """Open the settings screen."""
        self.app.push_screen(SettingsScreen(self.state.config), self.tuning.apply)

    def action_save_trace(self) -> None:
        """Save this decode as a trace for `spectui replay` (in a browser: download it)."""
        self.saving.save(self.app.deliver_text if self.app.is_web else None)

    def action_sweep(self) -> None:
        """Show the sweep's settings; enter on one restarts the decode with it."""
        if self.sweep is None:
            self.say("No sweep loaded: open one with spectui --sweep FILE.", "warning")
            return
        self.app.push_screen(SweepScreen(self.sweep), self.open_setting)

    def open_setting(self, config: DecodeConfig | None) -> None:
        """Decode the sweep's first prompt under `config` (None: the view was closed)."""
        self.sweeping.open_setting(self.sweep, config)

    def action_edit_prompt(self) -> None:
        """Edit the prompt; the decode restarts on it."""

        def restart_on(prompt: str | None) -> None:
            if prompt is not None:
                self.state.prompt = prompt
                self.action_restart()

        self.app.push_screen(PromptScreen(self.state.prompt, self.state.prompts), restart_on)

    def action_restart(self) -> None:
        """Restart the decode from the prompt with the current settings."""
        if self.state.loading_models():
            self.say("The models are still loading; restart once they are.", "warning")
            return
        self.query_one(StatusLine).clear()  # what it said of the old run's rounds no longer holds
        self.start_run(self.state.retry_round())

    def action_toggle_marks(self) -> None:
        """Write each token's kind into the stream's text, or stop."""
        self.browsing.toggle_marks()

    def action_copy_output(self) -> None:
        """Copy the committed text (prompt and output, no drafts that did not join it)."""
        self.saving.copy_output(self.app.copy_to_clipboard)

    def action_help(self) -> None:
        """List every key."""
        offered = offered_bindings(self.BINDINGS, self.check_action, in_browser=self.app.is_web)
        self.app.push_screen(HelpScreen(offered))

    async def action_quit(self) -> None:
        """Quit."""
        self.state.control.stop()
        self.app.exit()

    def action_branch(self) -> None:
        """Go back to the start of the viewed round and continue under the current settings."""
        self.stepping.branch()

    def action_compare(self) -> None:
        """Decode the prompt under the compared policies side by side."""
        state = self.state
        if state.pair is None:
            self.say("The models are still loading; compare once they are.", "warning")
            return
        if state.playing:
            self.action_toggle_play()
        max_new_tokens = state.config.max_new_tokens or CompareScreen.DEFAULT_TOKENS
        self.app.push_screen(CompareScreen(state.pair, state.config, state.prompt, max_new_tokens))
