"""The CPU kernels a local model's linear layers run on (`engine/models/kernels.py`).

The fast kernels (spectui's panels, oneDNN with weights prepacked once) must compute what
torch's default computes:
the same argmax along real text, a block of rows the same argmax as one row at a time, and
greedy-exact the verifier's own `generate` token for token. Where it cannot run, the model
stays on the default kernel and the pair says why.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from reference import verifier_greedy
from torch import nn

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.config import ConfigError
from spectui.engine.decode import encode_prompt
from spectui.engine.events import DecodeFinished
from spectui.engine.models.agreement import block_step_argmaxes
from spectui.engine.models.kernels import (
    KernelChoice,
    PanelLinear,
    PrepackedLinear,
    fast_kernel_problem,
    prepack_linears,
)
from spectui.engine.models.loading import ModelPair
from spectui.engine.prompts import SEED_PROMPTS
from spectui.models import REAL_PAIR, named_pair


def finished(decoder: SpeculativeDecoder) -> DecodeFinished:
    return next(e for e in decoder.events() if isinstance(e, DecodeFinished))


def test_a_prepacked_linear_computes_f_linear_for_any_number_of_rows() -> None:
    generator = torch.Generator().manual_seed(0)
    linear = nn.Linear(96, 200, bias=True)
    packed = PrepackedLinear(linear)
    for rows in (1, 2, 3, 6, 17):
        x = torch.randn(1, rows, 96, generator=generator)
        assert torch.allclose(packed(x), linear(x), atol=1e-5, rtol=1e-5)
    assert packed.out_features == 200 and "oneDNN" in repr(packed)


def test_prepacking_swaps_every_linear_and_default_leaves_the_model_alone() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 4)))
    assert prepack_linears(model, "default") == KernelChoice("default", "default")
    assert all(not isinstance(m, PrepackedLinear) for m in model.modules())
    assert prepack_linears(model, "onednn") == KernelChoice("onednn", "onednn")
    assert sum(isinstance(m, PrepackedLinear) for m in model.modules()) == 2
    assert not any(isinstance(m, nn.Linear) for m in model.modules())


def test_where_the_kernel_cannot_run_the_model_stays_and_the_choice_says_why() -> None:
    model = nn.Sequential(nn.Linear(8, 8)).half()
    choice = prepack_linears(model, "fast")
    assert choice.running == "default" and "float16" in choice.reason
    assert isinstance(model[0], nn.Linear)
    assert "CPU kernel" in (fast_kernel_problem(torch.device("cuda"), torch.float32) or "")


def test_the_kernels_setting_is_checked_like_any_other() -> None:
    assert DecodeConfig().kernels == "fast"
    with pytest.raises(ConfigError, match="kernels"):
        DecodeConfig(kernels="turbo")


@pytest.fixture(scope="module")
def tiny_both() -> tuple[ModelPair, ModelPair]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        fast = load_pair(DecodeConfig(device="cpu", max_new_tokens=40))
        default = load_pair(DecodeConfig(device="cpu", max_new_tokens=40, kernels="default"))
    return fast, default


def test_the_bundled_pair_loads_on_the_fast_kernel_by_default(
    tiny_both: tuple[ModelPair, ModelPair],
) -> None:
    fast, default = tiny_both
    assert fast.kernels == KernelChoice("fast", "panel")
    assert default.kernels == KernelChoice("default", "default")
    for model in (fast.verifier, fast.drafter):
        assert isinstance(model.get_output_embeddings(), PanelLinear)  # type: ignore[union-attr]


def test_on_the_bundled_pair_greedy_exact_on_fast_kernels_is_the_default_kernels_generate(
    tiny_both: tuple[ModelPair, ModelPair],
) -> None:
    fast, default = tiny_both
    config = DecodeConfig(device="cpu", max_new_tokens=40, policy="greedy")
    for prompt in SEED_PROMPTS:
        prompt_ids = encode_prompt(fast, prompt)
        decoded = finished(SpeculativeDecoder(fast, config, prompt_ids))
        assert list(decoded.output_ids) == verifier_greedy(default, prompt_ids, 40)


def test_on_the_bundled_verifier_a_block_gives_the_argmax_a_step_gives(
    tiny_both: tuple[ModelPair, ModelPair],
) -> None:
    fast, _ = tiny_both
    for prompt in SEED_PROMPTS:
        prompt_ids = encode_prompt(fast, prompt)
        ids = [*prompt_ids, *verifier_greedy(fast, prompt_ids, 24)]
        for block in (2, 4, 6):
            steps, blocks = block_step_argmaxes(fast.verifier, ids, len(prompt_ids), block)  # type: ignore[arg-type]
            assert steps == blocks


@pytest.fixture(scope="module")
def real_both(smollm2_cache: Path) -> tuple[ModelPair, ModelPair]:
    pair = named_pair(REAL_PAIR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTUI_CACHE", str(smollm2_cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        config = DecodeConfig(drafter=pair.drafter, verifier=pair.verifier, device="cpu")
        return load_pair(config), load_pair(replace(config, kernels="default"))


@pytest.mark.smollm2
def test_on_the_real_verifier_a_block_of_2_3_or_5_rows_gives_every_steps_argmax(
    real_both: tuple[ModelPair, ModelPair],
) -> None:
    fast, default = real_both
    assert fast.kernels == KernelChoice("fast", "panel")
    for prompt in SEED_PROMPTS:
        prompt_ids = encode_prompt(fast, prompt)
        ids = [*prompt_ids, *verifier_greedy(default, prompt_ids, 32)]
        for block in (2, 3, 5):
            steps, blocks = block_step_argmaxes(fast.verifier, ids, len(prompt_ids), block)  # type: ignore[arg-type]
            assert steps == blocks, (prompt, block)
            # ... and each is the default kernel's own greedy text (the last predicts past it).
            assert steps[:-1] == ids[len(prompt_ids) + 1 :]


@pytest.mark.smollm2
def test_on_the_real_pair_greedy_exact_on_fast_kernels_is_the_default_kernels_generate(
    real_both: tuple[ModelPair, ModelPair],
) -> None:
    fast, default = real_both
    config = DecodeConfig(device="cpu", max_new_tokens=64, policy="greedy", draft_span=3)
    for prompt in SEED_PROMPTS:
        prompt_ids = encode_prompt(fast, prompt)
        decoded = finished(SpeculativeDecoder(fast, config, prompt_ids))
        assert list(decoded.output_ids) == verifier_greedy(default, prompt_ids, 64)


def test_a_decode_runs_on_half_the_cores_unless_threads_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spectui.engine.models.loading import engine_threads

    cpu = torch.device("cpu")
    for cores, threads in ((1, 1), (2, 1), (3, 1), (16, 8)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert engine_threads(None, cpu) == threads
    assert engine_threads(3, cpu) == 3  # --threads wins


def test_the_models_line_names_the_default_kernel_and_an_inexact_precision_only() -> None:
    from spectui.app.sessions import models_summary

    def line(kernel: str, dtype: torch.dtype) -> str:
        pair = ModelPair(None, None, None, torch.device("cpu"), dtype, "d", "v", 1000, 0.0)
        return models_summary(replace(pair, kernels=KernelChoice("fast", kernel)))

    assert line("panel", torch.float32) == "d → v · cpu · float32"  # the default says nothing
    assert line("onednn", torch.float32) == "d → v · cpu · float32 oneDNN"
    assert line("default", torch.float32) == "d → v · cpu · float32 MKL"
    assert line("panel", torch.bfloat16) == "d → v · cpu · bfloat16, not exact"


@pytest.mark.smollm2
def test_the_default_pairs_drafter_runs_in_bfloat16_unless_told_otherwise(
    smollm2_file: Path,
) -> None:
    from spectui.cli import build_parser
    from spectui.commands.options import config_from_args

    def drafter_dtype(*argv: str) -> str:
        return config_from_args(build_parser().parse_args(["run", *argv])).drafter_dtype

    assert drafter_dtype("--pair", "smollm2-135m") == "bfloat16"
    assert drafter_dtype("--pair", "smollm2-135m", "--drafter-dtype", "float32") == "float32"
    assert drafter_dtype("--pair", "tiny") == "auto"  # the tiny pair: --dtype's
    assert drafter_dtype("--pair", "smollm2-135m", "--drafter", "ngram") == "auto"


def test_a_drafter_dtype_runs_the_drafter_alone_in_it(
    tiny_both: tuple[ModelPair, ModelPair],
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        pair = load_pair(DecodeConfig(device="cpu", drafter_dtype="bfloat16"))
    assert pair.drafter.dtype == torch.bfloat16 and pair.verifier.dtype == torch.float32  # type: ignore[union-attr]
    fast, _ = tiny_both
    config = DecodeConfig(device="cpu", max_new_tokens=24, policy="greedy")
    prompt_ids = encode_prompt(pair, SEED_PROMPTS[0])
    decoded = finished(SpeculativeDecoder(pair, config, prompt_ids))
    assert list(decoded.output_ids) == verifier_greedy(fast, prompt_ids, 24)  # still exact
