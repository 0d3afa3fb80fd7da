"""Replay: the app on a saved trace, with no model, tokenizer or torch loaded."""

from __future__ import annotations

from pathlib import Path

from spectui.app.app import SpectuiApp
from spectui.app.sessions import TraceSession
from spectui.engine.trace.header import Trace


def replay_app(
    trace: Trace,
    timings: bool = True,
    trace_path: Path | None = None,
    text_marks: bool = False,
) -> SpectuiApp:
    """The spectui app on `trace`: the decode screen over a trace session."""
    header = trace.header
    return SpectuiApp(
        header.config,
        header.prompt,
        timings=timings,
        trace_path=trace_path,
        session=TraceSession(trace),
        text_marks=text_marks,
    )
