"""The seams' local implementations: a Hugging Face causal LM with its KV cache, in this process.

`LocalDrafter` drafts one cached forward per token; `LocalVerifier` scores a whole round in one
cached forward and measures it with `seams.measure_draft`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spectui.engine.seams import DraftMeasures, Proposal, measure_draft
from spectui.engine.warps import NO_WARP, Warp

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

    from spectui.engine.models.draft_vocabulary import DraftVocabulary


class LocalModel:
    """A Hugging Face causal LM in this process and the KV cache of what it has seen."""

    def __init__(
        self,
        model: PreTrainedModel,
        device: torch.device,
        vocab_size: int | None = None,
        draft_vocabulary: DraftVocabulary | None = None,
    ) -> None:
        from spectui.engine.models.cache import CachedModel

        self.model = CachedModel(model, device, vocab_size, draft_vocabulary)

    @property
    def cached_length(self) -> int:
        """Positions in the KV cache."""
        return self.model.cached_length

    def prefill(self, tokens: Sequence[int]) -> None:
        """Cache `tokens`."""
        self.model.forward(list(tokens), n_logits=1)

    def roll_back(self, length: int) -> None:
        """Crop the KV cache."""
        self.model.crop_to(length)


class LocalDrafter(LocalModel):
    """A local causal LM drafting one cached forward per token.

    With a `draft_vocabulary` it drafts over part of the verifier's vocabulary (its rows
    mapped to the verifier's ids; q is 0 outside them).
    """

    def propose(
        self,
        tokens: Sequence[int],
        k: int,
        sampler: torch.Generator | None,
        stop_id: int | None,
        warp: Warp = NO_WARP,
    ) -> Proposal:
        """k tokens, each from one forward over what the cache lacks, drawn from warped q."""
        ids: list[int] = []
        q: list[float] = []
        rows: list[torch.Tensor] = []
        for _ in range(k):
            feed = [*tokens, *ids][self.model.cached_length :]
            logits = self.model.forward(feed, n_logits=1)  # [1, vocab]
            q_row = warp.probabilities(logits[-1:])[0]  # [vocab]
            token = pick_token(q_row, sampler)
            ids.append(token)
            q.append(float(q_row[token]))
            rows.append(q_row)
            if token == stop_id:
                break
        return Proposal(tuple(ids), tuple(q), tuple(rows))


def pick_token(row: torch.Tensor, sampler: torch.Generator | None) -> int:
    """The argmax of `row`, or a draw from it with `sampler` (on the CPU, so seeds replay)."""
    import torch

    if sampler is None:
        return int(torch.argmax(row))
    return int(torch.multinomial(row.cpu(), 1, generator=sampler))


@dataclass(frozen=True)
class RowScores:
    """Full (warped) verifier distributions for one round: `[k+1, vocab]`."""

    rows: torch.Tensor
    measures: tuple[DraftMeasures, ...]

    def top1(self, position: int) -> int:
        """The argmax at `position`."""
        import torch

        return int(torch.argmax(self.rows[position]))

    def sample(
        self, position: int, generator: torch.Generator, drawn: int | torch.Tensor | None = None
    ) -> int:
        """A draw from p, or from the residual max(0, p − q) when `drawn` is given."""
        import torch

        p_row = self.rows[position].cpu()  # [vocab]
        if drawn is None:
            return int(torch.multinomial(p_row, 1, generator=generator))
        if isinstance(drawn, int):
            q_row = torch.nn.functional.one_hot(torch.tensor(drawn), p_row.shape[-1]).to(p_row)
        else:
            q_row = drawn.cpu().to(p_row)
        residual = torch.clamp(p_row - q_row, min=0.0)  # [vocab]
        if float(residual.sum()) <= 0.0:  # p == q: every draft is accepted, so never reached
            residual = p_row
        return int(torch.multinomial(residual, 1, generator=generator))


class LocalVerifier(LocalModel):
    """A local causal LM: one cached forward scores a whole round."""

    def score(
        self, tokens: Sequence[int], draft_ids: Sequence[int], n_top: int, warp: Warp = NO_WARP
    ) -> RowScores:
        """One forward over the uncached feed; the warped softmax of the last k+1 positions."""
        feed = [*tokens, *draft_ids][self.model.cached_length :]
        logits = self.model.forward(feed, n_logits=len(draft_ids) + 1)  # [k+1, vocab]
        rows = warp.probabilities(logits)  # [k+1, vocab]
        return RowScores(rows, tuple(measure_draft(rows, list(draft_ids), n_top)))
