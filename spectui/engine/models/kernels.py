"""Which kernel a local model's linear layers run on: spectui's panels or prepacked oneDNN on a
CPU, or torch's default.

On a CPU, float32 `F.linear` goes to MKL's sgemm, which re-packs the weight on every call: a
verifier block of 4 rows costs 1.3–2× a single row, so speculative decoding loses. Two kernels
stream each weight the same way for 1 to 8 rows, laid out once at load, and compute float32
sums (argmax identical along the seed's texts; |Δlogit| ≈ 1e-4 from MKL's): spectui's panel
kernel (`panel.py`, on one thread, at close to the machine's read bandwidth), and oneDNN with
the weight reordered once (`torch.ops.mkldnn._reorder_linear_weight`, then `_linear_pointwise`
per call, as torch's Inductor does for frozen CPU graphs). `prepack_linears` swaps every
`nn.Linear` of a model, the tied LM head included: `--kernels fast` (the default) for the
panels where they run here, else oneDNN, saying why; `panel` and `onednn` ask for one;
`default` keeps torch's own; `int4` runs a GGUF's own Q4_1 layers on torch's int4 kernel
(`int4.py`), the rest on oneDNN.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from spectui.engine.config import KERNEL_NAMES
from spectui.engine.models.int4 import (
    ACTIVATION_DTYPE,
    Int4GroupLinear,
    int4_problem,
    swap_q4_1_linears,
)
from spectui.engine.models.panel import PanelLinear, panel_library, panel_problem
from spectui.engine.models.swapped import SwappedLinear

__all__ = [
    "KERNEL_NAMES",
    "KernelChoice",
    "PanelLinear",
    "PrepackedLinear",
    "output_rows",
    "parameter_count",
    "prepack_linears",
]

# Fewer rows than this are padded with zeros to it (see PrepackedLinear.forward).
MIN_ROWS = 4

# What a running kernel's name means on screen and in a bench's JSON.
KERNEL_LABELS = {
    "panel": "spectui panels",
    "onednn": "oneDNN prepacked",
    "default": "torch default (MKL)",
    "int4": "int4 (the GGUF's Q4_1) + oneDNN",
}


class PrepackedLinear(SwappedLinear):
    """An `nn.Linear` whose weight oneDNN reordered once: y = x Wᵀ + b, flat in x's rows."""

    packed_weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__(linear)
        weight = linear.weight.detach()
        # Buffers, not parameters: the packed layout is oneDNN's, not a trainable tensor.
        self.register_buffer("packed_weight", _reorder(weight), persistent=False)
        bias = None if linear.bias is None else linear.bias.detach()
        self.register_buffer("bias", bias, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(1, -1, self.in_features)
        if rows.shape[1] >= MIN_ROWS:
            return self._linear(x)
        # oneDNN streams the weight faster from 4 rows on: a whole SmolLM2 step over one row
        # took 62.2 ms here, over one row padded with zeros to 4 rows 59.0 ms (a lone 2-row
        # block: 66 ms; benchmarks/plain_step.py). Zero rows cost nothing in a memory-bound call.
        padded = nn.functional.pad(rows, (0, 0, 0, MIN_ROWS - rows.shape[1]))
        y = self._linear(padded)[:, : rows.shape[1]]
        return y.reshape(*x.shape[:-1], self.out_features)

    def _linear(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight, self.bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, oneDNN"


@dataclass(frozen=True)
class KernelChoice:
    """The kernel a model's linears run on, and why, where it is not the one asked for."""

    asked: str  # one of KERNEL_NAMES: "fast", "panel", "onednn", "default" or "int4"
    running: str  # what runs: "panel", "onednn", "default" or "int4" (KERNEL_LABELS)
    reason: str = ""  # why `running` differs from `asked` (empty when it does not)

    @property
    def label(self) -> str:
        """The running kernel as the header and the bench name it."""
        return KERNEL_LABELS[self.running]


def fast_kernel_problem(device: torch.device, dtype: torch.dtype) -> str | None:
    """Why the prepacked oneDNN kernel cannot run here (device, build, CPU), or None."""
    if device.type != "cpu":
        return f"it is a CPU kernel and the models run on {device.type}"
    if dtype not in (torch.float32, torch.bfloat16):
        return f"oneDNN's prepacked linear takes float32 or bfloat16, not {_dtype_name(dtype)}"
    return _probe(dtype)


@functools.cache
def _probe(dtype: torch.dtype) -> str | None:
    """Run the kernel once on a small matrix and compare with F.linear (a build without oneDNN,
    an old torch or a CPU without bfloat16 support fails here, not mid-decode)."""
    if not torch.backends.mkldnn.is_available():
        return "this torch build has no oneDNN (mkldnn)"
    if dtype == torch.bfloat16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "this CPU has no bfloat16 support in oneDNN"
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(48, 32, generator=generator).to(dtype)
    rows = torch.randn(3, 32, generator=generator).to(dtype)
    try:
        packed = _reorder(weight)
        got = torch.ops.mkldnn._linear_pointwise(rows, packed, None, "none", [], "")
    except (RuntimeError, AttributeError) as error:  # the op is missing or refuses this CPU
        return f"oneDNN's prepacked linear failed here ({str(error).splitlines()[0]})"
    want = nn.functional.linear(rows, weight)
    if not torch.allclose(got.float(), want.float(), rtol=1e-2, atol=1e-2):
        return "oneDNN's prepacked linear disagreed with F.linear on a test matrix"
    return None


def prepack_linears(model: nn.Module, asked: str, gguf: Path | None = None) -> KernelChoice:
    """Run `model`'s linear layers on the kernel `asked` for (one of KERNEL_NAMES).

    "fast" and "panel" swap each `nn.Linear` for a `PanelLinear` where the panel kernel runs
    here, "onednn" for a `PrepackedLinear`; "int4" first swaps the layers stored as Q4_1 in
    `gguf` (the file the model was converted from) for `Int4GroupLinear`s, then the rest as
    "onednn". Where the asked kernel cannot run, the next one does (int4 → oneDNN, panels →
    oneDNN → default) and the choice says why.
    """
    if asked == "default":
        return KernelChoice(asked, "default")
    parameter = next(model.parameters())
    panel = None
    if asked in ("fast", "panel"):
        threads = torch.get_num_threads()
        panel = panel_problem(parameter.device, parameter.dtype, threads)
        if panel is None:
            library = panel_library()
            assert not isinstance(library, str)
            _swap_linears(model, lambda linear: PanelLinear(linear, library))
            return KernelChoice(asked, "panel")
    problem = fast_kernel_problem(parameter.device, parameter.dtype)
    if panel is not None:  # the panels asked for cannot run: oneDNN, else torch's default
        if problem is not None:
            return KernelChoice(asked, "default", f"{panel}; oneDNN: {problem}")
        _swap_linears(model, PrepackedLinear)
        return KernelChoice(asked, "onednn", panel)
    if problem is not None:
        return KernelChoice(asked, "default", problem)
    if asked == "int4":
        problem = _int4_swap(model, parameter, gguf)
        _swap_linears(model, PrepackedLinear)
        return KernelChoice(asked, "onednn", problem) if problem else KernelChoice(asked, "int4")
    _swap_linears(model, PrepackedLinear)
    return KernelChoice(asked, "onednn")


def _int4_swap(model: nn.Module, parameter: torch.Tensor, gguf: Path | None) -> str | None:
    """Swap the model's Q4_1 layers for int4 ones; why not, where it cannot."""
    if gguf is None:
        return "int4 runs a GGUF file's own Q4_1 layers, and this model is not a GGUF file"
    if parameter.dtype != ACTIVATION_DTYPE:
        return f"int4 runs with bfloat16 activations, not {_dtype_name(parameter.dtype)}"
    return int4_problem(parameter.device) or swap_q4_1_linears(model, gguf)


def parameter_count(model: nn.Module) -> int:
    """The model's parameters as it was loaded: each tensor once, a prepacked weight included."""
    seen: dict[int, int] = {}
    for parameter in model.parameters():
        seen[parameter.untyped_storage().data_ptr()] = parameter.numel()
    total = sum(seen.values())
    for module in model.modules():
        if isinstance(module, Int4GroupLinear):
            total += module.in_features * module.out_features
        if isinstance(module, SwappedLinear):
            storage, numel = module.source
            if storage not in seen:
                seen[storage] = numel
                total += numel + module.bias_numel
    return total


def output_rows(model: nn.Module) -> int:
    """How many tokens the model's LM head scores (an `nn.Linear` or a swapped one)."""
    head = model.get_output_embeddings()  # type: ignore[operator]
    rows = getattr(head, "out_features", None)
    return int(rows) if rows is not None else int(head.weight.shape[0])


def _swap_linears(module: nn.Module, swapped: Callable[[nn.Linear], nn.Module]) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, swapped(child))
        else:
            _swap_linears(child, swapped)


def _reorder(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), None)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
