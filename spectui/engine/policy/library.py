"""The built-in acceptance policies, each one `Policy` record (`registry` registers them).

greedy-exact and soft-guarded are the seed's; speculative sampling is Leviathan et al.'s;
relaxed acceptance is TensorRT-LLM's (its DeepSeek-R1 MTP work) and typical acceptance
Medusa's. Every one judges the verifier's distribution after the sampling warps
(`warps.Warp`: temperature, top-k, top-p), the same p for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from spectui.engine.policy.records import Column, Gate, GateCheck, Judged, Policy
from spectui.engine.seams import DraftMeasures

if TYPE_CHECKING:
    import torch

    from spectui.engine.config import DecodeConfig
    from spectui.engine.seams import Scored


def verifier_argmax(scored: Scored, position: int, *_: object) -> int:
    """The verifier's own greedy token at `position` (the seed's correction, and the bonus
    token of every policy but speculative sampling)."""
    return scored.top1(position)


def residual_sample(
    scored: Scored, position: int, drawn: int | torch.Tensor, generator: torch.Generator
) -> int:
    """A draw from max(0, p − q), normalised: keeps the output distributed as the verifier's."""
    return scored.sample(position, generator, drawn)


def every_gate_of(gates: tuple[Gate, ...]) -> Callable[[Judged, dict[str, bool]], bool]:
    """A verdict that accepts when each of `gates` passed."""
    return lambda judged, passed: all(passed[gate.key] for gate in gates)


def verifier_sample(scored: Scored, position: int, generator: torch.Generator) -> int:
    """A draw from the verifier's distribution at `position`."""
    return scored.sample(position, generator)


Q_COLUMN = Column("q", 4, "prob", lambda check: check.q)
P_COLUMN = Column("p", 4, "prob", lambda check: check.p)
RANK_COLUMN = Column("rank", 4, "count", lambda check: check.rank)
TOP1_COLUMN = Column("top-1", 6, "token", lambda check: check.top1_id)
P_TOP1_COLUMN = Column("p₁", 4, "prob", lambda check: check.p_top1)
MARGIN_COLUMN = Column("Δ", 4, "prob", lambda check: check.margin)
DEFAULT_COLUMNS = (RANK_COLUMN, TOP1_COLUMN, P_TOP1_COLUMN, MARGIN_COLUMN)

