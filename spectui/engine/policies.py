"""Acceptance policies: pure functions of the verifier's view of one draft token.

`measure_draft` reads what the verifier thought of every draft position (one tensor pass);
`gate_check` turns one position's measures into a `GateCheck` record holding every quantity a
policy looks at, each gate's pass/fail and *both* policies' verdicts. The decode loop only
reads `GateCheck.accepted`, so it never knows which policy it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spectui.engine.config import DecodeConfig, PolicyName

if TYPE_CHECKING:  # torch loads on first use: traces and replays read these records without it
    import torch

N_ALTERNATIVES = 10  # verifier alternatives kept per position for the app's bars and traces


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


@dataclass(frozen=True)
class Gates:
    """Each soft-guarded gate's pass/fail."""

    p_thresh: bool  # p >= p_thresh
    topk: bool  # draft token in the verifier's top-k
    margin: bool  # p_top1 - p <= margin_gate
    max_accept: bool  # fewer than max_accept tokens accepted so far this round

    def as_dict(self) -> dict[str, bool]:
        """The gates as a name -> passed mapping (JSON and display order)."""
        return {
            "p_thresh": self.p_thresh,
            "topk": self.topk,
            "margin": self.margin,
            "max_accept": self.max_accept,
        }


@dataclass(frozen=True)
class Chance:
    """Speculative sampling's coin: accept when uniform < accept_probability."""

    accept_probability: float  # min(1, p / q), q the probability the draft was drawn with
    uniform: float  # a seeded U[0, 1) draw, recorded so a trace replays identically


@dataclass(frozen=True)
class GateCheck:
    """One draft token's verification: all it was judged on, and every policy's verdict."""

    position: int  # 0-based index in the round's draft
    token_id: int
    q: float  # drafter's probability of its own token
    p: float
    rank: int
    top1_id: int
    p_top1: float
    margin: float  # p_top1 - p
    gates: Gates
    chance: Chance
    verdicts: dict[PolicyName, bool]  # what each policy would decide on this same pass
    policy: PolicyName  # the policy that drove the decode at this position
    alternatives: tuple[tuple[int, float], ...]  # verifier's top tokens (id, p), best first

    @property
    def accepted(self) -> bool:
        """The active policy's verdict."""
        return self.verdicts[self.policy]


def greedy_exact(measures: DraftMeasures, gates: Gates, chance: Chance) -> bool:
    """Accept iff the draft token is the verifier's argmax (lossless for greedy decoding)."""
    return measures.token_id == measures.top1_id


def soft_guarded(measures: DraftMeasures, gates: Gates, chance: Chance) -> bool:
    """Accept iff every gate passes: p >= p_thresh, in top-k, within margin, under the cap."""
    return gates.p_thresh and gates.topk and gates.margin and gates.max_accept


def speculative_sampling(measures: DraftMeasures, gates: Gates, chance: Chance) -> bool:
    """Accept with probability min(1, p/q) (Leviathan et al. 2023; Chen et al. 2023)."""
    return chance.uniform < chance.accept_probability


POLICIES: dict[PolicyName, Callable[[DraftMeasures, Gates, Chance], bool]] = {
    "greedy": greedy_exact,
    "soft": soft_guarded,
    "sample": speculative_sampling,
}


def measure_draft(p_probs: torch.Tensor, draft_ids: list[int], n_top: int) -> list[DraftMeasures]:
    """Measures for each draft token from the verifier's probabilities `[k(+1), vocab]`.

    `n_top` is how many of the verifier's best tokens to keep: at least the top-k gate's k.
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
        rows = zip(
            draft_ids,
            p.squeeze(1).tolist(),
            rank.tolist(),
            top_ids.tolist(),
            top_probs.tolist(),
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
            )
            for token_id, p_t, r, t_ids, t_probs in rows
        ]


def gate_check(
    measures: DraftMeasures,
    q: float,
    position: int,
    n_accepted: int,
    config: DecodeConfig,
    uniform: float = 0.0,
) -> GateCheck:
    """Judge one draft token under `config`'s thresholds; the active policy is config.policy.

    `q` is the drafter's probability of its token; greedy drafts are drawn with probability
    1, which is what speculative sampling's ratio p/q must use to stay lossless.
    """
    q_drawn = q if config.sample_draft else 1.0
    chance = Chance(
        accept_probability=min(1.0, measures.p / q_drawn) if q_drawn > 0 else 1.0,
        uniform=uniform,
    )
    margin = measures.p_top1 - measures.p
    gates = Gates(
        p_thresh=measures.p >= config.p_thresh,
        # Membership in torch.topk's set, exactly as the seed tests it.
        topk=measures.token_id in measures.topk_ids[: config.topk_gate]
        if config.topk_gate <= len(measures.topk_ids)
        else measures.rank <= config.topk_gate,
        margin=margin <= config.margin_gate,
        max_accept=n_accepted < config.max_accept,
    )
    return GateCheck(
        position=position,
        token_id=measures.token_id,
        q=q,
        p=measures.p,
        rank=measures.rank,
        top1_id=measures.top1_id,
        p_top1=measures.p_top1,
        margin=margin,
        gates=gates,
        chance=chance,
        verdicts={name: policy(measures, gates, chance) for name, policy in POLICIES.items()},
        policy=config.policy,
        alternatives=tuple(
            zip(
                measures.topk_ids[:N_ALTERNATIVES],
                measures.topk_probs[:N_ALTERNATIVES],
                strict=True,
            )
        ),
    )
