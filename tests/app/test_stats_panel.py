"""The stats panel writes the scripted decode's figures (worked by hand in tests/test_stats.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from scripted import scripted_decode

from spectui.app.widgets.gate_panel import fitted_rules
from spectui.app.widgets.stats_panel import (
    DEFINITIONS,
    StatsGrid,
    cell,
    precision_cell,
    round_times,
    stats_cells,
    stats_text,
)
from spectui.engine.models.agreement import BlockStepAgreement


def rendered(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(stats_text(scripted_decode()[-1].stats, timings=False))
    return console.export_text()


def test_every_cell_names_its_convention() -> None:
    a = 11 / 13
    expected = (2 * (1 - a**6) / (1 - a) + 2 * (a + a**2 + a**3 + 1 - a**3) + (a + a**2 + 1)) / 5
    for width in (40, 78):  # one column, and two
        text = rendered(width)
        assert "draft acc. 0.55 · 11/20 drafted" in text
        assert "α per token 0.79 · 11/14 judged" in text
        assert "τ 3.00/round · accepted 2.20" in text
        assert f"expected τ {expected:.2f}" in text
        assert "vLLM length 3.20" in text
        assert "rounds 5 · 15 tokens" in text
        assert "per pos. " in text and " 0.8 0.6 0.4 0.3 0.5" in text
        assert "cond. pos. " in text and " 0.8 0.8 0.7 1.0 1.0" in text
        assert "forwards verifier" in text


def timed_cells() -> list[Text]:
    """Every cell the panel shows with timings on: the statistics, the last round's times and
    the cost model's, with long figures (a 4-digit verify time, a derived-span note), and a
    pair below float32's block-vs-step count."""
    stats = scripted_decode()[-1].stats
    return [
        *stats_cells(stats, timings=True),
        cell("last round", round_times((0.1704, 1.2593))),
        cell("cost model", "c 0.07 · r_5 1.23", (" (k·c+r_k 1.58)", "dim")),
        cell(
            "speedup",
            ("0.22×", "bold"),
            " predicted · 1.31× measured",
            (" (k=3 derived from k=5)", "dim"),
        ),
        precision_cell(BlockStepAgreement(positions=32, differ=2, block=4)),
    ]


@pytest.mark.parametrize("width", [30, 39, 41, 58, 72, 78, 100, 118])
def test_no_figure_is_cut_at_any_width(width: int) -> None:
    """Every cell's every word is on screen whole, whatever the panel's width (the panel is
    39 columns inside at 120×40 and 78 at 80×24, where figures used to end in "…")."""
    cells = timed_cells()
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(StatsGrid(cells))
    text = console.export_text()
    assert all(len(line.rstrip()) <= width for line in text.splitlines())
    words = text.split()
    for shown in cells:
        for word in shown.plain.split():
            assert word in words, f"{word!r} of {shown.plain!r} is not whole at width {width}"
    assert "…" not in text.replace("0…5", "")  # the histogram's own range, not a cut


def label_of(shown: Text) -> str:
    """A cell's label: its bold first span."""
    span = shown.spans[0]
    assert span.style == "bold" and span.start == 0
    return shown.plain[: span.end].strip()


def test_every_cell_is_defined_in_the_help_and_the_readme() -> None:
    """Every figure the panel shows is defined where it is shown (the help screen's table is
    DEFINITIONS) and under the same name in the README's Definitions table."""
    labels = [label_of(shown) for shown in timed_cells()]
    assert sorted(labels) == sorted(DEFINITIONS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Definitions") :]
    table = table[: table.index("\n\n", table.index("| figure"))]
    for label in labels:
        assert f"`{label}`" in table or f"`{label} " in table, label


def test_the_gate_rules_line_keeps_whole_rules_and_counts_the_rest() -> None:
    """The gate panel's border listed every policy's gates and was cut mid-figure
    (`p≥p₁−0…`) at 60 and 120 columns."""
    rules = ["p≥0.05", "top-5", "Δ≤0.2", "n<5", "top-10", "p≥p₁−0.6"]
    assert fitted_rules("gates: ", rules, 80) == "gates: " + " · ".join(rules)
    assert fitted_rules("gates: ", rules, 40) == "gates: p≥0.05 · top-5 · Δ≤0.2 · +3 more"
    assert fitted_rules("gates: ", rules, 5) == "gates: p≥0.05"  # the active policy's first


async def test_the_panel_grows_with_cells_that_come_after_its_first_draw() -> None:
    """The panel repaints without a layout while its content keeps its shape; a precision
    check (or a cost model) arriving after the first rounds added lines that a panel holding
    its first height cut off (seen on the default pair in int4, 160×48)."""
    from textual.app import App, ComposeResult

    from spectui.app.widgets import StatsPanel

    class OnePanel(App[None]):
        def compose(self) -> ComposeResult:
            yield StatsPanel()

    stats = scripted_decode()[-1].stats
    async with OnePanel().run_test(size=(60, 40)) as pilot:
        panel = pilot.app.query_one(StatsPanel)
        panel.show(stats, timings=False)
        await pilot.pause()
        first = panel.size.height
        panel.show(stats, timings=False, precision=BlockStepAgreement(32, 2, 4))
        await pilot.pause()
        console = Console(width=panel.size.width, record=True, file=io.StringIO())
        console.print(panel.content)
        lines = console.export_text().rstrip("\n").splitlines()
        assert panel.size.height == len(lines) > first
        assert lines[-1].startswith("block ≠ step 2/32")
