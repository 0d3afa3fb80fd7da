"""Progress of loading a pair: the libraries' own progress bars, redirected to whoever watches.

huggingface_hub draws a bar per file it downloads and transformers one while it reads the
weights in; both would scribble over the app's screen and the CLI's tables. Both libraries
let a caller replace their bar class (huggingface_hub: the `tqdm_class` that
`from_pretrained` passes on to each download; transformers: `logging.set_tqdm_hook`), so
within `reporting()` every bar they open is a `ReportingBar` that hands its state (a frozen
`Bar`) to a sink: the app posts it as a message, the CLI draws it on stderr. Setting the
`cancel` event makes the next update raise `LoadCancelled`, which stops a download where
huggingface_hub would stop on a broken connection (its partial file stays in the cache, and
the next start resumes it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from spectui.engine.errors import SpectuiError

REPORT_INTERVAL = 0.1  # seconds between reports of one bar (its first and last always go)
DOWNLOAD_UNIT = "B"  # huggingface_hub's unit for bytes


class LoadCancelled(SpectuiError):
    """Loading was cancelled (q in the app): what was downloaded so far stays in the cache."""


@dataclass(frozen=True)
class Bar:
    """One progress bar's state at one moment."""

    stage: str  # what is being loaded: "drafter", "verifier"
    label: str  # the library's description: a file name, "Loading weights"
    done: float
    total: float | None  # None where the library does not know it
    unit: str  # "B" for a download, else the library's (items: weights, shards)
    elapsed: float  # seconds since the bar opened
    finished: bool = False
    detail: str = ""  # where the work stands, in words ("repeat 2/3 · engine_soft")

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the bar among those of a load (a later report replaces it)."""
        return self.stage, self.label

    @property
    def is_download(self) -> bool:
        """Whether it counts bytes fetched from the hub (else items read into memory)."""
        return self.unit == DOWNLOAD_UNIT

    @property
    def fraction(self) -> float | None:
        """done / total, or None if the total is unknown."""
        return min(1.0, self.done / self.total) if self.total else None

    @property
    def rate(self) -> float | None:
        """Units per second so far (None in the first instant)."""
        return self.done / self.elapsed if self.elapsed > 0 and self.done > 0 else None

    @property
    def seconds_left(self) -> float | None:
        """(total − done) / rate, where both are known."""
        rate = self.rate
        if self.total is None or rate is None or self.finished:
            return None
        return max(0.0, self.total - self.done) / rate

    def summary(self) -> str:
        """One line: "verifier · model.safetensors · 12.3/498.0 MB · 4.1 MB/s · 2 min left"."""
        return f"{self.stage} · {self.label} · {self.figures()}"

    def figures(self) -> str:
        """Done of total, the rate, and the time left or "done": what a bar is drawn beside."""
        parts = [self.amount()]
        if (rate := self.rate) is not None:
            parts.append(f"{self.quantity(rate)}/s")
        if self.finished:
            parts.append("done")
        elif (left := self.seconds_left) is not None:
            parts.append(f"{duration(left)} left")
        if self.detail:
            parts.append(self.detail)
        return " · ".join(parts)

    def amount(self) -> str:
        """Done of total, in the bar's unit: "12.3/498.0 MB", "41/148 weights"."""
        if self.is_download:
            scale, name = byte_scale(self.total or self.done)
            total = f"/{self.total / scale:.1f}" if self.total else ""
            return f"{self.done / scale:.1f}{total} {name}"
        total = f"/{self.total:.0f}" if self.total else ""
        return f"{self.done:.0f}{total} {self.unit_name}"

    @property
    def unit_name(self) -> str:
        """What is counted, in words: tqdm's default "it" as what transformers counts."""
        return "weights" if self.unit == "it" else self.unit

    def quantity(self, value: float) -> str:
        """A count in the bar's unit: "4.1 MB", "37 weights"."""
        if self.is_download:
            scale, name = byte_scale(value)
            return f"{value / scale:.1f} {name}"
        return f"{value:.0f} {self.unit_name}"


BarSink = Callable[[Bar], None]


def byte_scale(value: float) -> tuple[float, str]:
    """The decimal unit to write a byte count in, as huggingface_hub's bars do."""
    for scale, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if value >= scale:
            return scale, name
    return 1.0, "B"


