"""Interleaved timing: every method on every prompt within each repeat, in a rotating order.

This machine is noisy (shared cores, background jobs), so the figures that matter are ratios
of methods timed next to each other: a slow patch hits all of them within one repeat, and
rotating the order keeps any method from always running right after a particular other one.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import torch

from spectui.bench.baselines import Decoded
from spectui.engine.cost.sampler import synchronize
from spectui.engine.models.progress import BarSink, StepCounter


@dataclass(frozen=True)
class Method:
    """A way to produce `new_tokens` tokens from a prompt, and where to run it."""

    key: str  # JSON key, e.g. "engine_greedy"
    label: str  # table label
    decode: Callable[[tuple[int, ...]], Decoded]
    n_prompts: int | None = None  # run on the first n prompts only (None: all)
    n_repeats: int | None = None  # run in the first n repeats only (None: all)
    # Whether it drafts with the pair's drafter model (whose forwards are counted); n-gram
    # lookup has no model and early exit runs the verifier's layers in a view of their own.
    drafter_model: bool = True
    # Whether it runs the pair's verifier (whose forwards are counted); plain decoding on the
    # default kernel runs a copy of it, so its work is not counted.
    verifier_model: bool = True


@dataclass(frozen=True)
class Run:
    """One timed decode of one prompt."""

    seconds: float
    decoded: Decoded
    verifier_forwards: int
    verifier_tokens: int  # input tokens fed to the verifier over all its forwards
    drafter_forwards: int


@dataclass(frozen=True)
class Spread:
    """Median and range of a figure over repeats."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        """The spread of `values`, or None when there are none."""
        return cls(median(values), min(values), max(values)) if values else None

    def as_dict(self) -> dict[str, float]:
        """JSON form."""
        return {"median": self.median, "min": self.low, "max": self.high}


@dataclass
class Timings:
    """runs[method key][repeat][prompt index] for everything that ran."""

    runs: dict[str, list[dict[int, Run]]] = field(default_factory=dict)

    def tokens_per_second(self, key: str) -> Spread | None:
        """Per repeat: all tokens of the method / all its seconds."""
        return Spread.of(
            [
                sum(len(r.decoded.output_ids) for r in runs.values())
                / sum(r.seconds for r in runs.values())
                for runs in self.runs.get(key, [])
                if runs
            ]
        )

    def ratio(self, faster: str, slower: str) -> Spread | None:
        """Per repeat, on the prompts both ran: tokens/s of `faster` over tokens/s of `slower`."""
        values = []
        for mine, theirs in zip(self.runs.get(faster, []), self.runs.get(slower, []), strict=False):
            shared = sorted(set(mine) & set(theirs))
            if not shared:
                continue
            rate_mine = sum(len(mine[i].decoded.output_ids) for i in shared) / sum(
                mine[i].seconds for i in shared
            )
            rate_theirs = sum(len(theirs[i].decoded.output_ids) for i in shared) / sum(
                theirs[i].seconds for i in shared
            )
            values.append(rate_mine / rate_theirs)
        return Spread.of(values)

    def all_runs(self, key: str) -> list[Run]:
        """Every run of a method, over repeats and prompts."""
        return [run for runs in self.runs.get(key, []) for run in runs.values()]

    def first_outputs(self, key: str) -> dict[int, tuple[int, ...]]:
        """Each prompt's output from the first repeat that ran it."""
        outputs: dict[int, tuple[int, ...]] = {}
        for runs in self.runs.get(key, []):
            for index, run in runs.items():
                outputs.setdefault(index, run.decoded.output_ids)
        return outputs


class ForwardCounter:
    """Counts a module's forward calls and the input tokens they were fed (a forward pre-hook
    on a model, or on its input embedding, whose first argument is the ids)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.calls = 0
        self.tokens = 0
        self._handle = model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, _module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        self.calls += 1
        self.tokens += int(input_ids.shape[-1]) if input_ids is not None else 0

    def take(self) -> tuple[int, int]:
        """(calls, tokens) since the last take."""
        counts = (self.calls, self.tokens)
        self.calls = self.tokens = 0
        return counts

    def close(self) -> None:
        """Remove the hook."""
        self._handle.remove()


def run_interleaved(
    methods: Sequence[Method],
    prompts: Sequence[tuple[int, ...]],
    repeats: int,
    verifier: torch.nn.Module,
    drafter: torch.nn.Module,
    device: torch.device,
    progress: Callable[[str], None],
    after_repeat: Callable[[], None] | None = None,
    bars: BarSink | None = None,
) -> Timings:
    """Time every method on every prompt, `repeats` times, interleaved.

    `after_repeat` runs after each repeat, outside the timings (the cost model samples there);
    `bars` hears of each timed run (method × prompt × repeat) done, of how many.
    """
    timings = Timings({method.key: [] for method in methods})
    verifier_counter = ForwardCounter(verifier)
    # A Llama drafter runs spectui's own loop (engine/models/lean.py), which never calls the
    # model's forward: its embedding is called once a forward on either path.
    drafter_counter = ForwardCounter(drafter.get_input_embeddings())  # type: ignore[operator]
    scheduled = sum(
        _scheduled(method, repeat, index)
        for repeat in range(repeats)
        for index in range(len(prompts))
        for method in methods
    )
    runs = StepCounter(bars, "bench", "method × prompt × repeat", scheduled, "runs")
    try:
        for repeat in range(repeats):
            progress(f"repeat {repeat + 1}/{repeats}")
            for method in methods:
                if method.n_repeats is None or repeat < method.n_repeats:
                    timings.runs[method.key].append({})
            order = list(methods[repeat % len(methods) :]) + list(methods[: repeat % len(methods)])
            for index, prompt in enumerate(prompts):
                for method in order:
                    if not _scheduled(method, repeat, index):
                        continue
                    verifier_counter.take()
                    drafter_counter.take()
                    seconds, decoded = _timed(method.decode, prompt, device)
                    v_calls, v_tokens = verifier_counter.take()
                    d_calls, _ = drafter_counter.take()
                    timings.runs[method.key][repeat][index] = Run(
                        seconds, decoded, v_calls, v_tokens, d_calls
                    )
                    runs.step(
                        f"repeat {repeat + 1}/{repeats} · {method.key} · "
                        f"prompt {index + 1}/{len(prompts)}"
                    )
            if after_repeat is not None:
                after_repeat()
    finally:
        verifier_counter.close()
        drafter_counter.close()
    return timings


def _scheduled(method: Method, repeat: int, prompt_index: int) -> bool:
    return (method.n_repeats is None or repeat < method.n_repeats) and (
        method.n_prompts is None or prompt_index < method.n_prompts
    )


def _timed(
    decode: Callable[[tuple[int, ...]], Decoded], prompt: tuple[int, ...], device: torch.device
) -> tuple[float, Decoded]:
    # A garbage collection inside one method's timing would be charged to that method alone.
    gc.collect()
    gc.disable()
    try:
        synchronize(device)
        started = time.perf_counter()
        decoded = decode(prompt)
        synchronize(device)
        return time.perf_counter() - started, decoded
    finally:
        gc.enable()
