"""Plain decoding's one-token step on the default pair's verifier, on every kernel and harness
tried: is an exact path 1.3× torch's default float32 `F.linear` (MKL) at one thread? (issue 31)

    python benchmarks/plain_step.py              # 1 thread, context 64, 60 steps each, idle machine

Each variant is the same SmolLM2-135M verifier (the GGUF, converted as spectui converts it),
KV-cached after 64 tokens, timed alternating with a freshly loaded baseline (F.linear on MKL
under no_grad, as transformers' `generate` runs), two models at a time: with all seven loaded
and interleaved, the figures moved by up to 15% with which models were resident (an earlier
version of this script reported 1.15× for spectui's path; paired, it is about 1.0×).
"exact" = float32 sums (the argmax of the default kernel at every position of
`tests/test_kernels.py`'s texts); int4 is spectui's opt-in `--kernels int4`, not exact.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from dataclasses import replace
from statistics import median

import torch
from torch import nn
from transformers import DynamicCache, PreTrainedModel

from spectui.engine.config import DecodeConfig
from spectui.engine.models.kernels import PrepackedLinear
from spectui.engine.models.loading import load_pair
from spectui.models import smollm2_gguf


class UnpaddedLinear(nn.Module):
    """spectui's prepacked oneDNN linear without its padding to 4 rows."""

    def __init__(self, inner: PrepackedLinear) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner._linear(x)


class RowMajorOneRow(nn.Module):
    """One row through MKL's sgemm on the weight stored K × N (streams it once, in order);
    more rows through oneDNN. Twice the weights' memory."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.transposed = linear.weight.detach().t().contiguous()
        self.packed = PrepackedLinear(linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] == 1:
            return torch.mm(x.reshape(1, -1), self.transposed).reshape(*x.shape[:-1], -1)
        return self.packed(x)


def swap(module: nn.Module, kind: type, make: Callable[[nn.Module], nn.Module]) -> None:
    for name, child in module.named_children():
        if isinstance(child, kind):
            setattr(module, name, make(child))
        else:
            swap(child, kind, make)


def stepper(model: PreTrainedModel, context: list[int], mode: Callable[[], object]):
    cache = DynamicCache(config=model.config)
    with mode():  # type: ignore[operator]
        model(input_ids=torch.tensor([context]), past_key_values=cache, use_cache=True)

    def step(token: int) -> float:
        started = time.perf_counter()
        with mode():  # type: ignore[operator]
            model(
                input_ids=torch.tensor([[token]]),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        return time.perf_counter() - started

    return step


def paired(
    baseline: PreTrainedModel,
    variant: PreTrainedModel,
    mode: Callable[[], object],
    steps: int,
) -> tuple[float, float]:
    """Median step seconds of the baseline (MKL, no_grad) and of `variant`, alternated."""
    context = list(range(100, 164))
    base = stepper(baseline, context, torch.no_grad)
    other = stepper(variant, context, mode)
    times: tuple[list[float], list[float]] = ([], [])
    for at in range(steps):
        first = random.Random(at).random() < 0.5
        for which in (0, 1) if first else (1, 0):
            times[which].append((base, other)[which](context[at % len(context)]))
    return median(times[0][5:]), median(times[1][5:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = DecodeConfig(verifier=str(smollm2_gguf()), drafter="ngram", threads=args.threads)

    def verifier(**changes: str) -> PreTrainedModel:
        return load_pair(replace(config, **changes)).local("verifier")

    def unpadded() -> PreTrainedModel:
        model = verifier(kernels="onednn")
        swap(model, PrepackedLinear, UnpaddedLinear)
        return model

    def row_major() -> PreTrainedModel:
        model = verifier(kernels="default")
        swap(model, nn.Linear, RowMajorOneRow)
        return model

    no_grad, inference = torch.no_grad, torch.inference_mode
    variants: dict[str, tuple[Callable[[], PreTrainedModel], Callable[[], object]]] = {
        "F.linear (MKL), inference mode": (lambda: verifier(kernels="default"), inference),
        "oneDNN prepacked, one row as is, no_grad": (unpadded, no_grad),
        "oneDNN prepacked, rows padded to 4, no_grad": (
            lambda: verifier(kernels="onednn"),
            no_grad,
        ),
        "oneDNN prepacked, rows padded to 4, inference mode": (
            lambda: verifier(kernels="onednn"),
            inference,
        ),
        "spectui panels, inference mode (spectui's default)": (verifier, inference),
        "one row on MKL with the weight K × N, inference mode": (row_major, inference),
        "int4 from the GGUF's Q4_1, bfloat16 (not exact)": (
            lambda: verifier(kernels="int4"),
            inference,
        ),
    }
    print(f"one-token step, SmolLM2-135M verifier, {args.threads} thread(s), context 64+;")
    print("each variant alternated with a fresh baseline, F.linear (MKL) under no_grad")
    print("| variant | ms (median) | baseline ms, same run | × baseline |")
    print("| --- | --- | --- | --- |")
    for name, (load, mode) in variants.items():
        base_seconds, seconds = paired(verifier(kernels="default"), load(), mode, args.steps)
        gc.collect()
        print(
            f"| {name} | {seconds * 1e3:.1f} | {base_seconds * 1e3:.1f} | "
            f"{base_seconds / seconds:.2f} |"
        )


if __name__ == "__main__":
    main()