def duration(seconds: float) -> str:
    """A time left in a unit a person reads at a glance: "40 s", "3 min", "2.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ReportingBar:
    """A stand-in for tqdm that reports to a sink instead of drawing.

    The libraries call it as they would tqdm: with an iterable to wrap, or with a total and
    `update(n)`, as a context manager or not. `sink`, `stage` and `cancel` are set on a
    subclass made per load (`reporting`), since the libraries create the bars themselves.
    """

    sink: ClassVar[BarSink]
    stage: ClassVar[str]
    cancel: ClassVar[threading.Event | None] = None

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        desc: str | None = None,
        total: float | None = None,
        unit: str = "it",
        initial: float = 0,
        **_ignored: Any,  # tqdm's drawing options (unit_scale, leave, position, …)
    ) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.label = desc or "loading"
        self.total = total
        self.unit = unit
        self.n = initial
        self._opened = time.monotonic()
        self._reported = 0.0
        self._closed = False
        self._report(force=True)

    def update(self, n: float = 1) -> None:
        """Count `n` more units done."""
        self.n += n
        self._report()

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None, "iterated a bar made without an iterable"
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def close(self) -> None:
        """The work is over: report the final state once."""
        if not self._closed:
            self._closed = True
            self._report(force=True)

    def reset(self, total: float | None = None) -> None:
        """Start counting again (a retried download)."""
        self.n, self.total = 0, total
        self._report(force=True)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        """A new label (huggingface_hub renames a bar when a file's name is known)."""
        self.label = desc or self.label

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Ignored: nothing is drawn."""

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        """Ignored: nothing is drawn."""

    def __enter__(self) -> ReportingBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @classmethod
    def get_lock(cls) -> threading.RLock:
        """tqdm's class lock, which huggingface_hub shares with its download threads."""
        lock = cls.__dict__.get("_lock")
        if lock is None:
            lock = threading.RLock()
            cls._lock = lock  # type: ignore[attr-defined]
        return lock

    @classmethod
    def set_lock(cls, lock: threading.RLock) -> None:
        """Set the class lock (tqdm's API)."""
        cls._lock = lock  # type: ignore[attr-defined]

    def _report(self, force: bool = False) -> None:
        cancel = type(self).cancel
        if cancel is not None and cancel.is_set():
            raise LoadCancelled(f"loading the {self.stage} was cancelled")
        now = time.monotonic()
        if not force and now - self._reported < REPORT_INTERVAL:
            return
        self._reported = now
        type(self).sink(
            Bar(
                stage=self.stage,
                label=self.label,
                done=float(self.n),
                total=float(self.total) if self.total is not None else None,
                unit=self.unit,
                elapsed=now - self._opened,
                finished=self._closed,
            )
        )


class StepCounter:
    """A bar for work of our own counted in steps (a benchmark's runs), reported to a sink."""

    def __init__(self, sink: BarSink | None, stage: str, label: str, total: int, unit: str):
        self.sink, self.stage, self.label, self.total, self.unit = sink, stage, label, total, unit
        self.done = 0
        self._opened = time.monotonic()
        self._report("")

    def step(self, detail: str) -> None:
        """One more step done; `detail` says which."""
        self.done += 1
        self._report(detail)

    def _report(self, detail: str) -> None:
        if self.sink is not None:
            self.sink(
                Bar(
                    stage=self.stage,
                    label=self.label,
                    done=self.done,
                    total=self.total,
                    unit=self.unit,
                    elapsed=time.monotonic() - self._opened,
                    finished=self.done >= self.total,
                    detail=detail,
                )
            )


class StageBar:
    """Work of our own in named stages, reported as one bar in percent: each stage, as it
    begins, counts the shares of the stages before it (their measured shares of the time),
    so the bar moves, says where it is, and estimates the time left from the first second."""

    def __init__(
        self, bar_class: type[ReportingBar], label: str, shares: Sequence[tuple[str, float]]
    ) -> None:
        self.bar_class, self.label = bar_class, label
        total = sum(share for _, share in shares)
        self.starts: dict[str, float] = {}
        done = 0.0
        for name, share in shares:
            self.starts[name] = 100 * done / total
            done += share
        self._opened = time.monotonic()

    def begin(self, stage: str) -> None:
        """`stage` starts (raises LoadCancelled where the load was cancelled)."""
        self._report(self.starts[stage], stage, finished=False)

    def finish(self) -> None:
        """Every stage is done."""
        self._report(100.0, "", finished=True)

    def _report(self, done: float, detail: str, finished: bool) -> None:
        cancel = self.bar_class.cancel
        if cancel is not None and cancel.is_set():
            raise LoadCancelled(f"loading the {self.bar_class.stage} was cancelled")
        self.bar_class.sink(
            Bar(
                stage=self.bar_class.stage,
                label=self.label,
                done=done,
                total=100.0,
                unit="%",
                elapsed=time.monotonic() - self._opened,
                finished=finished,
                detail=detail,
            )
        )


@contextmanager
def reporting(
    sink: BarSink | None, stage: str, cancel: threading.Event | None = None
) -> Iterator[type[ReportingBar] | None]:
    """While open, transformers' bars report to `sink` as `stage`; yields the class to pass as
    `tqdm_class` to huggingface_hub's downloads (None, and nothing redirected, without a sink).
    """
    if sink is None:
        yield None
        return
    from transformers.utils import logging as transformers_logging

    bar_class: type[ReportingBar] = type(
        f"{stage.title()}Bar",
        (ReportingBar,),
        {"sink": staticmethod(sink), "stage": stage, "cancel": cancel},
    )

    def hook(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ReportingBar:
        return bar_class(*args, **kwargs)

    previous = transformers_logging.set_tqdm_hook(hook)
    try:
        yield bar_class
    finally:
        transformers_logging.set_tqdm_hook(previous)
