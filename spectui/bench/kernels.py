"""What a verifier block costs on each kernel: r_M, a forward over M rows / a forward over 1.

Speculative decoding pays only where verifying k drafts in one block costs about one step
(r_{k+1} ≈ 1). That is a property of the kernel, not of the CPU: on torch's default float32
path (MKL) r_4 was 1.3–2 here, on spectui's panels or oneDNN with weights prepacked ≈ 1. So
the bench times the verifier's forward for M = 1..8 rows on every kernel and precision it can
load (`VARIANTS`), at the bench's thread count and with every core, interleaved (one M of each
variant in turn), each a median over `repeats`; and it measures what streaming the weights once
costs at this machine's read bandwidth (the floor of a one-token step).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from statistics import median
from typing import Any

import torch
from transformers import PreTrainedModel

from spectui.engine.config import DecodeConfig
from spectui.engine.cost.sampler import StepTimer
from spectui.engine.models.agreement import block_step_argmaxes, differing
from spectui.engine.models.kernels import KERNEL_LABELS, fast_kernel_problem
from spectui.engine.models.loading import ModelPair, gguf_files, load_pair, pick_dtype

MAX_ROWS = 8
# (kernel, dtype) pairs timed beside the pair's own, in this order where they load here.
VARIANTS = (
    ("panel", "float32"),
    ("onednn", "float32"),
    ("default", "float32"),
    ("panel", "bfloat16"),
    ("int4", "bfloat16"),  # only where the verifier is a GGUF file with Q4_1 layers
)


@dataclass(frozen=True)
class BlockCosts:
    """One kernel's forward times for M = 1..MAX_ROWS rows at one thread count."""

    kernel: str  # the running kernel: "panel", "onednn", "default" or "int4"
    dtype: str  # "float32", "bfloat16"
    threads: int
    milliseconds: tuple[float, ...]  # [M-1]: median forward over M new rows, KV-cached
    exact: bool  # computes the float32 model's own sums (not a lower precision)

    @property
    def label(self) -> str:
        """`spectui panels float32`, `torch default (MKL) float32`."""
        return f"{KERNEL_LABELS[self.kernel]} {self.dtype}"

    def r(self, rows: int) -> float:
        """r_M: a block of `rows` rows over one row."""
        return self.milliseconds[rows - 1] / self.milliseconds[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "label": self.label,
            "dtype": self.dtype,
            "threads": self.threads,
            "exact": self.exact,
            "milliseconds": list(self.milliseconds),
            "r": [self.r(rows) for rows in range(1, len(self.milliseconds) + 1)],
        }


def variant_models(
    pair: ModelPair,
    config: DecodeConfig,
    say: Callable[[str], None],
    dtypes: Sequence[str] = ("float32", "bfloat16"),
) -> list[tuple[str, str, PreTrainedModel]]:
    """The pair's verifier and a copy of it on each other variant in `dtypes` that runs here."""
    own = (pair.kernels.running if pair.kernels else "default", _dtype_name(pair.dtype))
    models = [(*own, pair.local("verifier"))]
    for kernel, dtype in VARIANTS:
        if (kernel, dtype) == own or pair.device.type != "cpu" or dtype not in dtypes:
            continue
        if kernel == "onednn" and fast_kernel_problem(pair.device, pick_dtype(dtype)) is not None:
            continue
        if kernel == "int4" and gguf_files(config)["verifier"] is None:
            continue
        say(f"loading the verifier again on {KERNEL_LABELS[kernel]} {dtype}")
        copy = load_pair(replace(config, drafter="ngram", kernels=kernel, dtype=dtype))
        if copy.kernels is not None and copy.kernels.running == kernel:
            models.append((kernel, dtype, copy.local("verifier")))
    return models


