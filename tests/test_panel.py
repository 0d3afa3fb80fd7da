"""spectui's panel kernel (`engine/models/panel.py`, `panel.c`): F.linear's product, a block
of rows bit for bit one row at a time, built once per machine, and a fallback that says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from spectui.engine.models import panel
from spectui.engine.models.kernels import (
    KernelChoice,
    PanelLinear,
    PrepackedLinear,
    parameter_count,
    prepack_linears,
)
from spectui.engine.models.panel import panel_library, panel_problem, weight_panels

CPU = torch.device("cpu")


@pytest.fixture
def library() -> panel.PanelLibrary:
    built = panel_library()
    if isinstance(built, str):
        pytest.skip(f"the panel kernel cannot run here: {built}")
    return built


@pytest.fixture
def fresh_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty spectui cache and no memory of an earlier build (restored after)."""
    monkeypatch.setenv("SPECTUI_CACHE", str(tmp_path))
    panel_library.cache_clear()
    panel._check.cache_clear()
    yield tmp_path / "kernels"
    panel_library.cache_clear()
    panel._check.cache_clear()


def linear(in_features: int, out_features: int, dtype: torch.dtype, bias: bool) -> nn.Linear:
    generator = torch.Generator().manual_seed(in_features * 1000 + out_features)
    layer = nn.Linear(in_features, out_features, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(out_features, in_features, generator=generator))
        if bias:
            layer.bias.copy_(torch.randn(out_features, generator=generator))
    return layer.to(dtype)


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 6, 8, 9, 17])
@pytest.mark.parametrize("shape", [(96, 200), (576, 192), (13, 32)])
def test_a_panel_linear_computes_f_linear(
    library: panel.PanelLibrary, rows: int, shape: tuple[int, int]
) -> None:
    in_features, out_features = shape
    layer = linear(in_features, out_features, torch.float32, bias=True)
    x = torch.randn(1, rows, in_features, generator=torch.Generator().manual_seed(rows))
    with torch.inference_mode():
        got = PanelLinear(layer, library)(x)
        want = layer(x)
    assert got.shape == want.shape == (1, rows, out_features)
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-5)


def test_no_rows_give_no_rows(library: panel.PanelLibrary) -> None:
    layer = PanelLinear(linear(16, 40, torch.float32, bias=True), library)
    assert layer(torch.zeros(1, 0, 16)).shape == (1, 0, 40)


def test_in_bfloat16_it_sums_in_float32_and_rounds_once(library: panel.PanelLibrary) -> None:
    layer = linear(64, 100, torch.bfloat16, bias=False)
    x = torch.randn(5, 64, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    with torch.inference_mode():
        got = PanelLinear(layer, library)(x)
    want = (x.float() @ layer.weight.float().T).to(torch.bfloat16)  # exact sums, one rounding
    assert got.dtype == torch.bfloat16
    assert torch.allclose(got.float(), want.float(), atol=0, rtol=2**-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_block_of_rows_is_bit_for_bit_one_row_at_a_time(
    library: panel.PanelLibrary, dtype: torch.dtype
) -> None:
    layer = PanelLinear(linear(200, 96, dtype, bias=False), library)
    x = torch.randn(17, 200, generator=torch.Generator().manual_seed(2)).to(dtype)
    with torch.inference_mode():
        steps = [layer(x[i : i + 1]) for i in range(17)]
        for rows in (2, 4, 7, 8, 9, 17):
            assert torch.equal(layer(x[:rows]), torch.cat(steps[:rows])), rows


def test_panels_hold_32_output_columns_each_padded_with_zeros() -> None:
    weight = torch.arange(70 * 5, dtype=torch.float32).reshape(70, 5)
    panels = weight_panels(weight)
    assert panels.shape == (3, 5, 32)
    for p, k, j in ((0, 0, 0), (0, 4, 31), (1, 2, 7), (2, 3, 5)):
        assert panels[p, k, j] == weight[32 * p + j, k]
    assert not panels[2, :, 6:].any()  # columns 70..95 do not exist
    bf16 = weight_panels(weight.to(torch.bfloat16))
    assert bf16.dtype == torch.int16 and torch.equal(
        bf16.view(torch.bfloat16).float(), panels.to(torch.bfloat16).float()
    )


def test_fast_swaps_every_linear_for_panels_and_counts_the_same_parameters(
    library: panel.PanelLibrary,
) -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 4)))
    before = parameter_count(model)
    assert prepack_linears(model, "fast") == KernelChoice("fast", "panel")
    assert sum(isinstance(m, PanelLinear) for m in model.modules()) == 2
    assert parameter_count(model) == before
    assert "panels" in repr(model[0])


def test_on_more_than_one_thread_fast_runs_on_onednn_and_says_why(
    library: panel.PanelLibrary,
) -> None:
    model = nn.Sequential(nn.Linear(8, 8))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        choice = prepack_linears(model, "fast")
    finally:
        torch.set_num_threads(before)
    assert choice.running == "onednn"
    assert choice.reason == "the panel kernel runs on one thread and this decode runs on 2"
    assert isinstance(model[0], PrepackedLinear)
    assert prepack_linears(nn.Sequential(nn.Linear(8, 8)), "onednn") == KernelChoice(
        "onednn", "onednn"
    )


def test_it_says_why_it_cannot_run() -> None:
    assert "CPU kernel" in (panel_problem(torch.device("cuda"), torch.float32, 1) or "")
    assert "not float16" in (panel_problem(CPU, torch.float16, 1) or "")
    assert "one thread" in (panel_problem(CPU, torch.float32, 4) or "")


def test_it_is_built_once_per_machine_and_reused(fresh_build: Path) -> None:
    first = panel_library()
    if isinstance(first, str):
        pytest.skip(f"the panel kernel cannot be built here: {first}")
    built = list(fresh_build.glob("panel-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    panel_library.cache_clear()
    assert not isinstance(panel_library(), str)  # a new process: loaded, not compiled again
    assert built[0].stat().st_mtime_ns == stamp and list(fresh_build.iterdir()) == built


def test_without_a_compiler_the_model_runs_on_onednn_and_the_choice_says_why(
    fresh_build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(panel.shutil, "which", lambda _name: None)
    assert panel_library() == (
        "the panel kernel is compiled at first use and this machine has no C compiler (cc)"
    )
    model = nn.Sequential(nn.Linear(8, 8))
    choice = prepack_linears(model, "fast")
    assert choice.running == "onednn" and "no C compiler" in choice.reason
    assert isinstance(model[0], PrepackedLinear)


def test_a_compiler_that_fails_is_named_with_its_first_line(
    fresh_build: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    failing = tmp_path / "cc"
    failing.write_text("#!/bin/sh\necho 'cc: error: unknown target' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setenv("CC", str(failing))
    assert panel_library() == "cc could not compile the panel kernel (cc: error: unknown target)"
    assert not list(fresh_build.glob("*.so"))  # nothing half-written left behind


def test_on_another_cpu_architecture_it_says_so(
    fresh_build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(panel.platform, "machine", lambda: "aarch64")
    assert panel_library() == (
        "the panel kernel is built for x86-64 vectors and this CPU is aarch64"
    )
