"""The header's model sizes and the stats panel's per-round times, computed by hand."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from app_helpers import plain
from textual.app import App, ComposeResult

from spectui.app.decode_view import round_seconds
from spectui.app.model_info import (
    model_sizes,
    short_count,
    shorter_forms,
    stream_subtitle_forms,
)
from spectui.app.widgets.stats_panel import round_times
from spectui.app.widgets.status_header import StatusHeader
from spectui.engine.stats import StatsTally


def test_short_count_keeps_three_figures_at_most() -> None:
    assert short_count(850) == "850"
    assert short_count(1_234) == "1.2K"
    assert short_count(5_900_000) == "5.9M"
    assert short_count(124_439_808) == "124M"
    assert short_count(1_100_000_000) == "1.1B"


def test_model_sizes_sum_each_models_parameters(tiny_loaded: Any) -> None:
    pair = tiny_loaded
    drafter = sum(p.numel() for p in pair.drafter.parameters())
    verifier = sum(p.numel() for p in pair.verifier.parameters())
    words = model_sizes(pair)
    assert words == f"drafter {short_count(drafter)} → verifier {short_count(verifier)}"


def test_served_models_are_named_without_a_size(tiny_loaded: Any) -> None:
    served = replace(tiny_loaded, drafter=None, verifier=None)
    assert model_sizes(served) == "drafter → verifier"
    assert model_sizes(None) == ""


def test_round_times_are_the_growth_of_the_cumulative_totals() -> None:
    first = replace(StatsTally().snapshot(), draft_seconds=0.004, verify_seconds=0.010)
    second = replace(first, draft_seconds=0.0071, verify_seconds=0.0182)
    assert round_seconds(None, first) == (0.004, 0.010)
    draft, verify = round_seconds(first, second)
    assert abs(draft - 0.0031) < 1e-12 and abs(verify - 0.0082) < 1e-12
    assert round_times((draft, verify)) == "draft 3.1 ms · verify 8.2 ms"


DEFAULT_PAIR_WORDS = "smollm2-drafter 11.8M → SmolLM2-135M-Instruct.Q4_1.gguf 135M"
PLAYING = "soft-guarded · k=3 · round 12 · ▶ playing · 4 steps/s"


class HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusHeader()


@pytest.mark.parametrize(
    ("width", "shown"),
    [
        (160, DEFAULT_PAIR_WORDS),
        (124, "smollm2-drafter 11.8M → SmolLM2-135M-Instruct.Q4_1 135M"),
        (120, "drafter 11.8M → verifier 135M"),
        (80, "11.8M → 135M"),
    ],
)
async def test_the_header_keeps_both_sizes_in_the_longest_form_that_fits(
    width: int, shown: str
) -> None:
    """The default pair's line was cut at 120 columns (`…Q4_1.gguf…`) and lost both sizes at
    80: the header now falls back to shorter names, then roles, then the sizes alone."""
    app = HeaderApp()
    async with app.run_test(size=(width, 5)) as pilot:
        header = app.query_one(StatusHeader)
        header.show(PLAYING, DEFAULT_PAIR_WORDS)
        await pilot.pause()
        line = plain(header, width=width).strip()
        assert line == f"spectui — {PLAYING} · {shown}"
        assert "…" not in line


def test_a_notice_and_a_served_model_survive_every_form() -> None:
    forms = shorter_forms("drafter 1.2M → qwen @ host:8000 · kernels: MKL (no oneDNN)")
    assert forms[-1] == "1.2M → qwen @ host:8000 · kernels: MKL (no oneDNN)"
    assert all(form.endswith(" · kernels: MKL (no oneDNN)") for form in forms)


async def test_a_status_too_wide_drops_its_last_parts_whole() -> None:
    """At 60 columns the header read `… · ⏸ paused · 4 steps…`: now the models go first,
    then the app's name, then whole parts of the status from its end."""
    app = HeaderApp()
    status = "soft-guarded · k=5 · round 3 · finished (max tokens) · 4 steps/s"
    async with app.run_test(size=(70, 5)) as pilot:
        header = app.query_one(StatusHeader)
        header.show(status, DEFAULT_PAIR_WORDS)
        await pilot.pause()
        assert plain(header, width=70).strip() == status
        await pilot.resize_terminal(55, 5)
        await pilot.pause()
        line = plain(header, width=55).strip()
        assert line == "soft-guarded · k=5 · round 3 · finished (max tokens)", line


def test_the_streams_border_has_a_form_for_every_width() -> None:
    """At 80×24 on the default pair the stream's border ended `· cpu · f…`: its painter now
    takes the longest of these that fits."""
    summary = "smollm2-drafter → SmolLM2-135M-Instruct.Q4_1.gguf · cpu · float32"
    assert stream_subtitle_forms(summary) == (
        f"←/→ inspect · {summary}",
        "←/→ inspect · smollm2-drafter → SmolLM2-135M-Instruct.Q4_1 · cpu · float32",
        "smollm2-drafter → SmolLM2-135M-Instruct.Q4_1 · cpu · float32",
        "←/→ inspect · cpu · float32",
        "cpu · float32",
    )
    assert stream_subtitle_forms("") == ("",)
