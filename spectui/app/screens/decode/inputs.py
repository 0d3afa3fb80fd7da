"""What the decode screen's reducer takes besides the engine worker's messages: its keys, the
answers of the screens it opened, and the outcomes of effects that report back.

Each is a small frozen record; the screen turns a key's action (or a callback) into one and
hands it to `reduce` (reduce.py). The worker's own messages (`messages.EngineMessage`) are
taken as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.sweep.file import Sweep

# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mounted:
    """The screen is on: the first run starts."""


@dataclass(frozen=True)
class Unmounted:
    """The screen is going: the run stops, and --trace FILE is saved."""


@dataclass(frozen=True)
class WorkerEnded:
    """The run's worker returned (`failed`: on `error`, which the error panel shows)."""

    failed: bool
    error: BaseException | None = None


@dataclass(frozen=True)
class KeyPressed:
    """Any key, before its action: the last message clears (`sweep`: one was opened)."""

    key: str
    sweep: bool


# --- browsing: what the reader looks at ---------------------------------------------------------


@dataclass(frozen=True)
class Select:
    """←/→: the previous (−1) or next (+1) token of the stream."""

    delta: int


@dataclass(frozen=True)
class SelectFirst:
    """home: the first generated token."""


@dataclass(frozen=True)
class SelectToken:
    """A token of `pieces()` picked directly (None: follow the latest check)."""

    index: int | None


@dataclass(frozen=True)
class Live:
    """esc: follow the latest check again."""


@dataclass(frozen=True)
class NodeSelected:
    """The tree panel's cursor came to a node (`following`: moved by the walk, not a key)."""

    node_id: int
    following: bool


@dataclass(frozen=True)
class ViewRound:
    """b/n: back (−1) or forward (+1) through the rounds."""

    delta: int


@dataclass(frozen=True)
class ToggleMarks:
    """m: write each token's kind into the stream's text, or stop."""


# --- stepping: requests to the worker -----------------------------------------------------------


@dataclass(frozen=True)
class StepKey:
    """space: the next gate check (or the next round's drafts)."""


@dataclass(frozen=True)
class FinishRoundKey:
    """enter: to the end of the round."""


@dataclass(frozen=True)
class TogglePlay:
    """p: autoplay on or off."""


@dataclass(frozen=True)
class FastForwardKey:
    """f: engine speed on or off."""


@dataclass(frozen=True)
class Speed:
    """+/-: autoplay faster (+1) or slower (−1)."""

    delta: int


@dataclass(frozen=True)
class BranchKey:
    """B: back to the start of the viewed round, under the current settings."""


# --- tuning: the next round's settings ------------------------------------------------------------


@dataclass(frozen=True)
class TogglePolicy:
    """t: the next policy, from the next round."""


@dataclass(frozen=True)
class UsePolicy:
    """A policy named in the palette, from the next round."""

    name: str


@dataclass(frozen=True)
class Span:
    """[ and ]: one draft token fewer (−1) or more (+1) per round."""

    delta: int


@dataclass(frozen=True)
class OpenSettings:
    """s: the settings form."""


@dataclass(frozen=True)
class SettingsClosed:
    """The settings form's changes (None or empty: cancelled)."""

    changes: dict[str, Any] | None


@dataclass(frozen=True)
class Retuned:
    """The step control took a retune: from round `first_round` (None: the decode ended)."""

    summary: str
    first_round: int | None


# --- saving -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveTrace:
    """w: save the trace (`in_browser`: hand it to the visitor's browser instead)."""

    in_browser: bool


@dataclass(frozen=True)
class TraceWritten:
    """A save's outcome: `where` it went, or the `error` that stopped it."""

    where: str | None
    error: str | None
    what: str  # "3 rounds", or "the whole trace, 3 rounds," of a replay
    ended: str  # "" or " (the decode goes on)"
    download: bool  # sent to the browser rather than written here
    on_exit: bool  # the save as the app closes: a failure is kept for the command


@dataclass(frozen=True)
class CopyOutput:
    """y: copy the committed text."""


# --- the prompt, restarts, other screens ----------------------------------------------------------


@dataclass(frozen=True)
class EditPrompt:
    """e: the prompt editor."""


@dataclass(frozen=True)
class PromptEdited:
    """The prompt editor's answer (None: cancelled); the decode restarts on it."""

    prompt: str | None


@dataclass(frozen=True)
class Restart:
    """ctrl+r: the decode again from the prompt (after an error: a retry)."""


@dataclass(frozen=True)
class OpenSweep:
    """v: the sweep's settings (`sweep`: the one opened, if any)."""

    sweep: Sweep | None


@dataclass(frozen=True)
class SweepRowChosen:
    """enter on a sweep row: decode the sweep's first prompt under `config` (None: closed)."""

    sweep: Sweep | None
    config: DecodeConfig | None


@dataclass(frozen=True)
class Compare:
    """c: the compared policies side by side."""


@dataclass(frozen=True)
class Help:
    """?: every key this session offers (`in_browser`: as a browser visit offers them)."""

    sweep: bool
    in_browser: bool


@dataclass(frozen=True)
class Quit:
    """q: the run stops and the app exits."""


Input: TypeAlias = (
    Mounted
    | Unmounted
    | WorkerEnded
    | KeyPressed
    | Select
    | SelectFirst
    | SelectToken
    | Live
    | NodeSelected
    | ViewRound
    | ToggleMarks
    | StepKey
    | FinishRoundKey
    | TogglePlay
    | FastForwardKey
    | Speed
    | BranchKey
    | TogglePolicy
    | UsePolicy
    | Span
    | OpenSettings
    | SettingsClosed
    | Retuned
    | SaveTrace
    | TraceWritten
    | CopyOutput
    | EditPrompt
    | PromptEdited
    | Restart
    | OpenSweep
    | SweepRowChosen
    | Compare
    | Help
    | Quit
)
