"""The two seams of the decode loop: a drafter that proposes, a verifier that scores.

The loop (`decode.py`) talks to the models only through these protocols, as Hugging Face's
assisted generation talks to a `CandidateGenerator`. `models.local`'s `LocalDrafter` and
`LocalVerifier` are a Hugging Face causal LM with its KV cache in this process; a benchmark's
oracle wraps a drafter, and `remote.seams` puts both on a server with the same calls. Beside the
verifier seam, `measure_draft` turns its distribution into each draft token's `DraftMeasures`.
Two drafters need no model of their own (`drafters/`): n-gram lookup, and early exit, which
BORROWS THE VERIFIER'S WEIGHTS (the same tensors, its first N layers) but keeps its own cache.

Both keep a cache of the sequence they have seen. Every call passes the *whole* sequence and
the implementation feeds itself only what it lacks (`tokens[cached_length:]`); `roll_back`
forgets what was not kept, which is the one rollback of a round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from spectui.engine.warps import NO_WARP, Warp

if TYPE_CHECKING:
    import torch

    from spectui.engine.tree.shape import DraftTree, TreeShape


@dataclass(frozen=True)
class Proposal:
    """The drafter's k proposals for one round."""

    ids: tuple[int, ...]
    q: tuple[float, ...]  # the drafter's (warped) probability of each of its tokens
    rows: tuple[torch.Tensor, ...] | None  # its warped distribution at each position, [vocab]


@dataclass(frozen=True)
class DraftMeasures:
    """What the verifier's distribution says about one draft token."""

    token_id: int
    p: float  # verifier probability of the draft token
    rank: int  # 1-based rank of the draft token in the verifier's distribution
    top1_id: int  # the verifier's argmax
    p_top1: float
    topk_ids: tuple[int, ...]  # the verifier's top tokens, best first (the top-k gate's set)
    topk_probs: tuple[float, ...]
    # The verifier's entropy H = −Σ p ln p in nats, from its whole distribution. Where that is
    # not known it is a lower bound: a served verifier's top-N with the rest as one bucket, and
    # 0 where it was not measured (scripted seams, traces written before it was).
    entropy: float = 0.0


class Scored(Protocol):
    """The verifier's view of one round's drafts (one forward pass, or one request)."""

    @property
    def measures(self) -> Sequence[DraftMeasures]:
        """What the verifier thought of each draft token, in draft order."""
        ...

    def top1(self, position: int) -> int:
        """The verifier's argmax at draft `position` (`len(drafts)`: after the last draft)."""
        ...

    def sample(
        self, position: int, generator: torch.Generator, drawn: int | torch.Tensor | None = None
    ) -> int:
        """A token drawn from the verifier's distribution p at `position`.

        With `drawn` (what the rejected draft was drawn from), from the residual
        max(0, p − q) normalised: speculative sampling's correction.
        """
        ...


class CachedSequence(Protocol):
    """A model that keeps the sequence it has seen (a KV cache, or its length on a server)."""

    @property
    def cached_length(self) -> int:
        """How many positions of the sequence are cached."""
        ...

    def prefill(self, tokens: Sequence[int]) -> None:
        """Cache `tokens` (a prompt's all but last token)."""
        ...

    def roll_back(self, length: int) -> None:
        """Forget cached positions beyond `length`."""
        ...


class Drafter(CachedSequence, Protocol):
    """Proposes draft tokens and their probabilities."""

    def propose(
        self,
        tokens: Sequence[int],
        k: int,
        sampler: torch.Generator | None,
        stop_id: int | None,
        warp: Warp = NO_WARP,
    ) -> Proposal:
        """Up to k tokens after `tokens`: argmax, or drawn with `sampler`; ends at `stop_id`.

        q is the drafter's distribution after `warp` (temperature, top-k, top-p): the draws,
        the probabilities and the rows are all of that warped q.
        """
        ...


@runtime_checkable
class ModelFreeDrafter(Protocol):
    """A drafter that runs no model (n-gram lookup): it makes no forwards to count."""

    model_free: Literal[True]


