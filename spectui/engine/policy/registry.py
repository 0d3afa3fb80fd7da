"""Acceptance policies as records, separate from the mechanism that runs them.

`PolicyRegistry` is the one registry of policies; `POLICIES` is its instance, holding the
built-in ones, and every consumer (the decode loop, the config's checks, the CLI, the app)
reads that one object. `gate_check` turns one position's measures into a `GateCheck` record
holding every quantity a policy looks at, every gate's pass/fail and *every* registered
policy's verdict. The decode loop asks the active `Policy` record what to append. Nothing
outside the policy modules compares a policy's name: adding a policy is one `Policy` record
(passed to `register_policy`) plus its tests, and the app's looks for it (`spectui.app.looks`).

The records are in `records`, the built-in policies in `library`. What the verifier's
distribution says about a draft token (`DraftMeasures`, `measure_draft`) is beside the verifier
seam, in `spectui.engine.seams`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from spectui.engine.config import DEFAULT_POLICY, DecodeConfig
from spectui.engine.knobs import OwnKnob
from spectui.engine.policy.library import (
    GREEDY_EXACT,
    RELAXED,
    SOFT_GUARDED,
    SPECULATIVE_SAMPLING,
    TYPICAL,
)
from spectui.engine.policy.records import Chance, Gate, GateCheck, Judged, Policy
from spectui.engine.seams import DraftMeasures

__all__ = [
    "COMPARED",
    "DEFAULT_POLICY",
    "N_ALTERNATIVES",
    "POLICIES",
    "SEED_REPORT",
    "PolicyRegistry",
    "all_gates",
    "gate_check",
    "next_policy",
    "policy_label",
    "policy_named",
    "policy_names",
    "register_policy",
    "tokens_kept",
    "unregister_policy",
]

N_ALTERNATIVES = 10  # verifier alternatives kept per position for the app's bars and traces


class PolicyRegistry:
    """The policies a decode may run, by name, in registration order: the order `t` cycles
    through, and the order of the gate column and of the verdict columns."""

    def __init__(self, policies: Sequence[Policy] = ()) -> None:
        self._policies: dict[str, Policy] = {}
        for policy in policies:
            self.register(policy)

    def register(self, policy: Policy) -> None:
        """Make `policy` selectable everywhere (--policy, t, settings, traces) from now on."""
        self._policies[policy.name] = policy

    def unregister(self, name: str) -> None:
        """Forget a registered policy (tests register toy ones)."""
        del self._policies[name]

    def __iter__(self) -> Iterator[Policy]:
        return iter(tuple(self._policies.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._policies

    def named(self, name: str) -> Policy:
        """The registered policy called `name` (KeyError if none)."""
        return self._policies[name]

    def names(self) -> tuple[str, ...]:
        """Every registered policy's name, in registration order."""
        return tuple(self._policies)

    def label(self, name: str) -> str:
        """A policy's display name; an unknown name (an old trace's) as it is."""
        policy = self._policies.get(name)
        return policy.label if policy is not None else name

    def own_knobs(self) -> dict[str, OwnKnob]:
        """Every registered policy's own knobs (`Policy.knobs`), by name, in registration order."""
        return {own.name: own for policy in self for own in policy.knobs}

    def gates(self) -> tuple[Gate, ...]:
        """Every registered policy's gates, in registration order (the gate column's order)."""
        return tuple(gate for policy in self for gate in policy.gates)

    def after(self, name: str) -> str:
        """The policy after `name` in registration order (what `t` cycles to)."""
        names = self.names()
        return names[(names.index(name) + 1) % len(names)]

    def tokens_kept(self, config: DecodeConfig) -> int:
        """How many of the verifier's best tokens to keep per position: what every gate looks
        up."""
        return max(N_ALTERNATIVES, *(policy.keeps_top(config) for policy in self))

    def verdict_names(self, check: GateCheck) -> Sequence[str]:
        """The policies a check holds verdicts of, registered ones first (display order)."""
        known = [name for name in self._policies if name in check.verdicts]
        return known + [name for name in check.verdicts if name not in self._policies]

    def gate_check(
        self,
        measures: DraftMeasures,
        q: float,
        position: int,
        n_accepted: int,
        config: DecodeConfig,
        uniform: float = 0.0,
        tested_p: float | None = None,
    ) -> GateCheck:
        """Judge one draft token under `config`'s thresholds; the active policy is
        config.policy. See the module function `gate_check`."""
        q_drawn = q if config.sample_draft else 1.0
        p = measures.p if tested_p is None else tested_p
        chance = Chance(
            accept_probability=min(1.0, p / q_drawn) if q_drawn > 0 else 1.0,
            uniform=uniform,
        )
        judged = Judged(measures, chance, n_accepted, config)
        gates = {gate.key: gate.passes(judged) for gate in self.gates()}
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
            verdicts={policy.name: policy.accept(judged, gates) for policy in self},
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


POLICIES = PolicyRegistry((GREEDY_EXACT, SOFT_GUARDED, SPECULATIVE_SAMPLING, RELAXED, TYPICAL))
SEED_REPORT = (SOFT_GUARDED.name, GREEDY_EXACT.name)  # the seed's main prints both, soft first
COMPARED = (GREEDY_EXACT.name, SOFT_GUARDED.name)  # the compare view: exact vs lossy


# The registry's lookups as functions, for the callers that only read it.


def register_policy(policy: Policy) -> None:
    """Make `policy` selectable everywhere (--policy, t, settings, traces) from now on."""
    POLICIES.register(policy)


def unregister_policy(name: str) -> None:
    """Forget a registered policy (tests register toy ones)."""
    POLICIES.unregister(name)


def policy_named(name: str) -> Policy:
    """The registered policy called `name` (KeyError if none)."""
    return POLICIES.named(name)


def policy_names() -> tuple[str, ...]:
    """Every registered policy's name, in registration order."""
    return POLICIES.names()


def policy_label(name: str) -> str:
    """A policy's display name; an unknown name as it is."""
    return POLICIES.label(name)


def all_gates() -> tuple[Gate, ...]:
    """Every registered policy's gates, in registration order (the gate column's order)."""
    return POLICIES.gates()


def next_policy(name: str) -> str:
    """The policy after `name` in registration order (what `t` cycles to)."""
    return POLICIES.after(name)


def tokens_kept(config: DecodeConfig) -> int:
    """How many of the verifier's best tokens to keep per position: what every gate looks up."""
    return POLICIES.tokens_kept(config)


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
    return POLICIES.gate_check(measures, q, position, n_accepted, config, uniform, tested_p)
