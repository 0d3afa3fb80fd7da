"""The decode screen: its widgets, its engine worker, and the one loop its state changes by.

A key's action, an answer of a screen it opened, or a worker message becomes an input; `reduce`
(reduce.py) gives the new state and the effects, which `carry_out` does, in order, here and
nowhere else (the painter, painter.py, carries out the repaints). Saving a trace writes the
log, a branch truncates it, and a replay is this same screen over a trace session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from spectui.app import costs, messages, precision
from spectui.app.driver import drive
from spectui.app.keys import DECODE_BINDINGS, footer_keys
from spectui.app.launch import launch_of
from spectui.app.screens.compare import CompareScreen
from spectui.app.screens.decode import effects, files, inputs
from spectui.app.screens.decode.painter import Painter
from spectui.app.screens.decode.reduce import reduce
from spectui.app.screens.decode.state import RunOrder, ScreenState
from spectui.app.screens.decode.view_model import WIDE
from spectui.app.screens.help import HelpScreen
from spectui.app.screens.prompt import PromptScreen
from spectui.app.screens.settings import SettingsScreen
from spectui.app.screens.sweep import SweepScreen
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

if TYPE_CHECKING:
    from spectui.engine.sweep.file import Sweep
    from spectui.engine.trace.source import EventSource

T = TypeVar("T")  # what a pushed screen answers


class DecodeScreen(Screen[None]):
    """Step through a speculative decode one gate check at a time."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = DECODE_BINDINGS
    AUTO_FOCUS = None  # the screen's keys work without a focus; tab moves into the tree

    def __init__(
        self,
        config: DecodeConfig,
        prompt: str,
        prompts: Sequence[str],
        timings: bool = True,
        trace_path: Path | None = None,
        session: Session | None = None,
        text_marks: bool = False,
    ) -> None:
        super().__init__()
        # What the screen knows; replaced, never changed, by `dispatch` (the app, the command
        # and the tests read it here).
        self.state = ScreenState(
            session or LiveSession(),
            config,
            prompt,
            tuple(prompts),
            timings,
            trace_path,
            text_marks,
        )
        self.painter = Painter(self, lambda: self.state)
        self._settled = asyncio.Event()  # set while the worker has caught up (`settled`)
        self._worker: Worker[None] | None = None

    @property
    def status_text(self) -> str:
        """What the header says after "spectui — "."""
        return self.painter.status_text

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
        self.dispatch(inputs.Mounted())

    def on_unmount(self) -> None:
        self.dispatch(inputs.Unmounted())

    def on_resize(self) -> None:
        self.painter.resized()

    # --- the one loop: an input in, a new state and its effects out -----------------------------

    def dispatch(self, given: inputs.Input | messages.EngineMessage) -> None:
        """Take `given` into the state and carry out what it asks for."""
        before = self.state
        self.state, asked = reduce(before, given)
        if self.state.busy != before.busy:  # `settled` waits for the worker to catch up
            if self.state.busy:
                self._settled.clear()
            else:
                self._settled.set()
        for effect in asked:
            self.carry_out(effect)

    def carry_out(self, effect: effects.Effect) -> None:
        """Do one effect (one that reports back dispatches its outcome)."""
        control, painter = self.state.control, self.painter
        match effect:
            case effects.Step():
                control.step()
            case effects.FinishRound():
                control.finish_round()
            case effects.SetPlaying(on=on):
                control.set_playing(on)
            case effects.SetFastForward(on=on):
                control.fast_forward(on)
            case effects.SetSpeed(speed=speed):
                control.set_speed(speed)
            case effects.Branch(round=round_index, config=config):
                control.branch(round_index, config)
            case effects.Retune(config=config, summary=summary):
                first_round = control.retune(config)
                if summary is not None:
                    self.dispatch(inputs.Retuned(summary, first_round))
            case effects.Received():
                control.received()
            case effects.HoldForKey():
                control.hold_for_key()
            case effects.EndRun(control=ended):
                ended.stop()
            case effects.StopSession():
                self.state.session.stop()  # a download under way stops at its next chunk
            case effects.StartWorker(order=order):
                self._worker = self.drive_engine(order)
            case effects.WriteTrace():
                self.dispatch(files.carry_out(effect, self.app.deliver_text))
            case effects.Copy(text=text):
                self.app.copy_to_clipboard(text)
            case effects.Open(dialog=dialog):
                self.open(dialog)
            case effects.Say(text=text, severity=severity):
                painter.say(text, severity)
            case effects.ClearStatus():
                self.query_one(StatusLine).clear()
            case effects.Repaint(force=force):
                painter.refresh_view(force=force)
            case effects.RepaintHeader():
                painter.refresh_header()
            case effects.RepaintSoon(counted=counted):
                painter.redraw_soon(counted)
            case effects.RefreshKeys():
                self.refresh_bindings()
            case effects.ScrollToEnd():
                painter.scroll_to_end()
            case effects.ForgetRun():
                painter.reset()
            case effects.Bell():
                self.app.bell()
            case effects.Exit(code=code):
                self.app.exit(return_code=code)

    def open(self, dialog: effects.Dialog) -> None:
        """Push `dialog`'s screen; its answer, if any, comes back as an input."""
        match dialog:
            case effects.SettingsDialog(config=config):
                self.app.push_screen(SettingsScreen(config), self.answer(inputs.SettingsClosed))
            case effects.SweepDialog(sweep=sweep):
                self.app.push_screen(SweepScreen(sweep), self.open_setting)
            case effects.PromptDialog(prompt=prompt, prompts=prompts):
                edited = self.answer(inputs.PromptEdited)
                self.app.push_screen(PromptScreen(prompt, prompts), edited)
            case effects.CompareDialog(pair, config, prompt, max_new_tokens):
                self.app.push_screen(CompareScreen(pair, config, prompt, max_new_tokens))
            case effects.HelpDialog(offered=offered):
                # and the app's own shown keys (an observed request's r: back to the requests)
                own = [b for b in self.app.BINDINGS if isinstance(b, Binding) and b.show]
                self.app.push_screen(HelpScreen([*offered, *own]))

    def answer(self, given: Callable[[T], inputs.Input]) -> Callable[[T], None]:
        """A pushed screen's callback: its answer, as an input."""
        return lambda value: self.dispatch(given(value))

    def open_setting(self, config: DecodeConfig | None) -> None:
        """Decode the sweep's first prompt under `config` (None: the view was closed)."""
        self.dispatch(inputs.SweepRowChosen(self.sweep, config))

    # --- the status line ----------------------------------------------------------------------

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show a decode message in the status line, instead of the one before."""
        self.painter.say(text, severity)

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

    # --- keys --------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        self.dispatch(inputs.KeyPressed(event.key, self.sweep is not None))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.state.offers(action, sweep=self.sweep is not None)

    # --- the engine worker -------------------------------------------------------------------

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

        timer = [costs.CostTimer(post, run, order.timed_costs).ensure] if order.timings else []
        checks = [*timer, precision.PrecisionCheck(post, run).ensure]
        drive(post, order.control, run, open_source, order.resume_at, before_round=checks)

    @on(messages.EngineMessage)
    def engine_message(self, message: messages.EngineMessage) -> None:
        self.dispatch(message)

    @on(messages.TreeNodeSelected)
    def tree_node_selected(self, message: messages.TreeNodeSelected) -> None:
        self.dispatch(inputs.NodeSelected(message.node_id, message.following))

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        if event.state is WorkerState.ERROR:
            self.dispatch(inputs.WorkerEnded(failed=True, error=event.worker.error))
        elif event.state in (WorkerState.SUCCESS, WorkerState.CANCELLED):
            self.dispatch(inputs.WorkerEnded(failed=False))

    async def settled(self, timeout: float = 60.0) -> None:
        """Wait until the worker has done all that was asked and the screen shows it (tests)."""
        await asyncio.wait_for(self._settled.wait(), timeout)
        await self.painter.drawn()

    # --- actions: each key's, as an input ---------------------------------------------------------

    def action_select(self, delta: int) -> None:
        """Select the previous/next token of the stream."""
        self.dispatch(inputs.Select(delta))

    def action_select_first(self) -> None:
        """Select the first generated token."""
        self.dispatch(inputs.SelectFirst())

    def action_live(self) -> None:
        """Stop selecting: follow the latest check again (out of the tree, if in it)."""
        self.set_focus(None)
        self.query_one(TokenTree).action_follow()
        self.dispatch(inputs.Live())

    def action_focus_tree(self) -> None:
        """Into the round's token tree, where the arrows move across its nodes; again: out."""
        tree = self.query_one(TokenTree)
        self.set_focus(None if tree.has_focus else tree)

    def action_view_round(self, delta: int) -> None:
        """Step back (−1) or forward (+1) through the rounds; past the latest: live again."""
        self.dispatch(inputs.ViewRound(delta))

    def action_step(self) -> None:
        """Reveal the next gate check (or draft the next round); stops fast-forward."""
        self.dispatch(inputs.StepKey())

    def action_finish_round(self) -> None:
        """Run to the end of the current round."""
        self.dispatch(inputs.FinishRoundKey())

    def action_toggle_play(self) -> None:
        """Autoplay on or off."""
        self.dispatch(inputs.TogglePlay())

    def action_fast_forward(self) -> None:
        """Run the decode at engine speed, or stop."""
        self.dispatch(inputs.FastForwardKey())

    def action_speed(self, delta: int) -> None:
        """Autoplay faster (+1) or slower (−1)."""
        self.dispatch(inputs.Speed(delta))

    def action_toggle_policy(self) -> None:
        """Cycle through the policies from the next round."""
        self.dispatch(inputs.TogglePolicy())

    def action_use_policy(self, name: str) -> None:
        """Use policy `name` from the next round."""
        self.dispatch(inputs.UsePolicy(name))

    def action_span(self, delta: int) -> None:
        """Draft one token more or fewer per round."""
        self.dispatch(inputs.Span(delta))

    def action_settings(self) -> None:
        """Open the settings screen."""
        self.dispatch(inputs.OpenSettings())

    def action_save_trace(self) -> None:
        """Save this decode as a trace for `spectui replay` (in a browser: download it)."""
        self.dispatch(inputs.SaveTrace(in_browser=self.app.is_web))

    def action_sweep(self) -> None:
        """Show the sweep's settings; enter on one restarts the decode with it."""
        self.dispatch(inputs.OpenSweep(self.sweep))

    def action_edit_prompt(self) -> None:
        """Edit the prompt; the decode restarts on it."""
        self.dispatch(inputs.EditPrompt())

    def action_restart(self) -> None:
        """Restart the decode from the prompt with the current settings."""
        self.dispatch(inputs.Restart())

    def action_toggle_marks(self) -> None:
        """Write each token's kind into the stream's text, or stop."""
        self.dispatch(inputs.ToggleMarks())

    def action_copy_output(self) -> None:
        """Copy the committed text (prompt and output, no drafts that did not join it)."""
        self.dispatch(inputs.CopyOutput())

    def action_help(self) -> None:
        """List every key."""
        self.dispatch(inputs.Help(self.sweep is not None, in_browser=self.app.is_web))

    async def action_quit(self) -> None:
        """Quit."""
        self.dispatch(inputs.Quit())

    def action_branch(self) -> None:
        """Go back to the start of the viewed round and continue under the current settings."""
        self.dispatch(inputs.BranchKey())

    def action_compare(self) -> None:
        """Decode the prompt under the compared policies side by side."""
        self.dispatch(inputs.Compare())
