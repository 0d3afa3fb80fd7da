"""The GGUF's own Q4_1 groups as int4 weights: `--kernels int4` (opt-in, not exact).

A Q4_1 block holds 32 weights of one row as 4-bit codes q with a float16 scale d and minimum m
(w = d·q + m). torch's CPU int4 weight-only kernel (`_weight_int4pack_mm_for_cpu`) reads the
same groups (w = (q − 8)·scale + zero, so scale = d, zero = m + 8d) and streams a quarter of the
bytes a float32 weight does. It is fast only with bfloat16 activations (float32 ones take a
reference path ~30× slower here), and its scales and zeros are then bfloat16 too: the weights
it multiplies are the file's up to bfloat16 rounding of d and m, so greedy-exact is not the
float32 verifier's text. The LM head (Q8_0 in the SmolLM2 file, and tied to the embedding)
stays on oneDNN: an int4 head would move the argmax itself.

Each int4 linear is checked against the weight transformers loaded from the same file (the
rows dequantized and rounded as the model's were, bit for bit): a tensor that does not match,
or a GGUF this module cannot map, leaves the model on the oneDNN kernel and says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

GROUP = 32  # weights per Q4_1 block
BLOCK_BYTES = 20  # float16 d, float16 m, 16 bytes of two 4-bit codes each
INNER_K_TILES = 2  # the packing torch's CPU int4 kernel takes (one of 2, 4, 8)
ROW_MULTIPLE = 16  # torch's CPU int4 packing takes a multiple of 16 output rows
ACTIVATION_DTYPE = torch.bfloat16

# A Llama-family layer's linears and the GGUF tensors they are read from (llama.cpp's names).
_LAYER_LINEAR = re.compile(r"^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)$")
_GGUF_NAMES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}


class Int4GroupLinear(nn.Module):
    """y = x Wᵀ with W held as 4-bit codes in groups of 32 along each row, as the GGUF's Q4_1."""

    packed_weight: torch.Tensor
    scales_and_zeros: torch.Tensor

    def __init__(self, codes: torch.Tensor, scales: torch.Tensor, minimums: torch.Tensor) -> None:
        super().__init__()
        self.out_features, self.in_features = codes.shape
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes, INNER_K_TILES)
        self.register_buffer("packed_weight", packed, persistent=False)
        zeros = minimums + 8 * scales
        pairs = torch.stack([scales, zeros], dim=-1).transpose(0, 1).contiguous()
        self.register_buffer("scales_and_zeros", pairs.to(ACTIVATION_DTYPE), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(ACTIVATION_DTYPE)
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(
            rows, self.packed_weight, GROUP, self.scales_and_zeros
        )
        return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int4 g{GROUP}"


class Q4Blocks:
    """One Q4_1 tensor of a GGUF file: its rows' codes, scales and minimums."""

    def __init__(self, raw: np.ndarray) -> None:
        blocks = np.asarray(raw).reshape(raw.shape[0], -1, BLOCK_BYTES)
        self.scales = blocks[:, :, 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
        self.minimums = blocks[:, :, 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
        low_high = blocks[:, :, 4:]
        # A block's byte j holds weight j in its low nibble and weight j + 16 in its high one.
        codes = np.concatenate([low_high & 0xF, low_high >> 4], axis=-1)
        self.codes = codes.reshape(raw.shape[0], -1).astype(np.int32)

    def rows_permuted(self, heads: int) -> Q4Blocks:
        """The rows in transformers' order for a q or k projection: llama.cpp stores each head's
        rotary halves interleaved, and transformers' GGUF loader undoes it (rows only: a row's
        groups are untouched)."""
        permuted = object.__new__(Q4Blocks)
        for name in ("scales", "minimums", "codes"):
            rows = getattr(self, name)
            half = rows.shape[0] // heads // 2
            shaped = rows.reshape(heads, half, 2, *rows.shape[1:])
            setattr(permuted, name, shaped.swapaxes(2, 1).reshape(rows.shape))
        return permuted

    def dequantized(self) -> torch.Tensor:
        """w = d·q + m in float32, as gguf's `dequantize` (and so transformers) computes it."""
        scales = np.repeat(self.scales, GROUP, axis=1)
        minimums = np.repeat(self.minimums, GROUP, axis=1)
        return torch.from_numpy((scales * self.codes + minimums).astype(np.float32))

    def linear(self) -> Int4GroupLinear:
        return Int4GroupLinear(
            torch.from_numpy(self.codes),
            torch.from_numpy(self.scales),
            torch.from_numpy(self.minimums),
        )


def int4_problem(device: torch.device) -> str | None:
    """Why torch's CPU int4 kernel cannot run here, or None (tried once on a small matrix)."""
    if device.type != "cpu":
        return f"it is a CPU kernel and the models run on {device.type}"
    try:
        codes = torch.arange(64 * 32, dtype=torch.int32).reshape(64, 32) % 16
        layer = Int4GroupLinear(codes, torch.ones(64, 1), torch.zeros(64, 1))
        layer(torch.ones(1, 32))
    except (RuntimeError, AttributeError) as error:
        return f"torch's int4 CPU kernel failed here ({str(error).splitlines()[0]})"
    return None


def swap_q4_1_linears(model: nn.Module, file: Path) -> str | None:
    """Replace each of `model`'s layer linears stored as Q4_1 in `file` by its int4 form; None
    when every one was swapped, else why none was (the model is then left as it was)."""
    try:
        import gguf
    except ImportError:
        return "the gguf package is not installed"
    reader = gguf.GGUFReader(file)
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    heads, kv_heads = _heads(model)
    swaps: list[tuple[nn.Module, str, Int4GroupLinear]] = []
    for name, parent, child_name, linear in _layer_linears(model):
        tensor = tensors.get(_gguf_name(name))
        if tensor is None or tensor.tensor_type != gguf.GGMLQuantizationType.Q4_1:
            return f"{name} is not a Q4_1 tensor of {file.name}"
        if tensor.data.shape[0] % ROW_MULTIPLE:
            return f"{name} has {tensor.data.shape[0]} rows, not a multiple of {ROW_MULTIPLE}"
        blocks = Q4Blocks(tensor.data)
        if child_name in ("q_proj", "k_proj"):
            blocks = blocks.rows_permuted(heads if child_name == "q_proj" else kv_heads)
        weight = _loaded_weight(linear)
        if weight is None or not torch.equal(blocks.dequantized().to(weight.dtype), weight):
            return f"{name}'s Q4_1 rows in {file.name} do not match the loaded weight"
        swaps.append((parent, child_name, blocks.linear()))
    if not swaps:
        return f"no layer of the model maps to a Q4_1 tensor of {file.name}"
    for parent, child_name, layer in swaps:
        setattr(parent, child_name, layer)
    return None


def _layer_linears(model: nn.Module) -> Iterator[tuple[str, nn.Module, str, nn.Module]]:
    modules = dict(model.named_modules())
    for name, module in modules.items():
        match = _LAYER_LINEAR.match(name)
        if match and match.group(3) in _GGUF_NAMES:
            parent_name, _, child_name = name.rpartition(".")
            yield name, modules[parent_name], child_name, module


def _gguf_name(module_name: str) -> str:
    match = _LAYER_LINEAR.match(module_name)
    assert match is not None
    return f"blk.{match.group(1)}.{_GGUF_NAMES[match.group(3)]}.weight"


def _heads(model: nn.Module) -> tuple[int, int]:
    config: Any = getattr(model, "config", None)
    heads = int(getattr(config, "num_attention_heads", 1))
    return heads, int(getattr(config, "num_key_value_heads", None) or heads)


def _loaded_weight(linear: nn.Module) -> torch.Tensor | None:
    """The weight transformers loaded into this linear (before any prepacking)."""
    weight = getattr(linear, "weight", None)
    return weight.detach() if isinstance(weight, torch.Tensor) else None