SOFT_GATES = (
    # Symbols apart from the columns' headers: the gate on p is t (its threshold), the gate on
    # the margin Δ is m, so a header never names a value and a gate alike.
    Gate(
        "p_thresh",
        "t",
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
        "m",
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


def warped_note(config: DecodeConfig) -> str:
    """Which warps p (and q) went through, e.g. "p, q at T 0.7 · top-k 50"; "" for none."""
    warps = config.warp.describe()
    return f"p, q at {warps}" if warps else ""


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
    next_token=verifier_argmax,
    columns=DEFAULT_COLUMNS,
    rule=lambda config: "greedy ✓ iff token = top-1",
    reads=(TOP1_COLUMN,),
)

SOFT_GUARDED = Policy(
    name="soft",
    label="soft-guarded",
    short="soft",
    summary="accept iff every gate passes: p ≥ p_thresh (gate t), rank ≤ top-k (k), "
    "Δ = p₁ − p ≤ margin (m), fewer than max_accept accepted this round (n)",
    parameters=("p_thresh", "topk_gate", "margin_gate", "max_accept"),
    gates=SOFT_GATES,
    accept=every_gate_of(SOFT_GATES),
    correction=verifier_argmax,
    next_token=verifier_argmax,
    columns=DEFAULT_COLUMNS,
    rule=warped_note,
    accept_cap=lambda config: config.max_accept,
    keeps_top=lambda config: config.topk_gate,
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


def sampling_q(q: float, config: DecodeConfig) -> float:
    """The q speculative sampling's ratio p/q divides by: the drafter's q for a sampled draft,
    1 for a greedy one (it was drawn with certainty), as `gate_check` tests it."""
    return q if config.sample_draft else 1.0


def _sampling_coin(check: GateCheck, config: DecodeConfig) -> str:
    """The coin against the ratio as a true statement, e.g. `u 0.38 ≥ p/q 0.15 → rejected`.

    A greedy draft says so: its q is 1, not the drafter's q the detail shows above it.
    """
    chance = check.chance
    accepted = chance.uniform < chance.accept_probability
    capped = chance.accept_probability >= 1.0  # p > q: min(1, p/q) is 1, any coin accepts
    digits = _separating_digits(chance.uniform, chance.accept_probability)
    drawn = "" if config.sample_draft else ", q = 1 (greedy draft)"
    drawn += _tested_warps(config, ", ")
    return (
        f"sampling{drawn}: u {chance.uniform:.{digits}f} {'<' if accepted else '≥'} "
        f"{'min(1, p/q)' if capped else 'p/q'} {chance.accept_probability:.{digits}f} "
        f"→ {'accepted' if accepted else 'rejected'} "
    )


def _separating_digits(a: float, b: float) -> int:
    """Decimals enough to tell `a` from `b` apart (2 unless they round alike), at most 6."""
    digits = 2
    while digits < 6 and a != b and f"{a:.{digits}f}" == f"{b:.{digits}f}":
        digits += 1
    return digits


RATIO_COLUMN = Column("p/q", 4, "prob", lambda check: check.chance.accept_probability)
UNIFORM_COLUMN = Column("u", 4, "prob", lambda check: check.chance.uniform)

SPECULATIVE_SAMPLING = Policy(
    name="sample",
    label="speculative-sampling",
    short="sample",
    summary="accept when a uniform coin u < min(1, p/q); on rejection sample from "
    "max(0, p − q) (Leviathan et al.; the output follows the verifier's distribution)",
    parameters=("sample_draft", "temperature", "top_k", "top_p"),
    gates=(),
    accept=lambda judged, gates: judged.chance.uniform < judged.chance.accept_probability,
    correction=residual_sample,
    next_token=verifier_sample,
    # Its acceptance probability min(1, p/q) and the uniform draw u take the place of rank and
    # p₁ (both still in the token detail panel), in the same width.
    columns=(RATIO_COLUMN, UNIFORM_COLUMN, TOP1_COLUMN, MARGIN_COLUMN),
    reads=(Q_COLUMN, P_COLUMN, RATIO_COLUMN, UNIFORM_COLUMN),
    rule=_sampling_rule,
    explain=_sampling_coin,
    tested_q=sampling_q,
    tree_walk="rejection",
)


# --- relaxed acceptance (TensorRT-LLM) -----------------------------------------------------

# TensorRT-LLM's relaxed acceptance for MTP (blog "DeepSeek R1 MTP Implementation and
# Optimization"; `mtpRelaxedAcceptanceKernel` in cpp/tensorrt_llm/kernels/speculativeDecoding/
# mtpKernels.cu, fed by `torch.topk(torch.softmax(logits), relaxed_topk)` in
# tensorrt_llm/_torch/speculative/mtp.py): the candidates are the verifier's top `relaxed_topk`
# tokens whose probability is at least p_top1 − `relaxed_delta`, and a draft token is accepted
# when it is one of them. Ours is the same test on the same set: `in_top_k` is torch.topk's
# membership and p ≥ p₁ − δ is the kernel's stop at the first candidate below the threshold (the
# top-1 itself always passes). Its correction and its bonus token are the verifier's argmax, the
# kernel's "golden token" (topKIndices[0]). Defaults N = 10, δ = 0.6 are the blog's DeepSeek-R1
# settings (`MTPDecodingConfig` itself defaults to 1 and 0, strict acceptance). Differences:
# TensorRT-LLM relaxes only inside <think>…</think> and compares in float32; here it is every
# token, in float64. As a rule it is soft-guarded's top-k and margin gates (Δ = p₁ − p ≤ δ)
# without the p floor and the per-round cap.
RELAXED_GATES = (
    Gate(
        "relaxed_topk",
        "N",
        lambda config: f"top-{config.relaxed_topk}",
        lambda judged: in_top_k(judged.measures, judged.config.relaxed_topk),
    ),
    Gate(
        "relaxed_delta",
        "δ",
        lambda config: f"p≥p₁−{config.relaxed_delta:g}",
        lambda judged: judged.measures.p >= judged.measures.p_top1 - judged.config.relaxed_delta,
    ),
)

RELAXED = Policy(
    name="relaxed",
    label="relaxed-acceptance",
    short="relax",
    summary="accept iff the draft token is among the verifier's top-N (N) and p ≥ p₁ − δ (δ); "
    "on rejection the verifier's argmax (TensorRT-LLM's relaxed acceptance)",
    parameters=("relaxed_topk", "relaxed_delta"),
    gates=RELAXED_GATES,
    accept=every_gate_of(RELAXED_GATES),
    correction=verifier_argmax,
    next_token=verifier_argmax,
    columns=DEFAULT_COLUMNS,
    rule=warped_note,
    keeps_top=lambda config: config.relaxed_topk,
    reads=(P_COLUMN, RANK_COLUMN, P_TOP1_COLUMN),
)


# --- typical acceptance (Medusa) -----------------------------------------------------------

# Medusa's typical acceptance (Cai et al. 2024; `evaluate_posterior` in medusa/model/utils.py,
# defaults posterior_threshold ε = 0.09 and posterior_alpha α = 0.3 in `medusa_generate`,
# medusa/model/medusa_model.py): a candidate token x is accepted when p(x) > min(ε,
# α·exp(−H(p))), strictly, with p the verifier's softmax at the sampling temperature and H its
# entropy there. Ours is that test on the warped p (Medusa warps by temperature only; top-k and
# top-p here narrow p first, and at T = 0 p is one-hot, H = 0, so it accepts only the argmax,
# which is Medusa's greedy branch). H is −Σ p ln p exactly, where Medusa adds 1e-5 inside the
# log (a guard that lowers its H, by up to ln(1 + 1e-5·vocab) nats for a flat p). On rejection
# the verifier's argmax, as Medusa's next candidates start from the base model's argmax
# (`generate_candidates`). With a served verifier H is a lower bound (see
# DraftMeasures.entropy): its bar min(ε, α·e^−H) is then an upper bound, so typical accepts only
# what it would accept with the whole distribution, and may reject a little more.


def typical_bar(entropy: float, config: DecodeConfig) -> float:
    """The probability a draft token must exceed: min(ε, α·e^−H)."""
    return min(config.typical_threshold, config.typical_alpha * math.exp(-entropy))


def _typical_accepts(measures: DraftMeasures, config: DecodeConfig) -> bool:
    return measures.p > typical_bar(measures.entropy, config)


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
    digits = _separating_digits(check.p, bar)
    scaled = config.typical_alpha * math.exp(-check.entropy)
    bound = "≥ " if config.verifier_url is not None else ""
    return (
        f"typical, H {bound}{check.entropy:.2f}: p {check.p:.{digits}f} "
        f"{'>' if accepted else '≤'} min(ε {config.typical_threshold:g}, α·e^−H "
        f"{scaled:.{digits}f}) → {'accepted' if accepted else 'rejected'} "
    )


ENTROPY_COLUMN = Column("H", 4, "prob", lambda check: check.entropy)

TYPICAL = Policy(
    name="typical",
    label="typical-acceptance",
    short="typ",
    summary="accept iff p > min(ε, α·e^−H), H the verifier's entropy at that position; on "
    "rejection the verifier's argmax (Medusa's typical acceptance)",
    parameters=("typical_threshold", "typical_alpha"),
    gates=(),
    accept=lambda judged, gates: _typical_accepts(judged.measures, judged.config),
    correction=verifier_argmax,
    next_token=verifier_argmax,
    # H takes the place of Δ: the threshold moves with it (a flat distribution lowers it).
    columns=(ENTROPY_COLUMN, RANK_COLUMN, TOP1_COLUMN, P_TOP1_COLUMN),
    rule=_typical_rule,
    explain=_typical_test,
    reads=(P_COLUMN, ENTROPY_COLUMN),
)
