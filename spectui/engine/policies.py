"""Acceptance policies as records, separate from the mechanism that runs them.

`measure_draft` reads what the verifier thought of every draft position (one tensor pass);
`gate_check` turns one position's measures into a `GateCheck` record holding every quantity a
policy looks at, every gate's pass/fail and *every* registered policy's verdict. The decode
loop asks the active `Policy` record what to append; the widgets ask it which columns and
rules to show. Nothing outside the policy modules compares a policy's name: adding a policy is
one `Policy` record (passed to `register_policy`) plus its tests.

The records are in `policy_records`, the built-in policies in `policy_library`; this module
holds the registry and the mechanism, and every import of the policies goes through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from spectui.engine.policy_library import (
    DEFAULT_COLUMNS,
    ENTROPY_COLUMN,
    GREEDY_EXACT,
    MARGIN_COLUMN,
    P_COLUMN,
    P_TOP1_COLUMN,
    Q_COLUMN,
    RANK_COLUMN,
    RATIO_COLUMN,
    RELAXED,
    SOFT_GATES,
    SOFT_GUARDED,
    SPECULATIVE_SAMPLING,
    TOP1_COLUMN,
    TYPICAL,
    UNIFORM_COLUMN,
    in_top_k,
    residual_sample,
    sampling_q,
    verifier_argmax,
    verifier_sample,
)
from spectui.engine.policy_records import (
    Chance,
    Column,
    ColumnKind,
    Correction,
    DraftMeasures,
    Gate,
    GateCheck,
    Judged,
    NextToken,
    Policy,
)

if TYPE_CHECKING:  # torch loads on first use: traces and replays read these records without it
    import torch

    from spectui.engine.config import DecodeConfig

__all__ = [
    "COMPARED",
    "DEFAULT_COLUMNS",
    "ENTROPY_COLUMN",
    "DEFAULT_POLICY",
    "GREEDY_EXACT",
    "MARGIN_COLUMN",
    "N_ALTERNATIVES",
    "POLICIES",
    "P_COLUMN",
    "P_TOP1_COLUMN",
    "Q_COLUMN",
    "RANK_COLUMN",
    "RATIO_COLUMN",
    "RELAXED",
    "SEED_REPORT",
    "SOFT_GATES",
    "SOFT_GUARDED",
    "SPECULATIVE_SAMPLING",
    "TOP1_COLUMN",
    "Shown",
    "TYPICAL",
    "UNIFORM_COLUMN",
    "Chance",
    "Column",
    "ColumnKind",
    "Correction",
    "DraftMeasures",
    "Gate",
    "GateCheck",
    "Judged",
    "NextToken",
    "Policy",
    "all_gates",
    "gate_check",
    "give_way",
    "in_top_k",
    "measure_draft",
    "next_policy",
    "policy_label",
    "policy_named",
    "policy_names",
    "policy_short",
    "register_policy",
    "residual_sample",
    "sampling_q",
    "tokens_kept",
    "unregister_policy",
    "verdict_names",
    "verifier_argmax",
    "verifier_sample",
]

N_ALTERNATIVES = 10  # verifier alternatives kept per position for the app's bars and traces

POLICIES: dict[str, Policy] = {
    policy.name: policy
    for policy in (GREEDY_EXACT, SOFT_GUARDED, SPECULATIVE_SAMPLING, RELAXED, TYPICAL)
}
DEFAULT_POLICY = SOFT_GUARDED.name  # the seed's headline policy
SEED_REPORT = (SOFT_GUARDED.name, GREEDY_EXACT.name)  # the seed's main prints both, soft first
COMPARED = (GREEDY_EXACT.name, SOFT_GUARDED.name)  # the compare view: exact vs lossy


def register_policy(policy: Policy) -> None:
    """Make `policy` selectable everywhere (--policy, t, settings, traces) from now on."""
    POLICIES[policy.name] = policy


def unregister_policy(name: str) -> None:
    """Forget a registered policy (tests register toy ones)."""
    del POLICIES[name]


def policy_named(name: str) -> Policy:
    """The registered policy called `name` (KeyError if none)."""
    return POLICIES[name]


def policy_names() -> tuple[str, ...]:
    """Every registered policy's name, in registration order."""
    return tuple(POLICIES)


def policy_label(name: str) -> str:
    """A policy's display name; an unknown name as it is."""
    policy = POLICIES.get(name)
    return policy.label if policy is not None else name


def policy_short(name: str) -> str:
    """A policy's verdict-column header; an unknown name as it is."""
    policy = POLICIES.get(name)
    return policy.short if policy is not None else name


def all_gates() -> tuple[Gate, ...]:
    """Every registered policy's gates, in registration order (the gate column's order)."""
    return tuple(gate for policy in POLICIES.values() for gate in policy.gates)


def next_policy(name: str) -> str:
    """The policy after `name` in registration order (what `t` cycles to)."""
    names = policy_names()
    return names[(names.index(name) + 1) % len(names)]


Shown = Column | Gate | str  # a column of a gate table: a measure, a gate, or a policy's verdict


def give_way(policy: Policy, columns: Sequence[Column], verdicts: Sequence[str]) -> list[Shown]:
    """What a gate table too narrow for everything drops, first to last, for a round under
    `policy`: the other policies' gates, then their verdicts (the last registered first),
    then the `columns` its test does not read (right to left). Its own gates, the columns it
    reads and its verdict are not in the list: they never give way."""
    others = [gate for gate in reversed(all_gates()) if gate not in policy.gates]
    verdicts_out = [name for name in reversed(verdicts) if name != policy.name]
    unread = [column for column in reversed(columns) if column not in policy.reads]
    return [*others, *verdicts_out, *unread]


def tokens_kept(config: DecodeConfig) -> int:
    """How many of the verifier's best tokens to keep per position: what every gate looks up."""
    return max(N_ALTERNATIVES, *(policy.keeps_top(config) for policy in POLICIES.values()))


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
    judged = Judged(measures, chance, n_accepted, config)
    gates = {gate.key: gate.passes(judged) for gate in all_gates()}
    return GateCheck(
        position=position,
        token_id=measures.token_id,
        q=q,
        p=measures.p,
        rank=measures.rank,
        top1_id=measures.top1_id,
        p_top1=measures.p_top1,
        margin=measures.p_top1 - measures.p,
        gates=gates,
        chance=chance,
        verdicts={name: policy.accept(judged, gates) for name, policy in POLICIES.items()},
        policy=config.policy,
        alternatives=tuple(
            zip(
                measures.topk_ids[:N_ALTERNATIVES],
                measures.topk_probs[:N_ALTERNATIVES],
                strict=True,
            )
        ),
        entropy=measures.entropy,
    )


def verdict_names(check: GateCheck) -> Sequence[str]:
    """The policies a check holds verdicts of, registered ones first (display order)."""
    known = [name for name in POLICIES if name in check.verdicts]
    return known + [name for name in check.verdicts if name not in POLICIES]
