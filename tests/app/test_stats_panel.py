"""The stats panel writes the scripted decode's figures (worked by hand in tests/test_stats.py)."""

from __future__ import annotations

from rich.console import Console
from scripted import scripted_decode

from spectui.app.widgets.stats_panel import stats_text


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
