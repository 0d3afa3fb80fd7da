"""What a transition of the decode screen asks to be done, as data: the screen carries each out
in one place (`DecodeScreen.carry_out`), in order.

Three kinds: requests to the step control (and so to the worker), the screen's own doings
(start a worker, write a file, copy, open a screen, say, repaint), and ends (bell, exit). An
effect whose outcome the state needs (a retune's first round, a save's path) reports back as an
input (inputs.py), which the reducer takes like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from pathlib import Path

    from textual.binding import BindingType

    from spectui.app.control import StepControl
    from spectui.app.screens.decode.state import RunOrder
    from spectui.engine.config import DecodeConfig
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.sweep.file import Sweep
    from spectui.engine.trace.log import EventLog

Severity = Literal["information", "warning", "error"]

# --- requests to the run's step control (the control in the state the transition returned) ----


@dataclass(frozen=True)
class Step:
    """Let the worker pass one stop."""


@dataclass(frozen=True)
class FinishRound:
    """Let the worker run to the end of the round."""


@dataclass(frozen=True)
class SetPlaying:
    """Autoplay on or off."""

    on: bool


@dataclass(frozen=True)
class SetFastForward:
    """Engine speed on or off (off also stops autoplay)."""

    on: bool


@dataclass(frozen=True)
class SetSpeed:
    """Autoplay's speed, an index into SPEEDS (the control clamps it)."""

    speed: int


@dataclass(frozen=True)
class Branch:
    """Rewind to the start of `round`, then go on under `config`."""

    round: int
    config: DecodeConfig


@dataclass(frozen=True)
class Retune:
    """Hand the worker `config` for its next round; with a `summary`, the round it takes effect
    from comes back as `inputs.Retuned` (None: nothing is said)."""

    config: DecodeConfig
    summary: str | None = None


@dataclass(frozen=True)
class Received:
    """The screen took one fast-forward batch off its queue."""


@dataclass(frozen=True)
class HoldForKey:
    """A key was pressed: at engine speed the worker yields while its repaint is drawn."""


ControlRequest: TypeAlias = (
    Step
    | FinishRound
    | SetPlaying
    | SetFastForward
    | SetSpeed
    | Branch
    | Retune
    | Received
    | HoldForKey
)

# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndRun:
    """Stop `control`'s worker at its next stop (a run replaced, or the screen going)."""

    control: StepControl


@dataclass(frozen=True)
class StopSession:
    """Stop what the session has under way (a download stops at its next chunk)."""


@dataclass(frozen=True)
class StartWorker:
    """Start the engine worker on `order` (the previous one, if any, is replaced)."""

    order: RunOrder


# --- files and the clipboard -------------------------------------------------------------------


@dataclass(frozen=True)
class WriteTrace:
    """Write `log` as a trace to `path` (None: a new file in the current directory), or with
    `download` hand it to the visitor's browser; the outcome comes back as `TraceWritten`."""

    path: Path | None
    log: EventLog
    what: str
    ended: str
    download: bool = False
    on_exit: bool = False


@dataclass(frozen=True)
class Copy:
    """Put `text` on the clipboard."""

    text: str


# --- other screens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsDialog:
    """The settings form on `config`; its answer comes back as `SettingsClosed`."""

    config: DecodeConfig


@dataclass(frozen=True)
class SweepDialog:
    """The sweep's table; enter on a row comes back as `SweepRowChosen`."""

    sweep: Sweep


@dataclass(frozen=True)
class PromptDialog:
    """The prompt editor; its answer comes back as `PromptEdited`."""

    prompt: str
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class CompareDialog:
    """The prompt decoded under the compared policies side by side."""

    pair: ModelPair
    config: DecodeConfig
    prompt: str
    max_new_tokens: int


@dataclass(frozen=True)
class HelpDialog:
    """The keys this session offers, each with what it does."""

    offered: tuple[BindingType, ...]


Dialog: TypeAlias = SettingsDialog | SweepDialog | PromptDialog | CompareDialog | HelpDialog


@dataclass(frozen=True)
class Open:
    """Push `dialog`'s screen over this one."""

    dialog: Dialog


# --- what is on screen --------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """A decode message in the status line, instead of the one before."""

    text: str
    severity: Severity = "information"


@dataclass(frozen=True)
class ClearStatus:
    """The status line's message goes (the next key's action may say a new one)."""


@dataclass(frozen=True)
class Repaint:
    """Redraw the panels whose inputs changed (`force`: all of them)."""

    force: bool = False


@dataclass(frozen=True)
class RepaintHeader:
    """Redraw the header (policy, round, what the engine is doing)."""


@dataclass(frozen=True)
class RepaintSoon:
    """Redraw once the queued messages are handled (`counted`: engine events in them)."""

    counted: int


@dataclass(frozen=True)
class RefreshKeys:
    """The phase or autoplay may have changed: the Footer's keys follow."""


@dataclass(frozen=True)
class ScrollToEnd:
    """Back to live: the stream follows its end again."""


@dataclass(frozen=True)
class ForgetRun:
    """A new run: nothing of the old one is left to draw."""


@dataclass(frozen=True)
class Bell:
    """Ring the terminal's bell."""


@dataclass(frozen=True)
class Exit:
    """End the app with `code` (2: the models never loaded, reported as `spectui run` does)."""

    code: int = 0


Effect: TypeAlias = (
    ControlRequest
    | EndRun
    | StopSession
    | StartWorker
    | WriteTrace
    | Copy
    | Open
    | Say
    | ClearStatus
    | Repaint
    | RepaintHeader
    | RepaintSoon
    | RefreshKeys
    | ScrollToEnd
    | ForgetRun
    | Bell
    | Exit
)