class TreeDrafter(Drafter, Protocol):
    """A drafter that also proposes token trees (`engine.tree`)."""

    def propose_tree(
        self,
        tokens: Sequence[int],
        shape: TreeShape,
        sampler: torch.Generator | None,
        stop_id: int | None,
        warp: Warp = NO_WARP,
    ) -> DraftTree:
        """A tree after `tokens` grown to `shape`: best tokens, or children drawn i.i.d. from q
        with `sampler`; a node whose token is `stop_id` is not expanded."""
        ...

    def keep_path(self, path: Sequence[int]) -> None:
        """Keep in the cache only the committed tokens and the nodes of `path` (ids of the
        last tree): the tree round's rollback, before `roll_back` to the new length."""
        ...


class Verifier(CachedSequence, Protocol):
    """Scores a round's drafts in one pass."""

    def score(
        self, tokens: Sequence[int], draft_ids: Sequence[int], n_top: int, warp: Warp = NO_WARP
    ) -> Scored:
        """The verifier on `tokens + draft_ids`: each draft's measures, keeping `n_top` best.

        p is the verifier's distribution after `warp`: measures, argmax and draws all read it.
        """
        ...


class Wrapping:
    """Base of a seam that wraps another (a benchmark's oracle, a timer): its cache is the
    wrapped one's, so cache calls pass straight through."""

    def __init__(self, inner: CachedSequence) -> None:
        self.inner = inner

    @property
    def cached_length(self) -> int:
        """The wrapped model's."""
        return self.inner.cached_length

    def prefill(self, tokens: Sequence[int]) -> None:
        """Prefill the wrapped model."""
        self.inner.prefill(tokens)

    def roll_back(self, length: int) -> None:
        """Roll the wrapped model back."""
        self.inner.roll_back(length)


def measure_draft(p_probs: torch.Tensor, draft_ids: list[int], n_top: int) -> list[DraftMeasures]:
    """Measures for each draft token from the verifier's probabilities `[k(+1), vocab]`.

    `n_top` is how many of the verifier's best tokens to keep (`tokens_kept`). The entropy
    is of the whole row, in float64 so that a threshold on it does not move with rounding.
    """
    import torch

    with torch.no_grad():
        k = len(draft_ids)
        if k == 0:
            return []
        probs = p_probs[:k]  # [k, vocab]
        ids = torch.tensor(draft_ids, device=probs.device).unsqueeze(1)  # [k, 1]
        p = probs.gather(1, ids)  # [k, 1]
        rank = (probs > p).sum(dim=1) + 1  # [k]
        top_probs, top_ids = torch.topk(probs, k=min(n_top, probs.shape[-1]), dim=-1)  # [k, n_top]
        entropy = torch.special.entr(probs.double()).sum(dim=1)  # [k]: −Σ p ln p, 0 ln 0 = 0
        rows = zip(
            draft_ids,
            p.squeeze(1).tolist(),
            rank.tolist(),
            top_ids.tolist(),
            top_probs.tolist(),
            entropy.tolist(),
            strict=True,
        )
        return [
            DraftMeasures(
                token_id=token_id,
                p=p_t,
                rank=r,
                top1_id=t_ids[0],
                p_top1=t_probs[0],
                topk_ids=tuple(t_ids),
                topk_probs=tuple(t_probs),
                entropy=h,
            )
            for token_id, p_t, r, t_ids, t_probs, h in rows
        ]


class TreeVerifier(Verifier, Protocol):
    """A verifier that also scores token trees in one pass (`engine.tree`)."""

    def score_tree(
        self, tokens: Sequence[int], tree: DraftTree, n_top: int, warp: Warp = NO_WARP
    ) -> Scored:
        """Every verified node of `tree` after `tokens` in one pass. Its rows are p after the
        committed tokens (row 0) and after each node (row 1 + id); its measures, one per node
        by id, read each node's parent's row."""
        ...

    def keep_path(self, path: Sequence[int]) -> None:
        """Keep in the cache only the committed tokens and the nodes of `path`."""
        ...
