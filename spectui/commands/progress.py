"""Progress on stderr for the CLI commands: live bars on a terminal, plain lines otherwise.

stdout carries the commands' results (`--json` lines, tables), so progress never goes there.
On a terminal each download, weight load and benchmark gets a rich progress bar with its
rate and time left; written to a file or a pipe, each bar is a line when it opens, a line at
most every `LINE_INTERVAL` seconds while it runs, and one when it is done, so a log stays
readable.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from spectui.engine.models.progress import Bar

LINE_INTERVAL = 5.0  # seconds between two plain lines of one bar


class CommandProgress:
    """A command's stage messages and progress bars, drawn on `stream` (stderr)."""

    def __init__(self, prefix: str, stream: TextIO | None = None) -> None:
        self.prefix = prefix  # "spectui", "spectui bench"
        self.stream = stream or sys.stderr
        self.live = _is_terminal(self.stream)
        self._progress: Progress | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._lines: dict[tuple[str, str], float] = {}  # when each bar last had a plain line

    def __enter__(self) -> CommandProgress:
        if self.live:
            self._progress = _live_progress(self.stream)
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def say(self, message: str) -> None:
        """One stage of the work: "loading verifier gpt2-medium"."""
        line = f"{self.prefix}: {message}"
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)

    def bar(self, bar: Bar) -> None:
        """A progress report: the bar is drawn (terminal) or written as a line (now and then)."""
        if self._progress is not None:
            self._draw(bar)
            return
        last = self._lines.get(bar.key)
        now = time.monotonic()
        if last is None or bar.finished or now - last >= LINE_INTERVAL:
            self._lines[bar.key] = now
            print(f"{self.prefix}: {bar.summary()}", file=self.stream, flush=True)

    def _draw(self, bar: Bar) -> None:
        assert self._progress is not None
        task = self._tasks.get(bar.key)
        figures = bar.figures()
        if task is None:
            task = self._progress.add_task(
                f"{bar.stage} · {bar.label}", total=bar.total, figures=figures
            )
            self._tasks[bar.key] = task
        self._progress.update(task, completed=bar.done, total=bar.total, figures=figures)


def _live_progress(stream: TextIO) -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[figures]}"),
        console=Console(file=stream),
        transient=False,
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except ValueError:  # a closed stream
        return False