def block_costs(
    pair: ModelPair,
    models: Sequence[tuple[str, str, PreTrainedModel]],
    context: Sequence[int],
    threads: Sequence[int],
    repeats: int,
) -> list[BlockCosts]:
    """Each model's forward over M = 1..MAX_ROWS rows after `context`, at each thread count."""
    costs = []
    before = torch.get_num_threads()
    try:
        for count in threads:
            torch.set_num_threads(count)
            # The panel kernel runs on one thread whatever torch's count (`fast` picks oneDNN
            # for more): timed at one thread only.
            timed = [variant for variant in models if count == 1 or variant[0] != "panel"]
            timers = [StepTimer(pair, model, list(context)) for _, _, model in timed]
            feed = list(context[-MAX_ROWS:])
            samples: list[list[list[float]]] = [[[] for _ in feed] for _ in timed]
            for timer in timers:  # warm up every shape once
                for rows in range(1, MAX_ROWS + 1):
                    timer.time(feed[:rows])
            for _ in range(repeats):
                for rows in range(1, MAX_ROWS + 1):
                    for index, timer in enumerate(timers):
                        samples[index][rows - 1].append(timer.time(feed[:rows]))
            for (kernel, dtype, _), times in zip(timed, samples, strict=True):
                milliseconds = tuple(median(t) * 1e3 for t in times)
                costs.append(BlockCosts(kernel, dtype, count, milliseconds, dtype == "float32"))
    finally:
        torch.set_num_threads(before)
    return costs


def agreement_per_kernel(
    models: Sequence[tuple[str, str, PreTrainedModel]], ids: Sequence[int], start: int, block: int
) -> list[dict[str, Any]]:
    """Per kernel: at how many positions of `ids` a block of `block` rows and one-token steps
    pick different argmaxes, and how many steps differ from the first model's (the pair's)."""
    rows = []
    reference: list[int] | None = None
    with torch.no_grad():
        for kernel, dtype, model in models:
            steps, blocks = block_step_argmaxes(model, ids, start, block)
            reference = steps if reference is None else reference
            rows.append(
                {
                    "kernel": kernel,
                    "dtype": dtype,
                    "block": block,
                    "positions": len(steps),
                    "block_differs_from_step": differing(steps, blocks),
                    "step_differs_from_pair": differing(steps, reference),
                }
            )
    return rows


def read_bandwidth_floor(model: torch.nn.Module, threads: int) -> dict[str, float]:
    """How long streaming the model's weights once takes at this machine's read bandwidth:
    the floor of a one-token step (a memory-bound forward reads every weight once)."""
    weight_bytes = sum(
        tensor.numel() * tensor.element_size()
        for tensor in {id(t): t for t in _weights(model)}.values()
    )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        block = torch.ones(min(weight_bytes, 1 << 30) // 4, dtype=torch.float32)
        block.sum()  # touch it first
        seconds = median(_timed_sum(block) for _ in range(5))
    finally:
        torch.set_num_threads(before)
    bandwidth = block.numel() * 4 / seconds
    return {
        "weight_bytes": float(weight_bytes),
        "read_gb_per_s": bandwidth / 1e9,
        "floor_ms": weight_bytes / bandwidth * 1e3,
        "threads": float(threads),
    }


def thread_counts(bench_threads: int) -> list[int]:
    """The bench's own thread count, and every core where that is more."""
    cores = os.cpu_count() or 1
    return [bench_threads] if cores <= bench_threads else [bench_threads, cores]


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    from spectui.engine.models.int4 import Int4GroupLinear
    from spectui.engine.models.kernels import PanelLinear, PrepackedLinear

    tensors: list[torch.Tensor] = list(model.parameters())
    tensors += [m.packed_weight for m in model.modules() if isinstance(m, PrepackedLinear)]
    tensors += [m.panels for m in model.modules() if isinstance(m, PanelLinear)]
    for layer in (m for m in model.modules() if isinstance(m, Int4GroupLinear)):
        tensors += [layer.packed_weight, layer.scales_and_zeros]
    # The embedding is read one row a token, not streamed: a tied head's packed copy is.
    embedding = model.get_input_embeddings().weight  # type: ignore[operator]
    return [t for t in tensors if t is not embedding]


def _timed_sum(block: torch.Tensor) -> float:
    started = time.perf_counter()
    block.sum()
    return time.perf_counter() - started


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
