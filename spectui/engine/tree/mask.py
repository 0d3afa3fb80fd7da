"""Attention over a token tree: the mask, the positions, compacting a KV cache to one path,
and which architectures can take it.

transformers 5.24 (`masking_utils._preprocess_mask_arguments`: "If the mask is already 4D,
simply return as-is") passes a 4D `attention_mask` of shape [batch, 1, query, key] straight to
the attention function; its eager path adds it to the scores (`attn_weights + attention_mask`)
and SDPA takes it as `attn_mask`, so an additive float mask (0 seen, the dtype's min hidden)
works in both. `position_ids` set each node's position to base + depth. Flash attention
takes no such mask and flex attention wants a BlockMask: trees are refused for them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import DynamicCache, PreTrainedModel

MASKABLE_ATTENTION = ("eager", "sdpa")


def tree_mask(
    sees: Sequence[tuple[int, Sequence[int]]], n_keys: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """The additive mask [1, 1, queries, n_keys] where query i sees keys [0, sees[i][0]) and
    the slots sees[i][1]; None where that is the causal mask (a chain needs none)."""
    import torch

    n_queries = len(sees)
    visible = torch.zeros(n_queries, n_keys, dtype=torch.bool)  # [Q, K]
    for query, (prefix, slots) in enumerate(sees):
        visible[query, :prefix] = True
        visible[query, list(slots)] = True
    causal = torch.ones(n_queries, n_keys, dtype=torch.bool).tril(n_keys - n_queries)  # [Q, K]
    if torch.equal(visible, causal):
        return None
    hidden = torch.full((n_queries, n_keys), torch.finfo(dtype).min, dtype=dtype)
    return torch.where(visible, torch.zeros((), dtype=dtype), hidden)[None, None].to(device)


def keep_slots(cache: DynamicCache, slots: Sequence[int]) -> None:
    """Compact every layer of `cache` to the positions `slots`, in that order: the one
    rollback of a tree round, to the committed path (a chain's is `crop`)."""
    import torch
    from transformers.cache_utils import DynamicLayer

    index: torch.Tensor | None = None
    for layer in cache.layers:
        if not isinstance(layer, DynamicLayer):  # `tree_problem` refuses such models first
            raise TypeError(f"a {type(layer).__name__} cache cannot be compacted to a path")
        keys, values = layer.keys, layer.values
        if keys is None or values is None or keys.numel() == 0:
            continue
        if index is None or index.device != keys.device:
            index = torch.tensor(list(slots), dtype=torch.long, device=keys.device)
        layer.keys = keys.index_select(-2, index)
        layer.values = values.index_select(-2, index)


def tree_problem(model: PreTrainedModel, role: str) -> str | None:
    """Why `model` cannot score a token tree in one forward, or None."""
    config = model.config
    name = f"the {role} ({type(model).__name__})"
    attention = getattr(config, "_attn_implementation", None) or "eager"
    if attention not in MASKABLE_ATTENTION:
        return (
            f"token trees need a custom 4D attention mask, and {name} runs {attention} "
            f"attention, which takes none; load it with attn_implementation 'sdpa' or 'eager'"
        )
    layer_types = getattr(config, "layer_types", None) or ()
    sliding = getattr(config, "sliding_window", None) and getattr(
        config, "use_sliding_window", True
    )
    if any(kind != "full_attention" for kind in layer_types) or sliding:
        return (
            f"token trees need every layer's cache compacted to one path and a full-attention "
            f"mask, and {name} has sliding-window or non-attention layers"
        )
    if "position_ids" not in inspect.signature(model.forward).parameters:
        return f"token trees set each node's position, and {name}'s forward takes no position_ids"
    return None
