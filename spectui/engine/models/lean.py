"""A Llama-family drafter run by a plain loop over its own layers, with a preallocated KV cache.

A drafter step is paid k times a round, and on a CPU a small drafter's step is mostly
transformers' Python, not arithmetic: the SmolLM2 drafter (2 layers) took 2.2 ms a step through
`LlamaForCausalLM.forward`, of which its linears were 0.9 ms. `LeanLlama` calls the model's own
modules (embedding, norms, projections, rotary embedding, MLP: the same arithmetic; the same
logits bit for bit as transformers' default SDPA attention) in one loop,
attends with `scaled_dot_product_attention` over a cache it allocates ahead (doubling as the
decode grows), and rolls back by setting a length: no mask building, no `torch.cat` into the cache,
no keyword plumbing or output records.

It serves the drafter only. The verifier stays on transformers' own forward, so that what
greedy-exact reproduces is the verifier's `generate`, never a reimplementation of it.
`lean_problem` says which models it cannot run (they keep `CachedModel`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional

from spectui.engine.models.cache import CachedModel

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from spectui.engine.models.draft_vocabulary import DraftVocabulary

# Positions the cache first makes room for; it doubles as a decode grows, up to the context
# (which is 128k positions for some Llama models: too much to allocate up front).
FIRST_CAPACITY = 256

# What a model's config must say for the loop below to be its forward.
LEAN_MODEL_TYPES = ("llama",)


def lean_problem(model: PreTrainedModel) -> str | None:
    """Why `model` cannot run on `LeanLlama`, or None."""
    config = model.config
    if config.model_type not in LEAN_MODEL_TYPES:
        return f"it runs Llama models, and this is {config.model_type}"
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        return "it runs Llama layers without biases"
    if getattr(config, "pretraining_tp", 1) != 1:
        return "it runs Llama layers without tensor-parallel slicing (pretraining_tp 1)"
    if getattr(model, "hf_device_map", None):
        # accelerate's hooks move each block's inputs to its device; this loop calls the
        # blocks' parts directly and keeps its cache on one device.
        return "it runs a model on one device, and this one was placed by --device-map"
    return None


def drafter_runner(
    model: PreTrainedModel,
    device: torch.device,
    vocab_size: int | None = None,
    draft_vocabulary: DraftVocabulary | None = None,
) -> CachedModel | LeanLlama:
    """What runs a drafter model and its cache: `LeanLlama` where it can, else `CachedModel`."""
    if lean_problem(model) is None:
        return LeanLlama(model, device, vocab_size, draft_vocabulary)
    return CachedModel(model, device, vocab_size, draft_vocabulary)


class LeanLlama:
    """A Llama causal LM and the KV cache of the sequence it has seen, in spectui's own loop.

    The same interface as `CachedModel`: `forward(feed, n_logits, positions, mask)`,
    `crop_to`, `keep_slots`, `cached_length`.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        device: torch.device,
        vocab_size: int | None = None,
        draft_vocabulary: DraftVocabulary | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.vocab_size = vocab_size
        self.draft_vocabulary = draft_vocabulary
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.context = config.max_position_embeddings
        decoder = model.model  # type: ignore[attr-defined]
        self.layers = list(decoder.layers)
        self.embed = decoder.embed_tokens
        self.norm = decoder.norm
        self.rotary = decoder.rotary_emb
        self.head = model.lm_head  # type: ignore[attr-defined]
        self.keys = self.values = torch.empty(0)
        self._reserve(min(self.context, FIRST_CAPACITY))
        self.length = 0

    @property
    def dtype(self) -> torch.dtype:
        """The model's parameter dtype (a tree mask's)."""
        return self.model.dtype

    @property
    def cached_length(self) -> int:
        """How many positions the cache holds."""
        return self.length

    def forward(
        self,
        feed: list[int],
        n_logits: int,
        positions: list[int] | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Extend the cache by `feed`; logits of its last n_logits positions: [n_logits, vocab].

        A token tree passes each fed token's `positions` and its additive `mask` ([1, 1,
        len(feed), cached + len(feed)], `tree.mask`); otherwise the feed follows the cache,
        causally.
        """
        start, rows = self.length, len(feed)
        if start + rows > self.context:
            raise ValueError(f"the drafter's context holds {self.context} positions")
        if start + rows > self.keys.shape[3]:
            self._reserve(min(self.context, max(start + rows, 2 * self.keys.shape[3])))
        input_ids = torch.tensor([feed], device=self.device)  # [1, M]
        if self.draft_vocabulary is not None:
            input_ids = self.draft_vocabulary.drafter_ids(input_ids)
        if positions is None:
            position_ids = torch.arange(start, start + rows, device=self.device)[None]  # [1, M]
        else:
            position_ids = torch.tensor([positions], device=self.device)  # [1, M]
        with torch.inference_mode():
            hidden = self.embed(input_ids)  # [1, M, hidden]
            cos, sin = self.rotary(hidden, position_ids)  # [1, M, head_dim] each
            rotation = (cos[:, None], sin[:, None])  # [1, 1, M, head_dim]
            attend = mask if mask is not None else _causal(start, rows, self.device)
            for index, layer in enumerate(self.layers):
                normed = layer.input_layernorm(hidden)
                hidden = hidden + self._attention(index, layer.self_attn, normed, rotation, attend)
                hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
            last = self.norm(hidden[:, -n_logits:])  # [1, n_logits, hidden]
            logits = self.head(last)[0].float()  # [n_logits, model's vocab]
        self.length = start + rows
        logits = logits.clone()  # an ordinary tensor: the callers may warp it in place
        if self.draft_vocabulary is not None:
            return self.draft_vocabulary.full_logits(logits)  # [n_logits, tokenizer's vocab]
        return logits[:, : self.vocab_size]

    def _attention(
        self,
        index: int,
        attention: Any,  # transformers' LlamaAttention: its projections and scaling
        normed: torch.Tensor,
        rotation: tuple[torch.Tensor, torch.Tensor],
        attend: torch.Tensor | None,
    ) -> torch.Tensor:
        """One layer's self-attention over the cache and the feed; writes the feed's keys and
        values into the cache at [length, length + M)."""
        rows = normed.shape[1]
        start, end = self.length, self.length + rows
        query = _heads(attention.q_proj(normed), self.heads, self.head_dim)  # [1, H, M, d]
        key = _heads(attention.k_proj(normed), self.kv_heads, self.head_dim)  # [1, KV, M, d]
        value = _heads(attention.v_proj(normed), self.kv_heads, self.head_dim)  # [1, KV, M, d]
        self.keys[index, :, :, start:end] = _rotated(key, rotation)
        self.values[index, :, :, start:end] = value
        out = functional.scaled_dot_product_attention(
            _rotated(query, rotation),
            self.keys[index, :, :, :end],  # [1, KV, length + M, d]
            self.values[index, :, :, :end],
            attn_mask=attend,
            scale=attention.scaling,
            enable_gqa=self.heads != self.kv_heads,
        )  # [1, H, M, d]
        return attention.o_proj(out.transpose(1, 2).reshape(1, rows, self.heads * self.head_dim))

    def _reserve(self, capacity: int) -> None:
        """Room for `capacity` positions in every layer's cache (what it holds is kept)."""
        shape = (len(self.layers), 1, self.kv_heads, capacity, self.head_dim)
        with torch.inference_mode():
            keys = torch.zeros(shape, dtype=self.model.dtype, device=self.device)
            values = torch.zeros(shape, dtype=self.model.dtype, device=self.device)
            held = min(self.keys.shape[3], capacity) if self.keys.dim() == 5 else 0
            if held:
                keys[:, :, :, :held] = self.keys[:, :, :, :held]
                values[:, :, :, :held] = self.values[:, :, :, :held]
        self.keys, self.values = keys, values

    def crop_to(self, length: int) -> None:
        """Drop cached positions beyond `length` (they are overwritten by the next feed)."""
        self.length = min(self.length, length)

    def keep_slots(self, slots: list[int]) -> None:
        """Compact the cache to the positions `slots`, in that order (a tree round's path)."""
        index = torch.tensor(slots, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            for cache in (self.keys, self.values):
                cache[:, :, :, : len(slots)] = cache.index_select(3, index)
        self.length = len(slots)


def _heads(projected: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """[1, M, heads · d] as [1, heads, M, d]."""
    return projected.view(1, projected.shape[1], heads, head_dim).transpose(1, 2)


def _rotated(states: torch.Tensor, rotation: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotary position embedding, transformers' Llama formula: x·cos + rotate_half(x)·sin."""
    cos, sin = rotation
    half = states.shape[-1] // 2
    rotated_half = torch.cat((-states[..., half:], states[..., :half]), dim=-1)
    return states * cos + rotated_half * sin


def _causal(start: int, rows: int, device: torch.device) -> torch.Tensor | None:
    """Feed row i sees the cache and feed rows ≤ i ([1, 1, M, start + M], True = seen); None
    for one row, which sees everything."""
    if rows == 1:
        return None
    seen = torch.ones(rows, start + rows, dtype=torch.bool, device=device).tril(start)
    return seen[None, None]
