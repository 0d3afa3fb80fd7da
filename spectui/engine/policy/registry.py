"""Acceptance policies as records, separate from the mechanism that runs them.

`gate_check` turns one position's measures into a `GateCheck` record holding every quantity a
policy looks at, every gate's pass/fail and *every* registered policy's verdict. The decode
loop asks the active `Policy` record what to append; the widgets ask it which columns and
rules to show. Nothing outside the policy modules compares a policy's name: adding a policy is
one `Policy` record (passed to `register_policy`) plus its tests.

The records are in `records`, the built-in policies in `library`, the names a config may
hold in `names`; this module holds the registry and the mechanism. What the verifier's
distribution says about a draft token (`DraftMeasures`, `measure_draft`) is beside the verifier
seam, in `spectui.engine.seams`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from spectui.engine.policy.library import (
    GREEDY_EXACT,
    RELAXED,
    SOFT_GUARDED,
    SPECULATIVE_SAMPLING,
    TYPICAL,
)
from spectui.engine.policy.names import (
    DEFAULT_POLICY,
    forget_policy,
    note_policy,
    policy_label,
    policy_names,
)
from spectui.engine.policy.records import Chance, Column, Gate, GateCheck, Judged, Policy
from spectui.engine.seams import DraftMeasures

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig

__all__ = [
    "COMPARED",
    "DEFAULT_POLICY",
    "N_ALTERNATIVES",
    "POLICIES",
    "SEED_REPORT",
    "Shown",
    "all_gates",
    "gate_check",
    "give_way",
    "next_policy",
    "policy_label",
    "policy_named",
    "policy_names",
    "policy_short",
    "register_policy",
    "tokens_kept",
    "unregister_policy",
    "verdict_names",
]

N_ALTERNATIVES = 10  # verifier alternatives kept per position for the app's bars and traces

POLICIES: dict[str, Policy] = {}
SEED_REPORT = (SOFT_GUARDED.name, GREEDY_EXACT.name)  # the seed's main prints both, soft first
COMPARED = (GREEDY_EXACT.name, SOFT_GUARDED.name)  # the compare view: exact vs lossy


def register_policy(policy: Policy) -> None:
    """Make `policy` selectable everywhere (--policy, t, settings, traces) from now on."""
    POLICIES[policy.name] = policy
    note_policy(policy.name, policy.label, policy.knobs)


def unregister_policy(name: str) -> None:
    """Forget a registered policy (tests register toy ones)."""
    del POLICIES[name]
    forget_policy(name)


def policy_named(name: str) -> Policy:
    """The registered policy called `name` (KeyError if none)."""
    return POLICIES[name]


def policy_short(name: str) -> str:
    """A policy's verdict-column header; an unknown name as it is."""
    policy = POLICIES.get(name)
    return policy.short if policy is not None else name


for _policy in (GREEDY_EXACT, SOFT_GUARDED, SPECULATIVE_SAMPLING, RELAXED, TYPICAL):
    register_policy(_policy)
assert SOFT_GUARDED.name == DEFAULT_POLICY  # names.py cannot import the record it names


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


def gate_check(
    measures: DraftMeasures,
    q: float,
    position: int,
    n_accepted: int,
    config: DecodeConfig,
    uniform: float = 0.0,
    tested_p: float | None = None,
) -> GateCheck:
    """Judge one draft token under `config`'s thresholds; the active policy is config.policy.

    `q` is the drafter's probability of its token; greedy drafts are drawn with probability
    1, which is what speculative sampling's ratio p/q must use to stay lossless. `tested_p`
    is the p that ratio reads where it is not the verifier's own: a later sibling of a token
    tree is tested against the residual its rejected elder siblings left (`tree.sampling`).
    """
    q_drawn = q if config.sample_draft else 1.0
    p = measures.p if tested_p is None else tested_p
    chance = Chance(
        accept_probability=min(1.0, p / q_drawn) if q_drawn > 0 else 1.0,
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
