"""Acceptance policies as records, separate from the mechanism that runs them.

`measure_draft` reads what the verifier thought of every draft position (one tensor pass);
`gate_check` turns one position's measures into a `GateCheck` record holding every quantity a
policy looks at, every gate's pass/fail and *every* registered policy's verdict. The decode
loop asks the active `Policy` record what to append; the widgets ask it which columns and
rules to show. Nothing outside this module compares a policy's name: adding a policy is one
`Policy` record (passed to `register_policy`) plus its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch loads on first use: traces and replays read these records without it
    import torch

    from spectui.engine.backends import Scored
    from spectui.engine.config import DecodeConfig

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
class Chance:
    """Speculative sampling's coin: accept when uniform < accept_probability."""

    accept_probability: float  # min(1, p / q), q the probability the draft was drawn with
    uniform: float  # a seeded U[0, 1) draw, recorded so a trace replays identically


@dataclass(frozen=True)
class Judged:
    """Everything a gate or a policy may look at for one draft token."""

    measures: DraftMeasures
    chance: Chance
    n_accepted: int  # draft tokens accepted earlier in this round
    config: DecodeConfig


@dataclass(frozen=True)
class Gate:
    """One pass/fail test, shown as `symbol` in the gate column and `rule(config)` in words."""

    key: str  # its name in a GateCheck's `gates` and in traces
    symbol: str  # one character, the gate column's header
    rule: Callable[[DecodeConfig], str]  # e.g. "p≥0.05"
    passes: Callable[[Judged], bool]


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
    gates: dict[str, bool]  # every registered gate's pass/fail, by Gate.key
    chance: Chance
    verdicts: dict[str, bool]  # what each policy would decide on this same pass, by name
    policy: str  # the policy that drove the decode at this position
    alternatives: tuple[tuple[int, float], ...]  # verifier's top tokens (id, p), best first

    @property
    def accepted(self) -> bool:
        """The active policy's verdict."""
        return self.verdicts[self.policy]


ColumnKind = Literal["prob", "count", "token"]


@dataclass(frozen=True)
class Column:
    """A gate-panel column a policy shows between p and the gates."""

    header: str
    width: int
    kind: ColumnKind  # prob: four-character probability; count: integer; token: a token id
    value: Callable[[GateCheck], float | int]


# A correction: the token appended where draft `position` was rejected, from the verifier's
# scores, what the draft was drawn from (a token id for greedy drafts, else q's row) and the
# engine's chance generator. A next token: the verifier's own token at `position`.
Correction = Callable[["Scored", int, "int | torch.Tensor", "torch.Generator"], int]
NextToken = Callable[["Scored", int, "torch.Generator"], int]


@dataclass(frozen=True)
class Policy:
    """An acceptance policy: what it accepts, what it appends instead, and how it is shown."""

    name: str  # the value of --policy and of DecodeConfig.policy
    label: str  # its display name
    short: str  # its verdict column's header
    summary: str  # one line: the rule, for help texts
    parameters: tuple[str, ...]  # the DecodeConfig fields it reads
    gates: tuple[Gate, ...]  # the gates it owns (shown for every policy)
    accept: Callable[[Judged, dict[str, bool]], bool]  # (judged, every gate's pass) -> verdict
    correction: Correction
    next_token: NextToken  # the bonus token after a fully accepted draft
    columns: tuple[Column, ...]
    rule: Callable[[DecodeConfig], str] = lambda config: ""  # extra words for the gate panel
    explain: Callable[[GateCheck], str] | None = None  # a line of the token detail, if any


def verifier_argmax(scored: Scored, position: int, *_: object) -> int:
    """The verifier's own greedy token at `position` (the seed's correction)."""
    return scored.top1(position)


def residual_sample(
    scored: Scored, position: int, drawn: int | torch.Tensor, generator: torch.Generator
) -> int:
    """A draw from max(0, p − q), normalised: keeps the output distributed as the verifier's."""
    return scored.sample(position, generator, drawn)


def verifier_sample(scored: Scored, position: int, generator: torch.Generator) -> int:
    """A draw from the verifier's distribution at `position`."""
    return scored.sample(position, generator)


