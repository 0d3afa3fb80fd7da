"""The observe screens' keys: `?` and `q` first on every one, and one help dialog for them.

The Footer, the help dialog and the command palette are all made from these bindings, so a
key is described once.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from spectui.app.screens.dialog import Dialog
from spectui.app.screens.help import keys_table

HELP = Binding("question_mark", "help", "Help", key_display="?", tooltip="All keys", id="help")
QUIT = Binding("q", "quit", "Quit", tooltip="Quit spectui", id="quit")
SAVE = Binding(
    "w",
    "save_trace",
    "Save trace",
    tooltip="Save the request's rebuilt decode as a trace (JSON Lines) that `spectui replay "
    "FILE` opens (only a request rebuilt with --verifier has one)",
    id="save_trace",
)
REQUESTS_BINDINGS: list[BindingType] = [
    HELP,
    QUIT,
    Binding(
        "enter",
        "open_request",
        "Open",
        tooltip="Open the highlighted request: the decode view of its rebuild, or what the "
        "server reported of it",
        id="open_request",
        priority=True,  # before the table's own enter, so the Footer names what it does
    ),
    SAVE,
]
REQUEST_BINDINGS: list[BindingType] = [
    HELP,
    QUIT,
    Binding(
        "escape,r",
        "close",
        "Requests",
        key_display="esc",
        tooltip="Back to the table of requests",
        id="requests",
    ),
    SAVE,
]
# The app's own key, for the decode screen a rebuilt request opens (its escape is "live").
BACK = Binding(
    "r", "requests", "Requests", tooltip="Back to the table of requests", id="back_to_requests"
)

# What the table's columns and the request's figures are (README, "Definitions").
COLUMNS_HELP = [
    "steps: verify steps after the prefill's token (a step that drafted nothing counts, where "
    "spectui could place it); drafted / accepted: draft tokens scored / kept.",
    "α drafted: accepted / drafted (vLLM's draft acceptance rate); α judged: accepted / judged, "
    "a step's drafts up to its first rejection (the α of Leviathan et al.).",
    "τ: tokens per step, the verifier's own token included; τ−1: accepted per step, without "
    "it. The table is sorted worst first: the lowest α per drafted token at the top.",
    "seen: what spectui rebuilt of the request: ✓ its rebuild is the server's every step, ✗ "
    "it differs (the request says where and why), server: only the server's counts.",
    "In a request: the stream by verify step, │ between steps: accepted drafts underlined, "
    "the verifier's token bold (a correction after a rejection, a bonus after all k), a "
    "rejected draft struck out where spectui rebuilt it, ✗n where only its count is known.",
]


class ObserveHelp(Dialog[None]):
    """The observe screen's keys, and what its figures are."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", key_display="esc")]

    def __init__(self, bindings: Iterable[BindingType]) -> None:
        super().__init__()
        self.bindings = [b for b in bindings if isinstance(b, Binding)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="dialog") as body:
            body.border_title = "spectui observe keys"
            body.border_subtitle = "esc close"
            yield Static(Text("keys", style="bold underline"))
            yield Static(keys_table(self.bindings))
            yield Static(Text("figures", style="bold underline"))
            for paragraph in COLUMNS_HELP:
                yield Static(Text(paragraph), classes="help-paragraph")

    def action_close(self) -> None:
        """Close help."""
        self.close()
