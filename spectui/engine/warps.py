"""Sampling warps: temperature, then top-k, then top-p, applied to a model's logits.

The verifier's p and the drafter's q pass through the same warps before any policy looks at
them, as vLLM's rejection sampler warps the target's and the draft's distributions before its
test (`compute_probs`: logits / temperature, then `apply_top_k_top_p`): speculative sampling
on the warped p and q is then distributed exactly as sampling the warped verifier. Temperature
0 is greedy: all the mass on the argmax, so speculative sampling reduces to greedy-exact.

Top-k and top-p follow Hugging Face's `TopKLogitsWarper`/`TopPLogitsWarper` and vLLM's
`apply_top_k_top_p`, which agree: top-k keeps every token at least as likely as the k-th (ties
with it kept); top-p sorts ascending and drops the tokens whose cumulative mass, theirs and
every less likely one's, is at most 1 − top_p, always keeping the most likely token (so
top_p = 0 is greedy, as Hugging Face's `min_tokens_to_keep=1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads on first use: configs and traces are read without it
    import torch


@dataclass(frozen=True)
class Warp:
    """How a model's logits become the distribution that is sampled and judged."""

    temperature: float = 1.0  # logits / T; 0 = greedy (all mass on the argmax)
    top_k: int = 0  # keep the k most likely tokens (after temperature); 0 = off, as HF's 0
    top_p: float = 1.0  # keep the most likely tokens until their mass reaches top_p; 1 = off

    @property
    def neutral(self) -> bool:
        """Whether it leaves the model's own softmax unchanged."""
        return self.temperature == 1.0 and self.top_k == 0 and self.top_p >= 1.0

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """The warped distribution of each row of `logits`: `[n, vocab]` -> `[n, vocab]`."""
        import torch

        logits = logits.float()
        if self.neutral:  # exactly the unwarped softmax: seeded decodes replay bit for bit
            return torch.softmax(logits, dim=-1)
        if self.temperature == 0.0:
            return _all_on_argmax(logits)
        scaled = logits / self.temperature  # [n, vocab]
        if self.top_k > 0:
            scaled = _keep_top_k(scaled, self.top_k)
        if self.top_p < 1.0:
            scaled = _keep_top_p(scaled, self.top_p)
        return torch.softmax(scaled, dim=-1)

    def describe(self) -> str:
        """The warps that are on, e.g. "T 0.7 · top-k 50"; "" when neutral."""
        parts = []
        if self.temperature != 1.0:
            parts.append(f"T {self.temperature:g}" + (" (greedy)" if self.temperature == 0 else ""))
        if self.top_k > 0:
            parts.append(f"top-k {self.top_k}")
        if self.top_p < 1.0:
            parts.append(f"top-p {self.top_p:g}")
        return " · ".join(parts)


NO_WARP = Warp()


def _all_on_argmax(logits: torch.Tensor) -> torch.Tensor:
    """One-hot rows on the argmax of the unwarped softmax, the token greedy-exact takes.

    The softmax's argmax rather than the logits': where rounding makes two probabilities
    equal, greedy decoding (`RowScores.top1`) picks the first of them, and so does this.
    """
    import torch

    best = torch.argmax(torch.softmax(logits, dim=-1), dim=-1, keepdim=True)  # [n, 1]
    return torch.zeros_like(logits).scatter_(-1, best, 1.0)


def _keep_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Logits below the k-th largest set to −inf (ties with the k-th kept, as HF and vLLM)."""
    import torch

    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # [n, 1]
    return logits.masked_fill(logits < kth, float("-inf"))


def _keep_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """The nucleus: drop, in ascending order, tokens whose cumulative mass is ≤ 1 − top_p."""
    ascending, order = logits.sort(dim=-1, descending=False)  # [n, vocab] each
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)  # [n, vocab]
    drop = cumulative <= 1.0 - top_p
    drop[..., -1] = False  # the most likely token always stays
    dropped = ascending.masked_fill(drop, float("-inf"))
    return dropped.scatter(-1, order, dropped)


def pick_token(row: torch.Tensor, sampler: torch.Generator | None) -> int:
    """The argmax of `row`, or a draw from it with `sampler` (on the CPU, so seeds replay)."""
    import torch

    if sampler is None:
        return int(torch.argmax(row))
    return int(torch.multinomial(row.cpu(), 1, generator=sampler))
