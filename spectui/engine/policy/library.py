"""The built-in acceptance policies, each one `Policy` record (`registry` registers them).

greedy-exact and soft-guarded are the seed's; speculative sampling is Leviathan et al.'s;
relaxed acceptance is TensorRT-LLM's (its DeepSeek-R1 MTP work) and typical acceptance
Medusa's. Every one judges the verifier's distribution after the sampling warps
(`warps.Warp`: temperature, top-k, top-p), the same p for all of them. How the app shows each
(its columns, gate symbols, rule in words) is in `spectui.app.looks.library`, by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from spectui.engine.policy.records import Gate, Judged, Policy, TreeWalk
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


SOFT_GATES = (
    Gate("p_thresh", lambda judged: judged.measures.p >= judged.config.p_thresh),
    Gate("topk", lambda judged: in_top_k(judged.measures, judged.config.topk_gate)),
    Gate(
        "margin",
        lambda judged: judged.measures.p_top1 - judged.measures.p <= judged.config.margin_gate,
    ),
    Gate("max_accept", lambda judged: judged.n_accepted < judged.config.max_accept),
)


def in_top_k(measures: DraftMeasures, k: int) -> bool:
    """Membership in torch.topk's set, exactly as the seed tests it."""
    if k <= len(measures.topk_ids):
        return measures.token_id in measures.topk_ids[:k]
    return measures.rank <= k


GREEDY_EXACT = Policy(
    name="greedy",
    label="greedy-exact",
    parameters=(),
    gates=(),
    accept=lambda judged, gates: judged.measures.token_id == judged.measures.top1_id,
    correction=verifier_argmax,
    next_token=verifier_argmax,
)

SOFT_GUARDED = Policy(
    name="soft",
    label="soft-guarded",
    parameters=("p_thresh", "topk_gate", "margin_gate", "max_accept"),
    gates=SOFT_GATES,
    accept=every_gate_of(SOFT_GATES),
    correction=verifier_argmax,
    next_token=verifier_argmax,
    accept_cap=lambda config: config.max_accept,
    keeps_top=lambda config: config.topk_gate,
)


def sampling_q(q: float, config: DecodeConfig) -> float:
    """The q speculative sampling's ratio p/q divides by: the drafter's q for a sampled draft,
    1 for a greedy one (it was drawn with certainty), as `gate_check` tests it."""
    return q if config.sample_draft else 1.0


SPECULATIVE_SAMPLING = Policy(
    name="sample",
    label="speculative-sampling",
    parameters=("sample_draft", "temperature", "top_k", "top_p"),
    gates=(),
    accept=lambda judged, gates: judged.chance.uniform < judged.chance.accept_probability,
    correction=residual_sample,
    next_token=verifier_sample,
    tested_q=sampling_q,
    tree_walk=TreeWalk.REJECTION,
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
    Gate("relaxed_topk", lambda judged: in_top_k(judged.measures, judged.config.relaxed_topk)),
    Gate(
        "relaxed_delta",
        lambda judged: judged.measures.p >= judged.measures.p_top1 - judged.config.relaxed_delta,
    ),
)

RELAXED = Policy(
    name="relaxed",
    label="relaxed-acceptance",
    parameters=("relaxed_topk", "relaxed_delta"),
    gates=RELAXED_GATES,
    accept=every_gate_of(RELAXED_GATES),
    correction=verifier_argmax,
    next_token=verifier_argmax,
    keeps_top=lambda config: config.relaxed_topk,
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


TYPICAL = Policy(
    name="typical",
    label="typical-acceptance",
    parameters=("typical_threshold", "typical_alpha"),
    gates=(),
    accept=lambda judged, gates: _typical_accepts(judged.measures, judged.config),
    correction=verifier_argmax,
    next_token=verifier_argmax,
)
