"""spectui's panel kernel: linear layers that stream each weight once, at memory speed.

A decode step multiplies a handful of rows by every weight matrix, so its cost is reading
540 MB of float32 weights (SmolLM2-135M), not arithmetic. On one thread of this CPU, torch's
float32 `F.linear` (MKL) read them at 11 GB/s, oneDNN with prepacked weights at 16 GB/s, and
a plain sum over the same bytes at 30 GB/s. `panel.c` lays each weight out once, at load, as
panels of 32 output columns and reads every panel front to back once per call for all rows:
19.5 ms for the whole verifier's linears at 1 row, 21–22 ms at 4 or 6 rows, against
oneDNN's 31–39 ms (`benchmarks/linear_kernels.py`). Each output is a float32 sum in a fixed
order whatever the rows, so a block of rows is bit for bit one row at a time.

The C file ships with the package and is compiled here at first use with the machine's C
compiler for its own vector width (`-march=native`), into spectui's cache, keyed by the
source, the compiler and the CPU's flags. It runs on one thread; where it cannot run (no
compiler, no AVX2 or AVX-512, more threads asked for, a failed check) the kernel choice
falls back to oneDNN and says why (`kernels.py`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
from torch import nn

from spectui.engine.models.gguf import cache_root
from spectui.engine.models.swapped import SwappedLinear

SOURCE = Path(__file__).with_name("panel.c")
PANEL = 32  # output columns per panel (panel.c's PANEL)
DTYPES = (torch.float32, torch.bfloat16)
FLAGS = (
    "-O3",
    "-march=native",
    "-ffp-contract=fast",
    "-std=gnu11",
    "-fPIC",
    "-shared",
    "-Wno-psabi",
)


class PanelLinear(SwappedLinear):
    """An `nn.Linear` run by the panel kernel: y = x Wᵀ + b, W read once per call."""

    panels: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: nn.Linear, library: PanelLibrary) -> None:
        super().__init__(linear)
        weight = linear.weight.detach()
        self.register_buffer("panels", weight_panels(weight), persistent=False)
        bias = None if linear.bias is None else linear.bias.detach().float()
        self.register_buffer("bias", bias, persistent=False)
        self._multiply = library.multiply[weight.dtype]
        self._padded_out = self.panels.shape[0] * PANEL

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float().contiguous()  # [M, in]
        if rows.shape[0] == 0:
            return x.new_zeros(*x.shape[:-1], self.out_features)
        y = torch.empty(rows.shape[0], self._padded_out)  # [M, out rounded up to 32]
        status = self._multiply(
            rows.data_ptr(),
            self.panels.data_ptr(),
            y.data_ptr(),
            rows.shape[0],
            self._padded_out,
            self.in_features,
        )
        if status != 0:
            raise RuntimeError(f"the panel kernel refused a {tuple(rows.shape)} input")
        y = y[:, : self.out_features]
        if self.bias is not None:
            y = y + self.bias
        return y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, panels"


def weight_panels(weight: torch.Tensor) -> torch.Tensor:
    """W [out, in] as panels [⌈out/32⌉, in, 32] (zero columns past `out`); bfloat16 is kept
    as its raw 16 bits, which panel.c widens to float32."""
    out_features, in_features = weight.shape
    padded = -out_features % PANEL
    if padded:
        weight = nn.functional.pad(weight, (0, 0, 0, padded))
    panels = weight.reshape(-1, PANEL, in_features).transpose(1, 2).contiguous()
    return panels.view(torch.int16) if weight.dtype == torch.bfloat16 else panels


class PanelLibrary:
    """The compiled panel.c: one multiply per weight dtype."""

    def __init__(self, path: Path) -> None:
        library = ctypes.CDLL(str(path))
        self.vector_bits = int(library.spectui_panel_vector_bits())
        arguments = [ctypes.c_void_p] * 3 + [ctypes.c_int64] * 3
        self.multiply = {}
        for dtype, name in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
            function = getattr(library, f"spectui_panel_{name}")
            function.argtypes = arguments
            function.restype = ctypes.c_int
            self.multiply[dtype] = function


def panel_problem(device: torch.device, dtype: torch.dtype, threads: int) -> str | None:
    """Why the panel kernel cannot run a model here, or None."""
    if device.type != "cpu":
        return f"the panel kernel is a CPU kernel and the models run on {device.type}"
    if dtype not in DTYPES:
        name = str(dtype).removeprefix("torch.")
        return f"the panel kernel takes float32 or bfloat16 weights, not {name}"
    if threads != 1:
        return f"the panel kernel runs on one thread and this decode runs on {threads}"
    library = panel_library()
    if isinstance(library, str):
        return library
    return _check(dtype)


@functools.cache
def panel_library() -> PanelLibrary | str:
    """The panel kernel built for this machine (from the cache, or compiled now); a string
    saying why not where it cannot be built or should not be used."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"the panel kernel is built for x86-64 vectors and this CPU is {platform.machine()}"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return "the panel kernel is compiled at first use and this machine has no C compiler (cc)"
    path = cache_root() / "kernels" / f"panel-{_build_key(compiler)}.so"
    if not path.is_file():
        problem = _compile(compiler, path)
        if problem is not None:
            return problem
    library = PanelLibrary(path)
    if library.vector_bits == 0:
        return "the panel kernel needs AVX-512 or AVX2 with FMA, and this CPU has neither"
    return library


def _build_key(compiler: str) -> str:
    """The source, the compiler's version and the CPU's flags: a build is only reused where
    it was built for this machine."""
    version = subprocess.run(
        [compiler, "--version"], capture_output=True, text=True, check=False
    ).stdout
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(version.encode())
    digest.update(" ".join(FLAGS).encode())
    digest.update(_cpu_flags().encode())
    return digest.hexdigest()[:16]


def _cpu_flags() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((line for line in lines if line.startswith("flags")), "")


def _compile(compiler: str, path: Path) -> str | None:
    """Compile panel.c to `path` (atomically: two processes may build it at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(suffix=".so", dir=path.parent)
    os.close(handle)
    try:
        done = subprocess.run(
            [compiler, *FLAGS, str(SOURCE), "-o", scratch],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            return f"{Path(compiler).name} could not compile the panel kernel ({first})"
        os.replace(scratch, path)
        return None
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


@functools.cache
def _check(dtype: torch.dtype) -> str | None:
    """Run the kernel on a small matrix: F.linear's result, and a block of rows bit for bit
    what one row at a time gives (a miscompiled or mis-targeted build fails here)."""
    library = panel_library()
    assert not isinstance(library, str)
    generator = torch.Generator().manual_seed(0)
    linear = nn.Linear(80, 70, bias=False).to(dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(70, 80, generator=generator))
    panel = PanelLinear(linear, library)
    rows = torch.randn(11, 80, generator=generator).to(dtype)
    with torch.inference_mode():
        block = panel(rows)
        steps = torch.cat([panel(rows[i : i + 1]) for i in range(rows.shape[0])])
        want = nn.functional.linear(rows.float(), linear.weight.float())
    if not torch.allclose(block.float(), want, rtol=1e-2, atol=1e-2):
        return "the panel kernel disagreed with F.linear on a test matrix"
    if not torch.equal(block, steps):
        return "the panel kernel gave a block of rows other sums than one row at a time"
    return None
