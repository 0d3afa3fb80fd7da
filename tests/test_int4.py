"""`--kernels int4`: a GGUF's own Q4_1 layers on torch's int4 kernel (`engine/models/int4.py`).

Opt-in and not exact: the tests hold it to the file's weights (every swapped layer checked
bit for bit against what transformers loaded), to the float32 model's argmax on most positions,
and to saying so (the models line, the fallbacks' reasons, the bench's kernel table).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from reference import verifier_greedy
from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

from spectui.bench.kernels import agreement_per_kernel, variant_models
from spectui.engine import DecodeConfig, load_pair
from spectui.engine.decode import encode_prompt
from spectui.engine.models.int4 import BLOCK_BYTES, GROUP, Int4GroupLinear, Q4Blocks
from spectui.engine.models.kernels import KernelChoice, PrepackedLinear, parameter_count
from spectui.engine.models.loading import ModelPair
from spectui.engine.prompts import SEED_PROMPTS
from spectui.models import REAL_PAIR, named_pair


def q4_1_tensor(rows: int, columns: int, seed: int = 0) -> np.ndarray:
    """Random Q4_1 blocks as a GGUF file stores them: float16 d and m, then 16 code bytes."""
    generator = np.random.default_rng(seed)
    groups = columns // GROUP
    scales = generator.uniform(0.001, 0.05, (rows, groups, 1)).astype(np.float16)
    minimums = generator.uniform(-0.4, 0.0, (rows, groups, 1)).astype(np.float16)
    codes = generator.integers(0, 256, (rows, groups, 16), dtype=np.uint8)
    blocks = np.concatenate([scales.view(np.uint8), minimums.view(np.uint8), codes], axis=-1)
    return blocks.reshape(rows, groups * BLOCK_BYTES)


def test_q4_1_blocks_read_as_ggufs_own_dequantization_reads_them() -> None:
    raw = q4_1_tensor(24, 96)
    want = gguf.dequantize(raw, gguf.GGMLQuantizationType.Q4_1).reshape(24, 96)
    assert torch.equal(Q4Blocks(raw).dequantized(), torch.from_numpy(want))


def test_q_and_k_rows_are_permuted_as_transformers_loader_permutes_them() -> None:
    raw = q4_1_tensor(36, 64)
    rows = Q4Blocks(raw).dequantized().numpy()
    processor = LlamaTensorProcessor(config={"num_attention_heads": 6, "num_key_value_heads": 3})
    want = processor.process(rows, "blk.0.attn_k.weight").weights
    assert np.array_equal(Q4Blocks(raw).rows_permuted(3).dequantized().numpy(), want)


def test_an_int4_linear_computes_the_dequantized_weights_product_up_to_bfloat16() -> None:
    blocks = Q4Blocks(q4_1_tensor(48, 128))
    layer, weight = blocks.linear(), blocks.dequantized()
    generator = torch.Generator().manual_seed(0)
    for rows in (1, 3, 6):
        x = torch.randn(1, rows, 128, generator=generator)
        want = x @ weight.T
        got = layer(x)
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert torch.allclose(got, want, rtol=0.02, atol=0.05 * float(want.abs().max()))
    assert "int4 g32" in repr(layer)


def test_int4_on_a_model_that_is_no_gguf_file_runs_on_onednn_and_says_why() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        pair = load_pair(DecodeConfig(device="cpu", kernels="int4"))
    assert pair.kernels is not None and pair.kernels.running == "onednn"
    assert "not a GGUF file" in pair.kernels.reason
    assert pair.dtype == torch.bfloat16  # --dtype auto on int4: its activations' precision
    assert not any(isinstance(m, Int4GroupLinear) for m in pair.verifier.modules())  # type: ignore[union-attr]


def test_the_models_line_says_int4_and_not_exact() -> None:
    from spectui.app.sessions import models_summary

    pair = ModelPair(None, None, None, torch.device("cpu"), torch.bfloat16, "d", "v", 1000, 0.0)
    line = models_summary(replace(pair, kernels=KernelChoice("int4", "int4")))
    assert line == "d → v · cpu · bfloat16 int4, not exact"


@pytest.fixture(scope="module")
def real_int4(smollm2_cache: Path) -> tuple[ModelPair, ModelPair]:
    pair = named_pair(REAL_PAIR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTUI_CACHE", str(smollm2_cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        config = DecodeConfig(drafter="ngram", verifier=pair.verifier, device="cpu")
        return load_pair(replace(config, kernels="int4")), load_pair(config)


@pytest.mark.smollm2
def test_the_real_verifiers_q4_1_layers_run_as_int4_and_its_head_does_not(
    real_int4: tuple[ModelPair, ModelPair],
) -> None:
    int4, exact = real_int4
    assert int4.kernels == KernelChoice("int4", "int4") and int4.dtype == torch.bfloat16
    model = int4.local("verifier")
    layers = [m for m in model.modules() if isinstance(m, Int4GroupLinear)]
    assert len(layers) == 7 * model.config.num_hidden_layers  # q k v o gate up down, each layer
    assert isinstance(model.get_output_embeddings(), PrepackedLinear)  # Q8_0 in the file
    assert parameter_count(model) == parameter_count(exact.local("verifier"))


@pytest.mark.smollm2
def test_on_the_real_verifier_int4_keeps_most_of_the_float32_argmax_and_the_bench_counts_the_rest(
    real_int4: tuple[ModelPair, ModelPair],
) -> None:
    int4, exact = real_int4
    prompt_ids = encode_prompt(exact, SEED_PROMPTS[0])
    ids = [*prompt_ids, *verifier_greedy(exact, prompt_ids, 32)]
    models = [
        ("panel", "float32", exact.local("verifier")),
        ("int4", "bfloat16", int4.local("verifier")),
    ]
    float32_row, int4_row = agreement_per_kernel(models, ids, len(prompt_ids), 4)
    assert float32_row["block_differs_from_step"] == 0  # the exact kernel
    assert int4_row["positions"] == 32
    # Not exact, but the same model: a step's argmax is the float32 one's at most positions.
    assert int4_row["step_differs_from_pair"] <= 8


@pytest.mark.smollm2
def test_the_bench_times_int4_beside_the_exact_kernels_where_the_verifier_is_a_gguf(
    real_int4: tuple[ModelPair, ModelPair], smollm2_cache: Path
) -> None:
    _, exact = real_int4
    config = DecodeConfig(drafter="ngram", verifier=named_pair(REAL_PAIR).verifier, device="cpu")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTUI_CACHE", str(smollm2_cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        models = variant_models(exact, config, lambda _: None, dtypes=("bfloat16",))
    assert [(kernel, dtype) for kernel, dtype, _ in models] == [
        ("panel", "float32"),
        ("panel", "bfloat16"),
        ("int4", "bfloat16"),
    ]
