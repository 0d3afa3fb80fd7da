"""The n-gram lookup drafter: the continuation of the context's last n tokens, found earlier.

Prompt lookup (Saxena's "prompt lookup decoding") drafts with no model: take the sequence's
last n tokens, find them earlier in the sequence, propose the tokens that followed (at most k,
and never past the sequence's end). Two engines' rules, each exactly (`LOOKUPS`):

- `vllm` (`--drafter ngram`, vLLM's `method: ngram`, `v1/spec_decode/ngram_proposer.py`): the
  longest n from `prompt_lookup_max` down to `prompt_lookup_min`, and among equally long
  matches the *earliest* (vLLM scans the reversed sequence with KMP and keeps the last
  position of the longest border, i.e. the first occurrence). spectui cuts the draft after an
  end-of-text token (the decode ends there), where vLLM would draft past it.
- `hf` (`--drafter ngram:hf`, Hugging Face's `prompt_lookup_num_tokens`,
  `PromptLookupCandidateGenerator`): n from `prompt_lookup_max` down to 1 (it has no minimum),
  the earliest match whose continuation is not empty, cut *before* the first end-of-text token.

Where nothing matches, the round has no drafts and appends the verifier's own token.

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
    """vLLM's n-gram proposal: up to k tokens that followed the *earliest* occurrence of the
    longest n-gram (n from `max_n` down to `min_n`) ending the sequence; () where none.

    vLLM finds it with KMP over the reversed sequence; this is the same choice, written out
    (tested against vLLM's own function where its venv is installed).
    """
    return _earliest(list(tokens), range(min(max_n, len(tokens) - 1), min_n - 1, -1), k)


def hf_lookup(
    tokens: Sequence[int], max_n: int, k: int, stop_id: int | None = None
) -> tuple[int, ...]:
    """Hugging Face's prompt lookup: the earliest match of n from `max_n` down to 1 (no
    minimum), up to k tokens, cut before the first `stop_id`; () where none."""
    ids = _earliest(list(tokens), range(min(max_n, len(tokens) - 1), 0, -1), k)
    return ids[: ids.index(stop_id)] if stop_id in ids else ids


def _earliest(tokens: list[int], sizes: Sequence[int], k: int) -> tuple[int, ...]:
    """For the first n in `sizes` with a match: the k tokens after its earliest occurrence (a
    match must end before the sequence does, so something follows it)."""
    end = len(tokens)
    for n in sizes:
        suffix = tokens[end - n :]
        for start in range(0, end - n):
            if tokens[start : start + n] == suffix:
                follow = start + n
                return tuple(tokens[follow : follow + k])
    return ()


LOOKUPS = ("vllm", "hf")


class NgramDrafter:
    """Drafts by n-gram lookup over the sequence it is given; it has no model and no cache.

    `cached_length` only mirrors the protocol (the loop checkpoints and rolls it back like a
    model's); lookup reads the whole sequence every round.
    """

    model_free: Literal[True] = True  # the stats count no drafter forwards (seams)

    def __init__(self, min_n: int, max_n: int, vocab_size: int, rule: str = "vllm") -> None:
        if not 1 <= min_n <= max_n:
            raise ValueError(f"n-gram sizes must satisfy 1 <= min_n <= max_n, got {min_n}, {max_n}")
        if rule not in LOOKUPS:
            raise ValueError(f"the n-gram rule must be one of {', '.join(LOOKUPS)}, got {rule!r}")
        self.min_n, self.max_n, self.rule = min_n, max_n, rule
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

        if self.rule == "hf":
            ids = hf_lookup(tokens, self.max_n, k, stop_id)
        else:
            ids = lookup(tokens, self.min_n, self.max_n, k)
            if stop_id in ids:  # the decode ends there: nothing after it is worth verifying
                ids = ids[: ids.index(stop_id) + 1]
        self._length = len(tokens) + len(ids) - 1 if ids else len(tokens) - 1
        rows = tuple(
            torch.nn.functional.one_hot(torch.tensor(token), self.vocab_size).float()
            for token in ids
        )  # each [vocab]
        return Proposal(ids, tuple(1.0 for _ in ids), rows)
