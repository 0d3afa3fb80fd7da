"""The `c` screen: the prompt decoded under two or more policies, side by side.

The policies are the app's `--compare` list: greedy-exact (the reference) and soft-guarded
unless it names others. A thread worker runs the engine's `compare_policies` (one decode per
policy and one verifier pass over each output) and posts the result; the screen gives each
policy a column, marks where an output differs from the reference's (underlined, and ▶
before the first divergence, so it reads without colour) and sums up what each policy costs:
tokens off the verifier's argmax, and the verifier's log-likelihood of each output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from spectui.app import messages
from spectui.app.format import drafting_words, flowing
from spectui.app.launch import launch_of
from spectui.app.looks.catalog import looks_of
from spectui.app.widgets import StatusHeader
from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.errors import SpectuiError
from spectui.engine.policy.registry import policy_label
from spectui.engine.text import StreamText

if TYPE_CHECKING:
    from spectui.engine.compare import PolicyComparison, ScoredOutput
    from spectui.engine.models.loading import ModelPair

DIFFERS_STYLE = "underline bold yellow"  # a token where this output and the reference's part
DIVERGENCE_MARK = "▶"
WIDE = 100  # columns from which the outputs sit side by side


class CompareScreen(Screen[None]):
    """Each compared policy's output of one prompt, divergences and costs."""

    DEFAULT_TOKENS = 48  # tokens per output when the decode has no max_new_tokens
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        # As on the decode screen, ? and q come first: q quits spectui from here too.
        Binding("question_mark", "help", "Help", key_display="?", tooltip="All keys", id="help"),
        Binding("q", "quit", "Quit", tooltip="Quit spectui", id="quit"),
        Binding(
            "escape,c",
            "close",
            "Close",
            key_display="esc",
            tooltip="Back to the decode",
            id="close_compare",
        ),
    ]
    DEFAULT_CSS = """
    CompareScreen #compare-sides { height: 1fr; }
    CompareScreen.-narrow #compare-sides { layout: vertical; }
    CompareScreen .compare-side { width: 1fr; height: 1fr; }
    CompareScreen #compare-summary { height: auto; }
    """

    def __init__(
        self,
        pair: ModelPair,
        config: DecodeConfig,
        prompt: str,
        max_new_tokens: int,
        policies: Sequence[str] | None = None,
    ) -> None:
        """`policies`: the reference first; None: the app's --compare list (else COMPARED)."""
        super().__init__()
        self.pair = pair
        self.config = config
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.policies: tuple[str, ...] = tuple(policies or ())  # () until compose asks the app
        self.comparison: PolicyComparison | None = None
        self.error: str | None = None
        self._worker: Worker[None] | None = None
        self._settled = asyncio.Event()

    def compose(self) -> ComposeResult:
        if not self.policies:
            # The decode screen opens this screen knowing nothing of --compare: the app holds it.
            self.policies = launch_of(self.app).compared_policies
        yield StatusHeader()
        with Horizontal(id="compare-sides"):
            for policy in self.policies:
                with VerticalScroll(id=f"{policy}-side", classes="panel compare-side") as side:
                    side.border_title = policy_label(policy)
                    yield Static(id=f"{policy}-text")
        yield Static(id="compare-summary", classes="panel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        config = self.config
        # The compared policies' own gates, as their looks state them (soft's by default).
        gates = [gate.rule(config) for name in self.policies for gate in looks_of(name).gates]
        shown = ["compare", drafting_words(config), *gates, f"{self.max_new_tokens} tokens"]
        self.query_one(StatusHeader).show(" · ".join(shown))
        others = [policy_label(policy) for policy in self.policies[1:]]
        summary = self.query_one("#compare-summary", Static)
        listed = " and ".join([", ".join(others[:-1]), others[-1]] if len(others) > 2 else others)
        summary.border_title = f"what {listed} cost{'s' if len(others) == 1 else ''}"
        every = "both" if len(self.policies) == 2 else f"all {len(self.policies)}"
        summary.update(Text(f"⏳ decoding under {every} policies…", style="dim"))
        self.done: dict[str, int] = {}  # tokens decoded per policy so far (progress)
        self._worker = self.run_comparison(
            self.pair, self.config, self.prompt, self.max_new_tokens, self.policies
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare", name="compare")
    def run_comparison(
        self,
        pair: ModelPair,
        config: DecodeConfig,
        prompt: str,
        max_new_tokens: int,
        policies: tuple[str, ...],
    ) -> None:
        """Decode under every policy and score every output, in this thread."""
        from spectui.engine.compare import compare_policies

        def progress(policy: str, output_ids: tuple[int, ...], total: int) -> None:
            text = pair.tokenizer.decode(list(output_ids), skip_special_tokens=False)
            self.post_message(messages.ComparisonProgress(policy, output_ids, text, total))

        result = compare_policies(pair, config, prompt, max_new_tokens, policies, progress)

        def texts(output_ids: tuple[int, ...]) -> tuple[str, ...]:
            """Each token's share of the output's text, as the decode screen's stream cuts it."""
            stream = StreamText(lambda ids: pair.tokenizer.decode(ids, skip_special_tokens=False))
            return tuple(stream.add(token) for token in output_ids)

        side_texts = tuple(texts(side.output_ids) for side in result.sides)
        self.post_message(messages.ComparisonReady(result, side_texts))

    def on_comparison_progress(self, message: messages.ComparisonProgress) -> None:
        """Each policy's output as it comes, in its column, and how far each decode has got,
        in the summary panel, until the result (marked and scored) replaces them."""
        if self.comparison is not None:
            return
        self.done[message.policy] = message.tokens
        side = self.query_one(f"#{message.policy}-side", VerticalScroll)
        side.border_subtitle = f"{message.tokens}/{message.total} tokens so far"
        so_far = Text(self.prompt, style="dim")
        so_far.append(flowing(message.text) if message.text else "")
        self.query_one(f"#{message.policy}-text", Static).update(so_far)
        parts = []
        for number, policy in enumerate(self.policies, start=1):
            tokens = self.done.get(policy)
            state = "waiting" if tokens is None else f"{tokens}/{message.total} tokens"
            if tokens is not None and tokens >= message.total:
                state += " ✓"
            parts.append(f"{number}. {policy_label(policy)}: {state}")
        self.query_one("#compare-summary", Static).update(
            Text("⏳ decoding · " + " · ".join(parts), style="dim")
        )

    def action_help(self) -> None:
        """The keys of this view."""
        from spectui.app.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        """Quit spectui."""
        self.app.exit()

    def on_comparison_ready(self, message: messages.ComparisonReady) -> None:
        comparison: PolicyComparison = message.comparison
        self.comparison = comparison
        for index, (side, texts) in enumerate(zip(comparison.sides, message.texts, strict=True)):
            # The reference's tokens are marked wherever any other output leaves it.
            differing = comparison.differing_anywhere if index == 0 else comparison.differing[index]
            panel = self.query_one(f"#{side.policy}-side", VerticalScroll)
            panel.border_subtitle = (
                f"{len(side.output_ids)} tokens · {len(side.off_argmax)} off the verifier's argmax"
            )
            self.query_one(f"#{side.policy}-text", Static).update(
                self._output_text(texts, set(differing), differing[0] if differing else None)
            )
        self.query_one("#compare-summary", Static).update(summary(comparison))
        self._settled.set()

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, (SpectuiError, ConfigError)):
            self.error = str(error)
        else:
            self.error = f"{type(error).__name__}: {error} (this looks like a bug in spectui)"
        summary_panel = self.query_one("#compare-summary", Static)
        summary_panel.border_title = "error"
        summary_panel.update(Text(f"{self.error}\n\nesc back to the decode"))
        self.app.bell()
        self._settled.set()

    async def settled(self, timeout: float = 60.0) -> None:
        """Wait until the comparison (or its error) is on screen (tests)."""
        await asyncio.wait_for(self._settled.wait(), timeout)

    def _output_text(self, texts: tuple[str, ...], differing: set[int], first: int | None) -> Text:
        text = Text(self.prompt, style="dim")
        for position, token in enumerate(texts):
            if position == first:
                text.append(DIVERGENCE_MARK, style="bold")
            style = DIFFERS_STYLE if position in differing else ""
            text.append(flowing(token), style=style)
        return text

    def action_close(self) -> None:
        """Back to the decode."""
        self.workers.cancel_group(self, "compare")
        self.dismiss()


def summary(comparison: PolicyComparison) -> Group:
    """Where the outputs part, and the cost table: off-argmax tokens, log-likelihoods, speed."""
    sides = comparison.sides
    table = Table(box=None, padding=(0, 2, 0, 0), show_header=True, header_style="bold")
    table.add_column("", no_wrap=True)
    for side in sides:
        table.add_column(policy_label(side.policy), no_wrap=True)
    if len(sides) > 2:  # with two, the heading says it all
        label = policy_label(comparison.reference.policy)
        n = max(len(side.output_ids) for side in sides)
        table.add_row(
            f"differs from {label}",
            *(_differs(differing, n) for differing in comparison.differing),
        )
    table.add_row("off verifier argmax", *(_off(side) for side in sides))
    table.add_row("log-likelihood", *(_likelihood(side) for side in sides))
    table.add_row("draft acc. · α per token", *(_acceptance(side) for side in sides))
    table.add_row("τ · verifier passes", *(_speed(side) for side in sides))
    return Group(_heading(comparison), table)


def _heading(comparison: PolicyComparison) -> Text:
    """The first divergence from the reference, and how many positions any output differs at."""
    first = comparison.first_divergence
    n = max(len(side.output_ids) for side in comparison.sides)
    if first is None:
        several = "two" if len(comparison.sides) == 2 else f"{len(comparison.sides)}"
        return Text(f"The {several} outputs are identical.", style="bold")
    against = (
        "" if len(comparison.sides) == 2 else f" from {policy_label(comparison.reference.policy)}"
    )
    return Text.assemble(
        (f"{DIVERGENCE_MARK} first divergence{against} at token {first + 1}", "bold"),
        f" · {len(comparison.differing_anywhere)}/{n} positions differ ",
        ("(underlined)", DIFFERS_STYLE),
    )


def _differs(differing: tuple[int, ...], n: int) -> str:
    if not differing:
        return "—"
    return f"{len(differing)}/{n} from token {differing[0] + 1}"


def _off(side: ScoredOutput) -> str:
    return f"{len(side.off_argmax)}/{len(side.output_ids)} tokens"


def _likelihood(side: ScoredOutput) -> str:
    return f"{side.log_likelihood:.2f} ({side.mean_log_likelihood:.3f}/token)"


def _acceptance(side: ScoredOutput) -> str:
    return f"{side.stats.draft_acceptance_rate:.2f} · {side.stats.alpha:.2f}"


def _speed(side: ScoredOutput) -> str:
    return f"{side.stats.tokens_per_round:.2f} · {side.stats.verifier_forwards}"
