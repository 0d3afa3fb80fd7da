"""One linear layer, one row and a few, on each float32 kernel: is any exact kernel much
faster than MKL's for a single row? (issue 31: plain decoding is a stream of one-row forwards.)

    python benchmarks/lm_head_kernels.py            # the SmolLM2 LM head's shape, 1 thread

Medians of 20 calls after 3 warm-ups; run it on an idle machine, the figures are absolute.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from spectui.engine.models.kernels import PrepackedLinear


def median_ms(call: Callable[[], object], repeats: int = 20) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=576)
    parser.add_argument("--outputs", type=int, default=49152)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    linear = torch.nn.Linear(args.inputs, args.outputs, bias=False)
    weight = linear.weight.detach().contiguous()
    packed = PrepackedLinear(linear)
    print(
        f"{args.outputs} x {args.inputs} float32 ({weight.numel() * 4 / 1e6:.0f} MB), "
        f"{args.threads} thread(s), ms"
    )
    with torch.no_grad():
        for rows in (1, 2, 3, 4, 6, 8):
            x = torch.randn(1, rows, args.inputs)
            mkl = median_ms(lambda x=x: torch.nn.functional.linear(x, weight))
            onednn = median_ms(lambda x=x: packed(x))
            line = f"rows {rows}: F.linear (MKL) {mkl:.2f} · oneDNN prepacked {onednn:.2f}"
            if rows == 1:
                vector = x.reshape(-1)
                line += f" · torch.mv {median_ms(lambda v=vector: torch.mv(weight, v)):.2f}"
            print(line)


if __name__ == "__main__":
    main()
