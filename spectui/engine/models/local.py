"""The seams' local implementations: a Hugging Face causal LM with its KV cache, in this process.

`LocalDrafter` drafts one cached forward per token; `LocalVerifier` scores a whole round in one
cached forward and measures it with `seams.measure_draft`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spectui.engine.seams import DraftMeasures, Proposal, measure_draft
from spectui.engine.tree.mask import tree_mask
from spectui.engine.tree.shape import ROOT, DraftNode, DraftTree, TreeShape, ancestors
from spectui.engine.warps import NO_WARP, Warp, pick_token

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

    from spectui.engine.models.cache import CachedModel
    from spectui.engine.models.draft_vocabulary import DraftVocabulary
    from spectui.engine.models.lean import LeanLlama


class LocalModel:
    """A Hugging Face causal LM in this process and the KV cache of what it has seen."""

    # Whether a Llama model runs on spectui's own loop (`lean.py`) rather than transformers'.
    lean_loop = False

    def __init__(
        self,
        model: PreTrainedModel,
        device: torch.device,
        vocab_size: int | None = None,
        draft_vocabulary: DraftVocabulary | None = None,
    ) -> None:
        from spectui.engine.models.cache import CachedModel
        from spectui.engine.models.lean import drafter_runner

        runner = drafter_runner if self.lean_loop else CachedModel
        self.model: CachedModel | LeanLlama = runner(model, device, vocab_size, draft_vocabulary)

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
    mapped to the verifier's ids; q is 0 outside them). A Llama drafter runs on spectui's own
    loop over its layers (`lean.py`: the same logits, less Python a step).
    """

    lean_loop = True

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

    def propose_tree(
        self,
        tokens: Sequence[int],
        shape: TreeShape,
        sampler: torch.Generator | None,
        stop_id: int | None,
        warp: Warp = NO_WARP,
    ) -> DraftTree:
        """A token tree after `tokens`: one forward for the root, then one per depth, each
        scoring that depth's expanded nodes together under a tree mask over the cache."""
        from spectui.engine.tree.drafting import grow_tree

        logits = self.model.forward(list(tokens[self.model.cached_length :]), n_logits=1)
        root_row = warp.probabilities(logits[-1:])[0]  # [vocab]
        self._prefix = len(tokens)  # the cache holds every committed token now
        self._slots: dict[int, int] = {}  # candidate id -> its position in the cache
        parents: dict[int, int] = {}

        def expand(frontier: Sequence[tuple[int, DraftNode]]) -> list[torch.Tensor]:
            start = self.model.cached_length
            sees = []
            for offset, (candidate, node) in enumerate(frontier):
                parents[candidate] = node.parent
                self._slots[candidate] = start + offset
                sees.append((self._prefix, [self._slots[a] for a in _lineage(parents, candidate)]))
            feed = [node.token_id for _, node in frontier]
            positions = [self._prefix - 1 + node.depth for _, node in frontier]
            mask = tree_mask(sees, start + len(feed), self.model.dtype, self.model.device)
            logits = self.model.forward(feed, len(feed), positions, mask)  # [F, vocab]
            return list(warp.probabilities(logits))

        tree, self._candidates = grow_tree(shape, root_row, expand, sampler, stop_id)
        return tree

    def keep_path(self, path: Sequence[int]) -> None:
        """Compact the cache to the committed tokens and the path's nodes it has scored."""
        fed = []
        for node_id in path:
            slot = self._slots.get(self._candidates[node_id])
            if slot is None:
                break  # a leaf of the path: never fed, the next round feeds it
            fed.append(slot)
        self.model.keep_slots([*range(self._prefix), *fed])


def _lineage(parents: dict[int, int], candidate: int) -> list[int]:
    """`candidate` and its ancestors (candidate ids), root-most first."""
    line = [candidate]
    while parents.get(line[-1], ROOT) != ROOT:
        line.append(parents[line[-1]])
    return line[::-1]


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

    def score_tree(
        self, tokens: Sequence[int], tree: DraftTree, n_top: int, warp: Warp = NO_WARP
    ) -> RowScores:
        """Every verified node of `tree` in ONE forward: each sees the committed tokens and its
        ancestors, at position base + depth. Row 0 is p after the committed tokens, row 1 + i
        p after node i; node i is measured on its parent's row."""
        import torch

        cached = self.model.cached_length
        lacking = list(tokens[cached:])  # committed tokens not yet cached (usually the last)
        nodes = tree.verified
        self._prefix = len(tokens)
        sees: list[tuple[int, Sequence[int]]] = [(cached + j + 1, ()) for j in range(len(lacking))]
        sees += [
            (self._prefix, [self._prefix + a for a in ancestors(nodes, i)])
            for i in range(len(nodes))
        ]
        feed = lacking + [node.token_id for node in nodes]
        positions = [cached + j for j in range(len(lacking))]
        positions += [self._prefix - 1 + node.depth for node in nodes]
        mask = tree_mask(sees, cached + len(feed), self.model.dtype, self.model.device)
        logits = self.model.forward(feed, len(nodes) + 1, positions, mask)  # [n+1, vocab]
        rows = warp.probabilities(logits)  # [n+1, vocab]
        parent_rows = torch.tensor([node.parent + 1 for node in nodes], device=rows.device)
        measured = measure_draft(rows.index_select(0, parent_rows), list(tree.token_ids), n_top)
        return RowScores(rows, tuple(measured))

    def keep_path(self, path: Sequence[int]) -> None:
        """Compact the cache to the committed tokens and the accepted path's nodes."""
        self.model.keep_slots([*range(self._prefix), *(self._prefix + i for i in path)])
