"""KV-cache handling across transformers 4.x and 5.x, and the one rollback the engine does."""

from __future__ import annotations

import inspect
from functools import cache

from transformers import DynamicCache, PreTrainedModel


def new_cache() -> DynamicCache:
    """An empty dynamic cache (filled lazily by the first forward)."""
    return DynamicCache()


def cached_length(kv_cache: DynamicCache) -> int:
    """How many positions the cache holds."""
    return int(kv_cache.get_seq_length())


def crop_to(kv_cache: DynamicCache, length: int) -> None:
    """Drop cached positions beyond `length`.

    transformers 4.x's `crop(max_length)` took the length to keep (negative: count from the
    end); 5.x's `crop(tokens_to_remove)` only accepts a negative count to remove. A negative
    argument means "remove this many" in both, so that is the only form used.
    """
    excess = cached_length(kv_cache) - length
    if excess > 0:
        kv_cache.crop(-excess)


@cache
def cache_argument(model_class: type[PreTrainedModel]) -> str:
    """forward()'s keyword for the KV cache: `cache` from transformers 5.2x, else the old name."""
    parameters = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


@cache
def logits_keep_argument(model_class: type[PreTrainedModel]) -> str | None:
    """The forward() keyword that limits which positions get logits, if the model has one."""
    parameters = inspect.signature(model_class.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in parameters:
            return name
    return None
