"""Fixtures for the app tests: an app on the tiny pair (helpers live in app_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PROMPT

from spectui.app.app import SpectuiApp
from spectui.engine.config import DecodeConfig


@pytest.fixture(autouse=True)
def traces_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The save key (w) with no --trace FILE writes into the test's tmp_path, not the checkout."""
    monkeypatch.setattr(
        "spectui.app.screens.decode.files.default_trace_path",
        lambda: tmp_path / "spectui-trace.jsonl",
    )


@pytest.fixture
def make_app(tiny_pair: Any) -> Callable[..., SpectuiApp]:
    """Build an app on the tiny pair; keyword arguments override DecodeConfig fields."""

    def make(prompt: str = PROMPT, **overrides: Any) -> SpectuiApp:
        values: dict[str, Any] = {
            "drafter": tiny_pair.drafter,
            "verifier": tiny_pair.verifier,
            "max_new_tokens": 40,
        }
        values.update(overrides)
        return SpectuiApp(
            DecodeConfig(**values), prompt, [prompt, "The capital of France is"], timings=False
        )

    return make
