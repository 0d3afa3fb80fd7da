"""The `c` screen: the prompt decoded under greedy-exact and soft-guarded, side by side.

A thread worker runs the engine's `compare_policies` (two decodes and one verifier pass over
each output) and posts the result; the screen marks where the outputs differ (underlined,
and ▶ before the first divergence, so it reads without colour) and sums up what the soft
policy costs: tokens off the verifier's argmax, and the verifier's log-likelihood of each.
"""

from __future__ import annotations

import asyncio
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
from spectui.app.format import flowing
from spectui.app.widgets import StatusHeader
from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.errors import SpectuiError
from spectui.engine.policies import COMPARED, policy_label
from spectui.engine.text import StreamText

if TYPE_CHECKING:
    from spectui.engine.compare import PolicyComparison, ScoredOutput
    from spectui.engine.loading import ModelPair

DIFFERS_STYLE = "underline bold yellow"  # a token the other policy's output does not share
DIVERGENCE_MARK = "▶"
WIDE = 100  # columns from which the two outputs sit side by side


class CompareScreen(Screen[None]):
    """Greedy-exact and soft-guarded outputs of one prompt, divergences and costs."""

    DEFAULT_TOKENS = 48  # tokens per output when the decode has no max_new_tokens
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        Binding(
            "escape,q,c",
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
        self, pair: ModelPair, config: DecodeConfig, prompt: str, max_new_tokens: int
    ) -> None:
        super().__init__()
        self.pair = pair
        self.config = config
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.comparison: PolicyComparison | None = None
        self.error: str | None = None
        self._worker: Worker[None] | None = None
        self._settled = asyncio.Event()

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="compare-sides"):
            for policy in COMPARED:
                with VerticalScroll(id=f"{policy}-side", classes="panel compare-side") as side:
                    side.border_title = policy_label(policy)
                    yield Static(id=f"{policy}-text")
        yield Static(id="compare-summary", classes="panel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        config = self.config
        self.query_one(StatusHeader).show(
            f"compare · k={config.draft_span} · p≥{config.p_thresh:g} · top-{config.topk_gate}"
            f" · Δ≤{config.margin_gate:g} · n<{config.max_accept} · {self.max_new_tokens} tokens"
        )
        summary = self.query_one("#compare-summary", Static)
        summary.border_title = "what soft-guarded costs"
        summary.update(Text("⏳ decoding under both policies…", style="dim"))
        self._worker = self.run_comparison(self.pair, self.config, self.prompt, self.max_new_tokens)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare", name="compare")
    def run_comparison(
        self, pair: ModelPair, config: DecodeConfig, prompt: str, max_new_tokens: int
    ) -> None:
        """Decode under both policies and score both outputs, in this thread."""
        from spectui.engine.compare import compare_policies

        result = compare_policies(pair, config, prompt, max_new_tokens)

        def texts(output_ids: tuple[int, ...]) -> tuple[str, ...]:
            """Each token's share of the output's text, as the decode screen's stream cuts it."""
            stream = StreamText(lambda ids: pair.tokenizer.decode(ids, skip_special_tokens=False))
            return tuple(stream.add(token) for token in output_ids)

        self.post_message(
            messages.ComparisonReady(
                result, texts(result.greedy.output_ids), texts(result.soft.output_ids)
            )
        )

    def on_comparison_ready(self, message: messages.ComparisonReady) -> None:
        comparison: PolicyComparison = message.comparison
        self.comparison = comparison
        differing = set(comparison.differing)
        for side, texts in (
            (comparison.greedy, message.greedy_texts),
            (comparison.soft, message.soft_texts),
        ):
            panel = self.query_one(f"#{side.policy}-side", VerticalScroll)
            panel.border_subtitle = (
                f"{len(side.output_ids)} tokens · {len(side.off_argmax)} off the verifier's argmax"
            )
            self.query_one(f"#{side.policy}-text", Static).update(
                self._output_text(texts, differing, comparison.first_divergence)
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
    """Where the outputs part, and the cost table: off-argmax tokens, log-likelihoods, α."""
    first = comparison.first_divergence
    n = max(len(comparison.greedy.output_ids), len(comparison.soft.output_ids))
    if first is None:
        heading = Text("The two outputs are identical.", style="bold")
    else:
        heading = Text.assemble(
            (f"{DIVERGENCE_MARK} first divergence at token {first + 1}", "bold"),
            f" · {len(comparison.differing)}/{n} positions differ ",
            ("(underlined)", DIFFERS_STYLE),
        )
    table = Table(box=None, padding=(0, 2, 0, 0), show_header=True, header_style="bold")
    table.add_column("", no_wrap=True)
    for side in (comparison.greedy, comparison.soft):
        table.add_column(policy_label(side.policy), no_wrap=True)
    sides = (comparison.greedy, comparison.soft)
    table.add_row("off verifier argmax", *(_off(side) for side in sides))
    table.add_row("log-likelihood", *(_likelihood(side) for side in sides))
    table.add_row("α · verifier passes", *(_speed(side) for side in sides))
    return Group(heading, table)


def _off(side: ScoredOutput) -> str:
    return f"{len(side.off_argmax)}/{len(side.output_ids)} tokens"


def _likelihood(side: ScoredOutput) -> str:
    return f"{side.log_likelihood:.2f} ({side.mean_log_likelihood:.3f}/token)"


def _speed(side: ScoredOutput) -> str:
    return f"{side.stats.acceptance_rate:.2f} · {side.stats.verifier_forwards}"
