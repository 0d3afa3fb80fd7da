"""The benchmark itself: which methods run, in what order, and the figures drawn from them.

`run_bench` returns one JSON-ready dict; `report` renders the same dict as tables, so what
`--json` prints and what a person reads cannot disagree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch
from transformers import PreTrainedModel

from spectui import __version__
from spectui.bench.baselines import (
    Decoded,
    configure_assistant,
    hf_assisted,
    plain_generate,
    seed_decode,
)
from spectui.bench.categories import per_category
from spectui.bench.drafting import CHAIN, DRAFTING, tree_at_chain_budget
from spectui.bench.kernels import (
    agreement_per_kernel,
    block_costs,
    read_bandwidth_floor,
    thread_counts,
    variant_models,
)
from spectui.bench.oracle import engine_decode, oracle_decoder
from spectui.bench.provenance import load_average, machine, source_commit, versions
from spectui.bench.runner import Method, Run, Spread, Timings, run_interleaved
from spectui.engine.config import DecodeConfig
from spectui.engine.cost.sampler import CostModel, CostSampler, alpha_estimate
from spectui.engine.decode import SpeculativeDecoder, encode_prompt
from spectui.engine.drafters.methods import draft_method
from spectui.engine.models.loading import ModelPair, method_label
from spectui.engine.models.progress import BarSink
from spectui.engine.policy.library import GREEDY_EXACT, SOFT_GUARDED
from spectui.engine.stats import expected_tokens_per_round

Progress = Callable[[str], None]
WARMUP_TOKENS = 8  # a short untimed decode per method first: lazy allocations, caches, imports


@dataclass(frozen=True)
class BenchSettings:
    """What to run; `config` carries k, the soft thresholds, the seed and the hardware."""

    config: DecodeConfig
    new_tokens: int
    repeats: int
    prompts: tuple[str, ...]
    alphas: tuple[float, ...]  # oracle-drafter acceptances to sweep
    seed_prompts: int  # the seed's algorithm runs on this many prompts (0: skipped)
    seed_repeats: int | None  # ... in this many repeats (None: all)
    cost_budget_seconds: float  # seconds spent timing the cost model's steps, over all repeats
    categories: tuple[str | None, ...] = ()  # each prompt's category from its prompts file
    # Drafting methods timed beside the pair's drafter model at the same k, greedy-exact, as
    # --drafter names them: "ngram", "early-exit:N" (see `drafting_methods`).
    drafters: tuple[str, ...] = ()
    # Draft spans the greedy-exact chain is also timed at (beside k), for the best k.
    spans: tuple[int, ...] = ()
    # Timed forwards per block size on each kernel (`bench/kernels.py`); 0 skips that table.
    kernel_repeats: int = 0
    # The kernel table at every core too, beside the bench's own thread count.
    kernel_all_cores: bool = True
    # The precisions the kernel table loads the verifier again in (`bench/kernels.py`'s
    # VARIANTS of these dtypes); a quick run keeps to float32, the exact ones.
    kernel_dtypes: tuple[str, ...] = ("float32", "bfloat16")
    # Block vs step on every kernel's copy, not only the pair's own (a quick run leaves the
    # others to the plain-decoding runs, whose output on the default kernel must be plain's).
    block_check_every_kernel: bool = True
    # Time a token tree at the chain's verifier budget beside the chain (`DRAFTING`).
    tree: bool = True

    @property
    def k(self) -> int:
        """Draft length."""
        return self.config.draft_span


def run_bench(
    pair: ModelPair, settings: BenchSettings, progress: Progress, bars: BarSink | None = None
) -> dict[str, Any]:
    """Run everything; the figures as one JSON-ready dict (`bars`: each timed run's progress)."""
    started = time.perf_counter()
    load_before = load_average()
    prompts = [encode_prompt(pair, text) for text in settings.prompts]
    new_tokens = min(settings.new_tokens, pair.context_length - max(map(len, prompts)))
    configure_assistant(pair.local("drafter"), settings.k)
    # The oracle drafter needs every prompt's; the cost model's context and the block-vs-step
    # check read only the first's (a quick run's oracle-less bench skips the rest).
    needed = prompts if settings.alphas else prompts[:1]
    progress(
        "precomputing the verifier's greedy continuations "
        + ("(the oracle's answers)" if settings.alphas else "(the first prompt's: timing context)")
    )
    targets = {ids: plain_generate(pair, ids, new_tokens).output_ids for ids in needed}
    kernel_models = (
        variant_models(pair, settings.config, progress, settings.kernel_dtypes)
        if settings.kernel_repeats
        else []
    )
    progress("warming up every method")
    for method in _methods(pair, settings, targets, min(WARMUP_TOKENS, new_tokens)):
        method.decode(prompts[0])
    context = prompts[0] + targets[prompts[0]][: new_tokens // 2 + settings.k + 1]
    tree = tree_at_chain_budget(settings.config).tree
    assert tree is not None
    tree_nodes = len(tree.choices) if tree.static else min(tree.nodes, _most_nodes(tree))
    sampler = CostSampler(pair, context, settings.k, tree_nodes, max(tree.topk, 1))
    methods = _methods(pair, settings, targets, new_tokens)
    methods += _default_kernel_plain(pair, kernel_models, new_tokens)
    timings = run_interleaved(
        methods,
        prompts,
        settings.repeats,
        pair.local("verifier"),
        pair.local("drafter"),
        pair.device,
        progress,
        after_repeat=lambda: sampler.sample(settings.cost_budget_seconds / settings.repeats),
        bars=bars,
    )
    cost = sampler.model()
    summaries = {m.key: _summary(m, timings, new_tokens) for m in methods}
    greedy = summaries["engine_greedy"]
    result: dict[str, Any] = {
        "spectui": __version__,
        "machine": machine(load_before),
        "versions": versions(),
        "settings": _settings_dict(pair, settings, prompts, new_tokens),
        "ratio_vs_hf_assisted": _median(timings.ratio("engine_greedy", "hf_assisted")),
        "not_run": _not_run(pair, settings),
        "ratio_vs_seed": _median(timings.ratio("engine_greedy", "seed")),
        "speedup_vs_plain": _median(timings.ratio("engine_greedy", "plain")),
        "predicted_speedup": cost.predicted_speedup(greedy["alpha"]),
        "engine_vs_model": _against_model("engine_greedy", summaries, timings, cost),
        "verifier_forwards_per_round": greedy["verifier_forwards_per_round"],
        "alpha": greedy["alpha"],
        "methods": summaries,
        "cost_model": _cost_dict(cost, timings, new_tokens),
        "oracle": [_oracle_row(alpha, summaries, timings, cost) for alpha in settings.alphas],
        "per_category": per_category(settings.categories, timings),
    }
    shapes = _drafting_shapes(settings)
    result["drafting"] = [
        _drafting_row(key, summaries, timings, shapes) for key in drafting_keys(result)
    ]
    block_r = None
    if kernel_models:
        progress("timing verifier blocks of 1 to 8 rows on each kernel")
        greedy_text = (list(prompts[0] + targets[prompts[0]]), len(prompts[0]))
        result["kernels"] = _kernel_section(
            pair, settings, kernel_models, context, timings, greedy_text
        )
        block_r = [0.0, *result["kernels"]["blocks"][0]["r"]]  # [M] = r_M, the pair's kernel
        result["kernels"]["predicted_by_k"] = _predicted_by_k(greedy["alpha"], cost.c, block_r)
    spans = _all_spans(settings)
    result["spans"] = [_span_row(k, summaries, cost, block_r) for k in spans]
    result["best_k"] = _best_span(result["spans"])
    result["machine"]["load_average_after"] = load_average()
    result["elapsed_seconds"] = time.perf_counter() - started
    return result


# --- the methods -------------------------------------------------------------------------------


def _not_run(pair: ModelPair, settings: BenchSettings) -> dict[str, str]:
    """Why a headline comparison has no figure, by method key."""
    reasons = {}
    if pair.drafter_vocabulary is not None:
        reasons["hf_assisted"] = (
            "the drafter scores a draft vocabulary of "
            f"{pair.drafter_vocabulary.size} tokens, and HF's assistant must score the "
            "verifier's whole vocabulary"
        )
    if settings.seed_prompts == 0:
        reasons["seed"] = "--seed-prompts 0 (a full run or --seed-prompts 1 includes it)"
    return reasons


def _methods(
    pair: ModelPair,
    settings: BenchSettings,
    targets: dict[tuple[int, ...], tuple[int, ...]],
    new_tokens: int,
) -> list[Method]:
    base = replace(settings.config, max_new_tokens=new_tokens, stop_at_eos=False, bonus=True)
    greedy = replace(CHAIN.configure(base), policy=GREEDY_EXACT.name)
    soft = replace(CHAIN.configure(base), policy=SOFT_GUARDED.name)
    drafting = replace(base, policy=GREEDY_EXACT.name)

    def engine(config: DecodeConfig, prompt_ids: tuple[int, ...]) -> Decoded:
        return engine_decode(SpeculativeDecoder(pair, config, prompt_ids))

    def oracle(alpha: float, prompt_ids: tuple[int, ...]) -> Decoded:
        decoder = oracle_decoder(
            pair, greedy, prompt_ids, target=targets[prompt_ids], alpha=alpha, seed=base.seed
        )
        return engine_decode(decoder)

    methods = [Method("plain", "plain", partial(plain_generate, pair, new_tokens=new_tokens))]
    if pair.drafter_vocabulary is None:  # HF's assistant must score the verifier's whole vocabulary
        methods.append(
            Method("hf_assisted", "HF assisted", partial(hf_assisted, pair, new_tokens=new_tokens))
        )
    methods += [
        Method("engine_greedy", "engine greedy", partial(engine, greedy)),
        Method("engine_soft", "engine soft", partial(engine, soft)),
    ]
    methods += [  # the other ways of drafting a round, greedy-exact like engine_greedy (the chain)
        Method(
            way.key,
            f"engine greedy, {way.describe(drafting)}",
            partial(engine, way.configure(drafting)),
        )
        for way in DRAFTING
        if way is not CHAIN and settings.tree
    ]
    methods += drafting_methods(pair, settings, greedy)  # the other drafters: n-gram, early exit
    methods += [
        Method(span_key(k), f"engine greedy, k={k}", partial(engine, replace(greedy, draft_span=k)))
        for k in settings.spans
        if k != settings.k
    ]
    if settings.seed_prompts > 0:
        methods.append(
            Method(
                "seed",
                "seed (no cache)",
                partial(seed_decode, pair, k=settings.k, new_tokens=new_tokens),
                n_prompts=settings.seed_prompts,
                n_repeats=settings.seed_repeats,
            )
        )
    methods += [
        Method(oracle_key(alpha), f"engine greedy, oracle α={alpha:g}", partial(oracle, alpha))
        for alpha in settings.alphas
    ]
    return methods


def drafting_methods(
    pair: ModelPair, settings: BenchSettings, greedy: DecodeConfig
) -> list[Method]:
    """The engine drafting otherwise, one row per method of `settings.drafters`: the same
    verifier, k and greedy-exact policy as `engine_greedy` (the chain of the drafter model)."""
    rows = []
    for name in settings.drafters:
        config = replace(greedy, drafter=name)
        method = draft_method(config)
        assert method is not None, name  # the command checked each name
        label = method_label(method, pair.local("verifier"))  # refuses an N out of range
        drafted = replace(pair, draft_method=method, drafter_id=label)
        decode = partial(_engine_on, drafted, config)
        key = "engine_greedy_" + name.replace("-", "_").replace(":", "_")
        rows.append(Method(key, f"engine greedy, {label}", decode, drafter_model=False))
    return rows


def _default_kernel_plain(
    pair: ModelPair,
    kernel_models: Sequence[tuple[str, str, PreTrainedModel]],
    new_tokens: int,
) -> list[Method]:
    """Plain generate on torch's default float32 kernel, where the pair runs on another one:
    what the fast kernels buy plain decoding, in the same interleaved run."""
    own = pair.kernels.running if pair.kernels else "default"
    for kernel, dtype, model in kernel_models:
        if own != "default" and (kernel, dtype) == ("default", "float32"):
            on_default = replace(pair, verifier=model)
            label = "plain, torch default kernel"
            decode = partial(plain_generate, on_default, new_tokens=new_tokens)
            return [Method(DEFAULT_KERNEL_PLAIN, label, decode, verifier_model=False)]
    return []


DEFAULT_KERNEL_PLAIN = "plain_default_kernel"


def span_key(k: int) -> str:
    """The methods-table key of the greedy-exact chain at draft span k (k itself: the chain's)."""
    return f"chain_k{k}"


def _all_spans(settings: BenchSettings) -> list[int]:
    return sorted({settings.k, *settings.spans})


def _engine_on(pair: ModelPair, config: DecodeConfig, prompt_ids: tuple[int, ...]) -> Decoded:
    return engine_decode(SpeculativeDecoder(pair, config, prompt_ids))


def drafting_keys(result: dict[str, Any]) -> list[str]:
    """The methods-table keys of the chain (`engine_greedy`), the tree and every other drafter."""
    ways = [way.key for way in DRAFTING if way.key in result["methods"]]
    return ways + [k for k in result["methods"] if k.startswith("engine_greedy_")]


def _drafting_shapes(settings: BenchSettings) -> dict[str, str]:
    """How each of `DRAFTING` drafts, by key: "chain k=5", "tree top-2 · depth 5 · ≤ 5 nodes"."""
    shape = replace(settings.config, policy=GREEDY_EXACT.name)
    return {way.key: way.describe(shape) for way in DRAFTING}


def _most_nodes(tree: Any) -> int:
    """The most nodes a dynamic tree can grow: top-k at depth 1, top-k² at each deeper one."""
    return tree.topk + (tree.depth - 1) * tree.topk * tree.topk


def oracle_key(alpha: float) -> str:
    """The methods-table key of the oracle run at α."""
    return f"oracle_{alpha:g}"


# --- the figures -------------------------------------------------------------------------------


def _summary(method: Method, timings: Timings, new_tokens: int) -> dict[str, Any]:
    runs = timings.all_runs(method.key)
    tokens = sum(len(run.decoded.output_ids) for run in runs)
    # prefills: forwards over the prompt alone, outside any round (the engine does one per model)
    rounds, drafted, accepted, prefills = _round_counts(method.key, runs)
    checked = _sum_or_none(run.decoded.checked for run in runs)
    model_seconds = _sum_or_none(run.decoded.model_seconds for run in runs)
    plain = timings.first_outputs("plain")
    outputs = timings.first_outputs(method.key)
    return {
        "label": method.label,
        "tokens_per_second": _spread(timings.tokens_per_second(method.key)),
        "ratio_vs_plain": _spread(timings.ratio(method.key, "plain")),
        "ratio_vs_hf_assisted": _spread(timings.ratio(method.key, "hf_assisted")),
        "seconds_per_token": sum(run.seconds for run in runs) / tokens,
        "verifier_forwards_per_token": (
            sum(run.verifier_forwards for run in runs) / tokens if method.verifier_model else None
        ),
        "verifier_input_tokens_per_token": (
            sum(run.verifier_tokens for run in runs) / tokens if method.verifier_model else None
        ),
        "verifier_forwards_per_round": (
            (sum(run.verifier_forwards for run in runs) - prefills) / rounds if rounds else None
        ),
        "drafter_forwards_per_round": (
            (sum(run.drafter_forwards for run in runs) - prefills) / rounds
            if rounds and method.drafter_model
            else None
        ),
        "tokens_per_round": tokens / rounds if rounds else None,
        "nodes_per_round": drafted / rounds if rounds else None,
        "mean_acceptance_length": 1 + accepted / rounds if rounds else None,
        "draft_acceptance_rate": accepted / drafted if drafted else None,
        "alpha": alpha_estimate(accepted, checked) if checked is not None else None,
        "engine_overhead_share": (
            1 - model_seconds / sum(run.seconds for run in runs) if model_seconds else None
        ),
        "identical_to_plain": all(plain.get(i) == out for i, out in outputs.items()),
        "new_tokens": new_tokens,
        "prompts_run": len(outputs),
        "repeats_run": len(timings.runs.get(method.key, [])),
    }


def _round_counts(key: str, runs: Sequence[Run]) -> tuple[int, int, int, int]:
    """(rounds, drafted, accepted, verifier prefill forwards) summed over runs."""
    if key == "hf_assisted":
        # transformers does one verifier forward per round (its first also prefills the prompt)
        # and one drafter forward per draft token; every round appends its matches plus one.
        rounds = sum(run.verifier_forwards for run in runs)
        tokens = sum(len(run.decoded.output_ids) for run in runs)
        return rounds, sum(run.drafter_forwards for run in runs), tokens - rounds, 0
    if any(run.decoded.rounds is None for run in runs):
        return 0, 0, 0, 0
    return (
        sum(run.decoded.rounds or 0 for run in runs),
        sum(run.decoded.drafted or 0 for run in runs),
        sum(run.decoded.accepted or 0 for run in runs),
        sum(run.decoded.verifier_prefills for run in runs),
    )


def _oracle_row(
    alpha: float, summaries: dict[str, dict[str, Any]], timings: Timings, cost: CostModel
) -> dict[str, Any]:
    key = oracle_key(alpha)
    summary = summaries[key]
    return {
        "alpha": alpha,
        "measured_alpha": summary["alpha"],
        "predicted_speedup_at_nominal_alpha": cost.predicted_speedup(alpha),
        **_against_model(key, summaries, timings, cost),
        "tokens_per_second": summary["tokens_per_second"],
        "engine_overhead_share": summary["engine_overhead_share"],
        "identical_to_plain": summary["identical_to_plain"],
    }


def _drafting_row(
    key: str, summaries: dict[str, dict[str, Any]], timings: Timings, shapes: dict[str, str]
) -> dict[str, Any]:
    """One drafting method beside the chain: τ, nodes and α per verifier pass, speed, and its
    speed over the chain's."""
    summary = summaries[key]
    return {
        "key": key,
        "method": key,
        "label": summary["label"],
        "drafting": shapes.get(key, summary["label"].removeprefix("engine greedy, ")),
        "tokens_per_round": summary["tokens_per_round"],
        "nodes_per_round": summary["nodes_per_round"],
        "verifier_forwards_per_round": summary["verifier_forwards_per_round"],
        "alpha": summary["alpha"],
        "draft_acceptance_rate": summary["draft_acceptance_rate"],
        "tokens_per_second": summary["tokens_per_second"],
        "ratio_vs_plain": summary["ratio_vs_plain"],
        "ratio_vs_chain": _spread(timings.ratio(key, "engine_greedy")),
        "identical_to_plain": summary["identical_to_plain"],
    }


def _against_model(
    key: str, summaries: dict[str, dict[str, Any]], timings: Timings, cost: CostModel
) -> dict[str, Any]:
    """A speculative method's measured speedup over plain next to the cost model's.

    Measured / predicted is the product of three factors (exactly for totals; the measured
    speedup is a median of per-repeat ratios): tokens per round against the
    formula's (acceptance that is not independent per token, the short last round), the
    model's round cost against the measured one (both in verifier steps; the measured includes
    prefill and the engine's own work), and plain generate's per-token time against the bare
    verifier step that the model counts in.
    """
    summary = summaries[key]
    measured = timings.ratio(key, "plain")
    predicted = cost.predicted_speedup(summary["alpha"])
    expected_per_round = expected_tokens_per_round(summary["alpha"], cost.k)
    runs = timings.all_runs(key)
    tokens = sum(len(run.decoded.output_ids) for run in runs)
    seconds = sum(run.seconds for run in runs)
    rounds = sum(run.decoded.rounds or 0 for run in runs)
    round_cost = seconds / rounds / cost.verifier_step
    plain_step = summaries["plain"]["seconds_per_token"]
    return {
        "tokens_per_round": summary["tokens_per_round"],
        "expected_tokens_per_round": expected_per_round,
        "round_cost_measured": round_cost,
        "round_cost_model": cost.round_cost,
        "predicted_speedup": predicted,
        "predicted_speedup_at_measured_tokens_per_round": (
            summary["tokens_per_round"] / cost.round_cost
        ),
        "measured_speedup": _spread(measured),
        "gap": (measured.median / predicted - 1) if measured else None,
        "gap_factors": {
            "tokens_per_round": summary["tokens_per_round"] / expected_per_round,
            "round_cost": cost.round_cost / round_cost,
            "plain_loop": plain_step / cost.verifier_step,
        },
        "speedup_vs_verifier_step": cost.verifier_step * tokens / seconds,
    }


def _span_row(
    k: int,
    summaries: dict[str, dict[str, Any]],
    cost: CostModel,
    block_r: Sequence[float] | None,
) -> dict[str, Any]:
    """The chain at draft span k: its α, the speedup the cost model predicts from that α, c and
    r_(k+1) (the kernel table's where it ran, else the cost model's own at k), and the measured
    one."""
    key = "engine_greedy" if k == cost.k else span_key(k)
    summary = summaries[key]
    r = block_r[k + 1] if block_r is not None and k + 1 < len(block_r) else None
    if r is None and k == cost.k:
        r = cost.r_k
    return {
        "k": k,
        "key": key,
        "alpha": summary["alpha"],
        "tokens_per_round": summary["tokens_per_round"],
        "r": r,
        "predicted_speedup": _speedup(summary["alpha"], k, cost.c, r),
        "measured_speedup": summary["ratio_vs_plain"],
        "identical_to_plain": summary["identical_to_plain"],
    }


def _speedup(alpha: float | None, k: int, c: float, r: float | None) -> float | None:
    """S = E[τ](α, k) / (k·c + r_(k+1)), the bonus token counted (the bench's setting)."""
    if alpha is None or r is None:
        return None
    return expected_tokens_per_round(alpha, k) / (k * c + r)


def _best_span(rows: Sequence[dict[str, Any]]) -> int | None:
    """The draft span with the highest measured median speedup over plain."""
    timed = [row for row in rows if row["measured_speedup"]]
    return max(timed, key=lambda row: row["measured_speedup"]["median"])["k"] if timed else None


def _kernel_section(
    pair: ModelPair,
    settings: BenchSettings,
    kernel_models: Sequence[tuple[str, str, PreTrainedModel]],
    context: Sequence[int],
    timings: Timings,
    greedy_text: tuple[list[int], int],
) -> dict[str, Any]:
    """Block costs per kernel, the read-bandwidth floor, plain decoding on the default kernel
    against the pair's own, and how often a block's argmax differs from a step's along the
    first prompt's greedy text (`greedy_text`: its ids and where the prompt ends)."""
    own = torch.get_num_threads()
    threads = thread_counts(own) if settings.kernel_all_cores else [own]
    costs = block_costs(pair, kernel_models, context, threads, settings.kernel_repeats)
    verifier = pair.local("verifier")
    return {
        "blocks": [cost.as_dict() for cost in costs],
        "block_vs_step": agreement_per_kernel(
            kernel_models if settings.block_check_every_kernel else kernel_models[:1],
            *greedy_text,
            settings.k + 1,
        ),
        "floor": [read_bandwidth_floor(verifier, count) for count in threads],
        "plain_vs_default_kernel": _spread(timings.ratio("plain", DEFAULT_KERNEL_PLAIN)),
    }


def _predicted_by_k(
    alpha: float | None, c: float, block_r: Sequence[float]
) -> list[dict[str, float | None]]:
    """S(k) for every k the kernel table covers, at the chain's α and c (`block_r[M]` = r_M)."""
    return [
        {"k": k, "r": block_r[k + 1], "predicted_speedup": _speedup(alpha, k, c, block_r[k + 1])}
        for k in range(1, len(block_r) - 1)
    ]


def _cost_dict(cost: CostModel, timings: Timings, new_tokens: int) -> dict[str, Any]:
    runs = timings.all_runs("plain")
    plain_step = sum(run.seconds for run in runs) / sum(len(r.decoded.output_ids) for r in runs)
    return {
        "c": cost.c,
        "r_k": cost.r_k,
        "k": cost.k,
        "drafter_step_ms": cost.drafter_step * 1e3,
        "verifier_step_ms": cost.verifier_step * 1e3,
        "verifier_block_ms": cost.verifier_block * 1e3,
        "context_tokens": cost.context_tokens,
        "samples": cost.samples,
        # Plain generate's seconds per token over the bare verifier step: HF's loop overhead.
        "plain_generate_step_ms": plain_step * 1e3,
        "plain_generate_over_verifier_step": plain_step / cost.verifier_step,
        "predicted_speedup_at_alpha_1": cost.predicted_speedup(1.0),
        "tree_nodes": cost.tree_nodes,
        "verifier_tree_block_ms": cost.verifier_tree_block * 1e3,
        "r_tree": cost.r_tree,
    }


def _settings_dict(
    pair: ModelPair, settings: BenchSettings, prompts: Sequence[tuple[int, ...]], new_tokens: int
) -> dict[str, Any]:
    config = settings.config
    return {
        "drafter": pair.drafter_id,
        "verifier": pair.verifier_id,
        "drafter_parameters": _parameters(pair.local("drafter")),
        "verifier_parameters": _parameters(pair.local("verifier")),
        "device": str(pair.device),
        "dtype": str(pair.dtype).removeprefix("torch."),
        "drafter_dtype": _drafter_dtype(pair),
        "kernels": pair.kernels.label if pair.kernels else None,
        "kernels_asked": pair.kernels.asked if pair.kernels else None,
        "kernels_fallback": pair.kernels.reason if pair.kernels else None,
        "threads": torch.get_num_threads(),
        "commit": source_commit(),
        "spans": _all_spans(settings),
        "k": settings.k,
        "new_tokens": new_tokens,
        "new_tokens_requested": settings.new_tokens,
        "repeats": settings.repeats,
        "prompts": list(settings.prompts),
        "prompt_tokens": [len(ids) for ids in prompts],
        "alphas": list(settings.alphas),
        "seed_prompts": settings.seed_prompts,
        "seed_repeats": settings.seed_repeats,
        "bonus": True,
        "eos": "disabled",
        "soft_gates": {
            "p_thresh": config.p_thresh,
            "topk_gate": config.topk_gate,
            "margin_gate": config.margin_gate,
            "max_accept": config.max_accept,
        },
        "seed": config.seed,
        "drafters": list(settings.drafters),
    }


def _drafter_dtype(pair: ModelPair) -> str | None:
    drafter = pair.drafter
    return None if drafter is None else str(drafter.dtype).removeprefix("torch.")


def _parameters(model: torch.nn.Module) -> int:
    from spectui.engine.models.kernels import parameter_count

    return parameter_count(model)


def _spread(spread: Spread | None) -> dict[str, float] | None:
    return spread.as_dict() if spread else None


def _median(spread: Spread | None) -> float | None:
    return spread.median if spread else None


def _sum_or_none(values: Any) -> Any:
    values = list(values)
    return None if any(value is None for value in values) else sum(values)
