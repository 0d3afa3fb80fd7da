"""The `?` screen: every key, the stream's legend, and the formulas the panels show."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from spectui.app.format import PIECE_NAMES, PIECE_STYLES
from spectui.app.keys import describe, key_names
from spectui.app.looks.catalog import looks_of
from spectui.app.rounds import PieceKind
from spectui.app.screens.dialog import Dialog
from spectui.app.widgets.stats_panel import DEFINITIONS
from spectui.engine.policy.registry import POLICIES

# Each paragraph is one string with no line breaks: the help screen wraps it to its width.
# (title, paragraphs), one section per panel; the keys come from BINDINGS, the policies from
# their records.
SECTIONS: list[tuple[str, list[str]]] = [
    (
        "tokens",
        [
            "Each round the drafter proposes k tokens; the verifier scores all of them in one "
            "forward pass; the active policy accepts them left to right and stops at the first "
            "rejection, where the verifier's own token is appended instead (the correction).",
            "b / n step back and forward through earlier rounds (their drafts and gate checks; "
            "the round's tokens sit between ⟦ ⟧ in the stream). B branches: the decode goes "
            "back to the start of the viewed round and continues under the current policy and "
            "settings (pick them first), exactly as if they had been switched on live there.",
        ],
    ),
    (
        "gates",
        [
            "The gate panel shows each policy's own columns for its rounds (speculative-"
            "sampling: p/q = min(1, p/q) and the draw u). t cycles through the policies (also "
            "in settings and ctrl+p); settings and the policy change from the next round on, "
            "and the gate panel shows every policy's verdict.",
        ],
    ),
    (
        "detail",
        [
            "q: drafter's probability of its token · p: verifier's · p₁: verifier's top-1 · "
            "Δ = p₁ − p.",
        ],
    ),
]
# After the stats' definitions: what the compare key shows.
AFTER_STATS: list[tuple[str, list[str]]] = [
    (
        "compare (the c key)",
        [
            "c compares greedy-exact and soft-guarded on the prompt: the outputs side by side, "
            "where they part (underlined, ▶ at the first divergence), the soft output's tokens "
            "that are not the verifier's argmax, and the verifier's log-likelihood of each.",
        ],
    ),
]


class HelpScreen(Dialog[None]):
    """Keys, legend and formulas."""

    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", key_display="esc"),
    ]

    def __init__(self, bindings: Iterable[BindingType]) -> None:
        super().__init__()
        self.bindings = [b for b in bindings if isinstance(b, Binding)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="dialog") as body:
            body.border_title = "spectui keys"
            body.border_subtitle = "esc close"
            yield Static(_heading("keys"))
            yield Static(keys_table(self.bindings))
            yield Static(_legend())
            yield Static(_heading("policies"))
            yield Static(_policies_table())
            yield from _sections(SECTIONS)
            yield Static(_heading("stats (each cell's figures)"))
            yield Static(_definitions_table(), classes="help-paragraph")
            yield from _sections(AFTER_STATS)

    def action_close(self) -> None:
        """Close help."""
        self.close()


def _sections(sections: list[tuple[str, list[str]]]) -> ComposeResult:
    for title, paragraphs in sections:
        yield Static(_heading(title))
        for paragraph in paragraphs:
            yield Static(Text(paragraph), classes="help-paragraph")


def _heading(title: str) -> Text:
    return Text(title, style="bold underline")


def _policies_table() -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0), show_header=False)
    table.add_column(no_wrap=True)
    table.add_column()
    for policy in POLICIES:
        table.add_row(policy.label, looks_of(policy.name).summary + ".")
    return table


def _definitions_table() -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0), show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, definition in DEFINITIONS.items():
        table.add_row(label, definition + ".")
    return table


def keys_table(bindings: list[Binding]) -> Table:
    """Each key and what it does, and the command palette's key (every help screen's)."""
    table = Table(box=None, padding=(0, 2, 0, 0), show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for binding in bindings:
        table.add_row(key_names(binding), describe(binding))
    table.add_row("ctrl+p", "command palette: every action by name")
    return table


def _legend() -> Text:
    text = Text("\nstream  ", style="bold")
    text.append("prompt", style="")
    for number, kind in enumerate(PieceKind):
        text.append("\n        " if number == 3 else "  ")
        text.append(PIECE_NAMES[kind], style=PIECE_STYLES[kind])
    text.append(
        "\n        accepted draft: underline · correction: bold · bonus: bold underline"
        "\n        rejected: bold, struck out · discarded: italic, struck out · pending: italic"
        "\n        gates ✓ pass / ✗ fail · ▸ marks the active policy · ▶ the shown row\n"
    )
    return text
