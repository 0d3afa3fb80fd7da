"""`w` on an observed request: its rebuilt decode saved as a trace `spectui replay` opens.

A trace holds every draft's gate check, the verifier's probabilities included. Only a request
spectui decoded again with a local copy of the verifier has those; for the others a trace
would have to invent them, so none is written and the status line says why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.notifications import SeverityLevel

from spectui.app.screens.decode import files
from spectui.engine.observe.request import ObservedRequest

NO_TRACE = (
    "No trace for request {number}: a trace holds each draft's gate check, from the "
    "verifier's probabilities, and {why}. Observe again with --drafter (ngram or the draft "
    "model's directory) and --verifier DIR (a local copy of the served model) to rebuild it."
)


def save_request_trace(
    request: ObservedRequest, path: Path | None = None
) -> tuple[str, SeverityLevel]:
    """Copy the request's rebuilt trace to `path` (default: ./spectui-trace-<time>.jsonl);
    the message to show and its severity."""
    if request.local is not None and request.trace is None:
        return f"No trace for request {request.number}: its rebuild was not kept.", "warning"
    if request.local is None or request.trace is None:
        why = (
            "spectui rebuilt only its drafts (n-gram lookup), not the verifier's probabilities"
            if request.rebuilt is not None
            else "the server's response holds only its counts, no drafts and no probabilities"
        )
        return NO_TRACE.format(number=request.number, why=why), "warning"
    target = path or files.default_trace_path()
    try:
        shutil.copyfile(request.trace, target)
    except OSError as error:
        return f"Trace not saved: {target}: {error.strerror or error}", "error"
    rounds = len(request.local.steps)
    return (
        f"Trace saved: request {request.number}'s rebuilt decode, {rounds} rounds, to {target}",
        "information",
    )