RANK_COLUMN = Column("rank", 4, "count", lambda check: check.rank)
TOP1_COLUMN = Column("top-1", 6, "token", lambda check: check.top1_id)
P_TOP1_COLUMN = Column("p₁", 4, "prob", lambda check: check.p_top1)
MARGIN_COLUMN = Column("Δ", 4, "prob", lambda check: check.margin)
DEFAULT_COLUMNS = (RANK_COLUMN, TOP1_COLUMN, P_TOP1_COLUMN, MARGIN_COLUMN)

SOFT_GATES = (
    Gate(
        "p_thresh",
        "p",
        lambda config: f"p≥{config.p_thresh:g}",
        lambda judged: judged.measures.p >= judged.config.p_thresh,
    ),
    Gate(
        "topk",
        "k",
        lambda config: f"top-{config.topk_gate}",
        lambda judged: in_top_k(judged.measures, judged.config.topk_gate),
    ),
    Gate(
        "margin",
        "Δ",
        lambda config: f"Δ≤{config.margin_gate:g}",
        lambda judged: judged.measures.p_top1 - judged.measures.p <= judged.config.margin_gate,
    ),
    Gate(
        "max_accept",
        "n",
        lambda config: f"n<{config.max_accept}",
        lambda judged: judged.n_accepted < judged.config.max_accept,
    ),
)


def in_top_k(measures: DraftMeasures, k: int) -> bool:
    """Membership in torch.topk's set, exactly as the seed tests it."""
    if k <= len(measures.topk_ids):
        return measures.token_id in measures.topk_ids[:k]
    return measures.rank <= k


GREEDY_EXACT = Policy(
    name="greedy",
    label="greedy-exact",
    short="greedy",
    summary="accept iff the draft token is the verifier's top-1 (the output equals the "
    "verifier's own greedy decode)",
    parameters=(),
    gates=(),
    accept=lambda judged, gates: judged.measures.token_id == judged.measures.top1_id,
    correction=verifier_argmax,
    next_token=lambda scored, position, generator: scored.top1(position),
    columns=DEFAULT_COLUMNS,
)

SOFT_GUARDED = Policy(
    name="soft",
    label="soft-guarded",
    short="soft",
    summary="accept iff every gate passes: p ≥ p_thresh (p), rank ≤ top-k (k), "
    "p₁ − p ≤ margin (Δ), fewer than max_accept accepted this round (n)",
    parameters=("p_thresh", "topk_gate", "margin_gate", "max_accept"),
    gates=SOFT_GATES,
    accept=lambda judged, gates: all(gates[gate.key] for gate in SOFT_GATES),
    correction=verifier_argmax,
    next_token=lambda scored, position, generator: scored.top1(position),
    columns=DEFAULT_COLUMNS,
)


def _sampling_rule(config: DecodeConfig) -> str:
    drawn = "" if config.sample_draft else ", q = 1: greedy drafts"
    return f"sample ✓ iff u < p/q = min(1, p/q){drawn}"


def _sampling_coin(check: GateCheck) -> str:
    chance = check.chance
    return f"sampling coin u {chance.uniform:.2f} < P(accept) {chance.accept_probability:.2f} "


SPECULATIVE_SAMPLING = Policy(
    name="sample",
    label="speculative-sampling",
    short="sample",
    summary="accept when a uniform coin u < min(1, p/q); on rejection sample from "
    "max(0, p − q) (Leviathan et al.; the output follows the verifier's distribution)",
    parameters=("sample_draft",),
    gates=(),
    accept=lambda judged, gates: judged.chance.uniform < judged.chance.accept_probability,
    correction=residual_sample,
    next_token=verifier_sample,
    # Its acceptance probability min(1, p/q) and the uniform draw u take the place of rank and
    # p₁ (both still in the token detail panel), in the same width.
    columns=(
        Column("p/q", 4, "prob", lambda check: check.chance.accept_probability),
        Column("u", 4, "prob", lambda check: check.chance.uniform),
        TOP1_COLUMN,
        MARGIN_COLUMN,
    ),
    rule=_sampling_rule,
    explain=_sampling_coin,
)

POLICIES: dict[str, Policy] = {
    policy.name: policy for policy in (GREEDY_EXACT, SOFT_GUARDED, SPECULATIVE_SAMPLING)
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
    )


def verdict_names(check: GateCheck) -> Sequence[str]:
    """The policies a check holds verdicts of, registered ones first (display order)."""
    known = [name for name in POLICIES if name in check.verdicts]
    return known + [name for name in check.verdicts if name not in POLICIES]
