"""The n-gram lookup drafter: the continuation of the context's last n tokens, found earlier.

Prompt lookup (Saxena's "prompt lookup decoding"; vLLM's `method: ngram`, Hugging Face's
`prompt_lookup_num_tokens`) drafts with no model: take the sequence's last n tokens, find them
earlier in the sequence, propose the tokens that followed (at most k, and never past the
sequence's end). n is tried from `max_n` down to `min_n`, so the longest match wins, as in
vLLM. Among equally long matches spectui takes the *latest*; vLLM and Hugging Face take the
earliest. Where nothing matches, the round has no drafts and appends the verifier's own token.

Each proposal is a point mass: q = 1 for the token proposed, its row one-hot. Speculative
sampling then accepts with probability min(1, p / 1) = p and corrects from max(0, p − q)
normalised, p without the draft: lossless, as for any drafter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from spectui.engine.seams import Proposal
from spectui.engine.warps import NO_WARP, Warp

if TYPE_CHECKING:
    import torch


def lookup(tokens: Sequence[int], min_n: int, max_n: int, k: int) -> tuple[int, ...]:
    """Up to k tokens that followed the latest earlier occurrence of `tokens`' last n tokens.

    n runs from `max_n` down to `min_n` (the longest match wins); () where none matches.
    """
    tokens = list(tokens)
    end = len(tokens)
    for n in range(min(max_n, end - 1), min_n - 1, -1):
        suffix = tokens[end - n :]
        # Latest first; a match must end before the sequence does, so something follows it.
        for start in range(end - n - 1, -1, -1):
            if tokens[start : start + n] == suffix:
                follow = start + n
                return tuple(tokens[follow : follow + k])
    return ()


class NgramDrafter:
    """Drafts by n-gram lookup over the sequence it is given; it has no model and no cache.

    `cached_length` only mirrors the protocol (the loop checkpoints and rolls it back like a
    model's); lookup reads the whole sequence every round.
    """

    model_free: Literal[True] = True  # the stats count no drafter forwards (seams)

    def __init__(self, min_n: int, max_n: int, vocab_size: int) -> None:
        if not 1 <= min_n <= max_n:
            raise ValueError(f"n-gram sizes must satisfy 1 <= min_n <= max_n, got {min_n}, {max_n}")
        self.min_n, self.max_n = min_n, max_n
        self.vocab_size = vocab_size  # the width of each one-hot row, the verifier's p's
        self._length = 0

    @property
    def cached_length(self) -> int:
        """The sequence length seen, as a model's cache would hold it (every token but the last)."""
        return self._length

    def prefill(self, tokens: Sequence[int]) -> None:
        """Nothing to compute: remember the length."""
        self._length = len(tokens)

    def roll_back(self, length: int) -> None:
        """Forget positions beyond `length`."""
        self._length = min(self._length, length)

    def propose(
        self,
        tokens: Sequence[int],
        k: int,
        sampler: torch.Generator | None,
        stop_id: int | None,
        warp: Warp = NO_WARP,
    ) -> Proposal:
        """The lookup's continuation (cut after `stop_id`), each token with q = 1.

        A point mass is the same under every warp and every draw, so `sampler` and `warp`
        change nothing.
        """
        import torch

        ids = lookup(tokens, self.min_n, self.max_n, k)
        if stop_id in ids:
            ids = ids[: ids.index(stop_id) + 1]
        self._length = len(tokens) + len(ids) - 1 if ids else len(tokens) - 1
        rows = tuple(
            torch.nn.functional.one_hot(torch.tensor(token), self.vocab_size).float()
            for token in ids
        )  # each [vocab]
        return Proposal(ids, tuple(1.0 for _ in ids), rows)
