"""A model with its own KV cache, across transformers 4.x and 5.x, and the one rollback."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import torch
from transformers import DynamicCache, PreTrainedModel

if TYPE_CHECKING:
    from spectui.engine.models.draft_vocabulary import DraftVocabulary


class CachedModel:
    """A causal LM and the KV cache of the sequence it has seen so far."""

    def __init__(
        self,
        model: PreTrainedModel,
        device: torch.device,
        vocab_size: int | None = None,
        draft_vocabulary: DraftVocabulary | None = None,
    ) -> None:
        self.model = model
        self.device = device
        # A drafter over part of the vocabulary reads and writes its own row numbers.
        self.draft_vocabulary = draft_vocabulary
        # Embedding tables are often padded past the tokenizer (Qwen2.5-0.5B vs -7B): logits
        # are cut to the tokenizer's ids, so both models score the same vocabulary.
        self.vocab_size = vocab_size
        self.kv_cache = DynamicCache()
        parameters = inspect.signature(model.forward).parameters
        # transformers 5.2x renamed forward's `past_key_values` to `cache`.
        self._cache_keyword = "cache" if "cache" in parameters else "past_key_values"
        self._keep_keyword = next(
            (name for name in ("logits_to_keep", "num_logits_to_keep") if name in parameters),
            None,
        )

    @property
    def dtype(self) -> torch.dtype:
        """The model's parameter dtype (a tree mask's)."""
        return self.model.dtype

    @property
    def cached_length(self) -> int:
        """How many positions the cache holds."""
        return int(self.kv_cache.get_seq_length())

    def forward(
        self,
        feed: list[int],
        n_logits: int,
        positions: list[int] | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Extend the cache by `feed`; logits of its last n_logits positions: [n_logits, vocab].

        A token tree passes each fed token's `positions` and its 4D additive `mask`
        ([1, 1, len(feed), cached + len(feed)], `tree.mask`); a chain passes neither.
        """
        input_ids = torch.tensor([feed], device=self.device)  # [1, len(feed)]
        if self.draft_vocabulary is not None:
            input_ids = self.draft_vocabulary.drafter_ids(input_ids)
        keywords: dict[str, object] = {self._cache_keyword: self.kv_cache}
        if self._keep_keyword:
            keywords[self._keep_keyword] = n_logits
        if mask is not None:
            keywords["attention_mask"] = mask
            keywords["position_ids"] = torch.tensor([positions], device=self.device)  # [1, Q]
        # Inference mode, not just no_grad: no version counters or view tracking on the ~400
        # tensors a forward makes (a SmolLM2 step 51-52 ms against 54-57 under no_grad here).
        # The cache's tensors are then inference tensors: every later change to them (crop,
        # keep_slots) makes new tensors or views, never writes in place.
        with torch.inference_mode():
            out = self.model(input_ids=input_ids, use_cache=True, **keywords)
            # float32 whatever the model's precision: softmax, gates and q/p in bfloat16
            # would round probabilities to 3 digits.
            logits = out.logits[0, -n_logits:].float()  # [n_logits, model's vocab]
        # An ordinary tensor for the callers, which may warp it in place.
        logits = logits.clone()
        if self.draft_vocabulary is not None:
            return self.draft_vocabulary.full_logits(logits)  # [n_logits, tokenizer's vocab]
        return logits[:, : self.vocab_size]

    def keep_slots(self, slots: list[int]) -> None:
        """Compact the cache to the positions `slots` (a tree round's committed path)."""
        from spectui.engine.tree.mask import keep_slots

        keep_slots(self.kv_cache, slots)

    def crop_to(self, length: int) -> None:
        """Drop cached positions beyond `length`.

        transformers 4.x's `crop(max_length)` took the length to keep (negative: count from
        the end); 5.x's `crop(tokens_to_remove)` only accepts a negative count to remove. A
        negative argument means "remove this many" in both, so that is the only form used.
        """
        excess = self.cached_length - length
        if excess > 0:
            self.kv_cache.crop(-excess)
