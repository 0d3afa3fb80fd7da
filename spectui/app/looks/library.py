"""The built-in policies' looks (`engine.policy.library` holds their rules), by name.

Each says which columns the gate table shows for the policy, its gates' symbols and words,
the rule as a line of help, and, where its test is more than its gates, that test spelled
out for a check (speculative sampling's coin, typical acceptance's bar).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from spectui.app.looks.records import Column, GateLooks, PolicyLooks
from spectui.engine.policy.library import (
    GREEDY_EXACT,
    RELAXED,
    SOFT_GUARDED,
    SPECULATIVE_SAMPLING,
    TYPICAL,
    typical_bar,
)

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.policy.records import GateCheck

Q_COLUMN = Column("q", 4, "prob", lambda check: check.q)
P_COLUMN = Column("p", 4, "prob", lambda check: check.p)
RANK_COLUMN = Column("rank", 4, "count", lambda check: check.rank)
TOP1_COLUMN = Column("top-1", 6, "token", lambda check: check.top1_id)
P_TOP1_COLUMN = Column("p₁", 4, "prob", lambda check: check.p_top1)
MARGIN_COLUMN = Column("Δ", 4, "prob", lambda check: check.margin)
RATIO_COLUMN = Column("p/q", 4, "prob", lambda check: check.chance.accept_probability)
UNIFORM_COLUMN = Column("u", 4, "prob", lambda check: check.chance.uniform)
ENTROPY_COLUMN = Column("H", 4, "prob", lambda check: check.entropy)
DEFAULT_COLUMNS = (RANK_COLUMN, TOP1_COLUMN, P_TOP1_COLUMN, MARGIN_COLUMN)


def warped_note(config: DecodeConfig) -> str:
    """Which warps p (and q) went through, e.g. "p, q at T 0.7 · top-k 50"; "" for none."""
    warps = config.warp.describe()
    return f"p, q at {warps}" if warps else ""


def separating_digits(a: float, b: float) -> int:
    """Decimals enough to tell `a` from `b` apart (2 unless they round alike), at most 6."""
    digits = 2
    while digits < 6 and a != b and f"{a:.{digits}f}" == f"{b:.{digits}f}":
        digits += 1
    return digits


GREEDY_LOOKS = PolicyLooks(
    short="greedy",
    summary="accept iff the draft token is the verifier's top-1 (the output equals the "
    "verifier's own greedy decode)",
    columns=DEFAULT_COLUMNS,
    rule=lambda config: "greedy ✓ iff token = top-1",
    reads=(TOP1_COLUMN,),
)

SOFT_LOOKS = PolicyLooks(
    short="soft",
    summary="accept iff every gate passes: p ≥ p_thresh (gate t), rank ≤ top-k (k), "
    "Δ = p₁ − p ≤ margin (m), fewer than max_accept accepted this round (n)",
    columns=DEFAULT_COLUMNS,
    # Symbols apart from the columns' headers: the gate on p is t (its threshold), the gate on
    # the margin Δ is m, so a header never names a value and a gate alike.
    gates=(
        GateLooks("p_thresh", "t", lambda config: f"p≥{config.p_thresh:g}"),
        GateLooks("topk", "k", lambda config: f"top-{config.topk_gate}"),
        GateLooks("margin", "m", lambda config: f"Δ≤{config.margin_gate:g}"),
        GateLooks("max_accept", "n", lambda config: f"n<{config.max_accept}"),
    ),
    rule=warped_note,
    reads=(P_COLUMN, RANK_COLUMN, MARGIN_COLUMN),
)


def _sampling_rule(config: DecodeConfig) -> str:
    drawn = "" if config.sample_draft else ", q = 1: greedy drafts"
    return f"sample ✓ iff u < p/q = min(1, p/q){drawn}{_tested_warps(config, ' · ')}"


def _tested_warps(config: DecodeConfig, lead: str) -> str:
    """The warps of what speculative sampling tests: p and q, or p alone for a greedy draft."""
    warps = config.warp.describe()
    if not warps:
        return ""
    return f"{lead}{'p and q' if config.sample_draft else 'p'} at {warps}"


def _sampling_coin(check: GateCheck, config: DecodeConfig) -> str:
    """The coin against the ratio as a true statement, e.g. `u 0.38 ≥ p/q 0.15 → rejected`.

    A greedy draft says so: its q is 1, not the drafter's q the detail shows above it.
    """
    chance = check.chance
    accepted = chance.uniform < chance.accept_probability
    capped = chance.accept_probability >= 1.0  # p > q: min(1, p/q) is 1, any coin accepts
    digits = separating_digits(chance.uniform, chance.accept_probability)
    drawn = "" if config.sample_draft else ", q = 1 (greedy draft)"
    drawn += _tested_warps(config, ", ")
    return (
        f"sampling{drawn}: u {chance.uniform:.{digits}f} {'<' if accepted else '≥'} "
        f"{'min(1, p/q)' if capped else 'p/q'} {chance.accept_probability:.{digits}f} "
        f"→ {'accepted' if accepted else 'rejected'} "
    )


SAMPLING_LOOKS = PolicyLooks(
    short="sample",
    summary="accept when a uniform coin u < min(1, p/q); on rejection sample from "
    "max(0, p − q) (Leviathan et al.; the output follows the verifier's distribution)",
    # Its acceptance probability min(1, p/q) and the uniform draw u take the place of rank and
    # p₁ (both still in the token detail panel), in the same width.
    columns=(RATIO_COLUMN, UNIFORM_COLUMN, TOP1_COLUMN, MARGIN_COLUMN),
    reads=(Q_COLUMN, P_COLUMN, RATIO_COLUMN, UNIFORM_COLUMN),
    rule=_sampling_rule,
    explain=_sampling_coin,
)

RELAXED_LOOKS = PolicyLooks(
    short="relax",
    summary="accept iff the draft token is among the verifier's top-N (N) and p ≥ p₁ − δ (δ); "
    "on rejection the verifier's argmax (TensorRT-LLM's relaxed acceptance)",
    columns=DEFAULT_COLUMNS,
    gates=(
        GateLooks("relaxed_topk", "N", lambda config: f"top-{config.relaxed_topk}"),
        GateLooks("relaxed_delta", "δ", lambda config: f"p≥p₁−{config.relaxed_delta:g}"),
    ),
    rule=warped_note,
    reads=(P_COLUMN, RANK_COLUMN, P_TOP1_COLUMN),
)


def _typical_rule(config: DecodeConfig) -> str:
    rule = f"typical ✓ iff p > min({config.typical_threshold:g}, {config.typical_alpha:g}·e^−H)"
    warps = warped_note(config)
    return rule + (f" · {warps}" if warps else "")


def _typical_test(check: GateCheck, config: DecodeConfig) -> str:
    """The test as a true statement, e.g. `typical: p 0.12 > min(ε 0.09, α·e^−H 0.06) …`.

    A served verifier's H is a lower bound (its top-N and the rest as one bucket): said so.
    """
    bar = typical_bar(check.entropy, config)
    accepted = check.p > bar
    digits = separating_digits(check.p, bar)
    scaled = config.typical_alpha * math.exp(-check.entropy)
    bound = "≥ " if config.verifier_url is not None else ""
    return (
        f"typical, H {bound}{check.entropy:.2f}: p {check.p:.{digits}f} "
        f"{'>' if accepted else '≤'} min(ε {config.typical_threshold:g}, α·e^−H "
        f"{scaled:.{digits}f}) → {'accepted' if accepted else 'rejected'} "
    )


TYPICAL_LOOKS = PolicyLooks(
    short="typ",
    summary="accept iff p > min(ε, α·e^−H), H the verifier's entropy at that position; on "
    "rejection the verifier's argmax (Medusa's typical acceptance)",
    # H takes the place of Δ: the threshold moves with it (a flat distribution lowers it).
    columns=(ENTROPY_COLUMN, RANK_COLUMN, TOP1_COLUMN, P_TOP1_COLUMN),
    rule=_typical_rule,
    explain=_typical_test,
    reads=(P_COLUMN, ENTROPY_COLUMN),
)

BUILT_IN = {
    GREEDY_EXACT.name: GREEDY_LOOKS,
    SOFT_GUARDED.name: SOFT_LOOKS,
    SPECULATIVE_SAMPLING.name: SAMPLING_LOOKS,
    RELAXED.name: RELAXED_LOOKS,
    TYPICAL.name: TYPICAL_LOOKS,
}
