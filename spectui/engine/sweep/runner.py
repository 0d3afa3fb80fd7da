"""Running a sweep: the references, the cost model, then every setting on every prompt.

The reference of a prompt is the verifier's greedy decode of it, computed once per sweep with
greedy-exact (whose output *is* the verifier's greedy decode, under any k). The cost model's c
and r_k are measured once per sweep, at its start, for each draft span a setting uses, on the
first prompt and its reference (as `spectui bench` takes its context). Each setting then
decodes every prompt, and each output is scored by the verifier in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from spectui import __version__
from spectui.engine.compare import score_output
from spectui.engine.config import DecodeConfig
from spectui.engine.cost.model import CostModel
from spectui.engine.decode import SpeculativeDecoder, encode_prompt
from spectui.engine.models.loading import ModelPair
from spectui.engine.models.progress import BarSink, StepCounter
from spectui.engine.policy.library import GREEDY_EXACT
from spectui.engine.stats import StatsSnapshot, combined
from spectui.engine.sweep.file import SweepHeader, row_key
from spectui.engine.sweep.grid import (
    PromptOutcome,
    Setting,
    SweepRow,
    predicted_speedup,
    prompt_outcome,
)

STAGE = "sweep"  # the progress bars' stage


@dataclass(frozen=True)
class SweepPlan:
    """What to sweep: the base config, the prompts and the settings."""

    config: DecodeConfig  # the base; its max_new_tokens is every decode's length
    prompts: tuple[str, ...]
    settings: tuple[Setting, ...]
    cost_seconds: float = 1.0  # time spent measuring the cost model, per draft span


def new_header(pair: ModelPair, plan: SweepPlan, bars: BarSink | None = None) -> SweepHeader:
    """The header of a new sweep: the verifier's greedy decode of each prompt, computed now."""
    counter = StepCounter(bars, STAGE, "verifier greedy references", len(plan.prompts), "prompts")
    reference = replace(plan.config, policy=GREEDY_EXACT.name)
    references = []
    for number, prompt in enumerate(plan.prompts, start=1):
        references.append(SpeculativeDecoder(pair, reference, prompt).run().output_ids)
        counter.step(f"prompt {number}/{len(plan.prompts)}")
    return SweepHeader(
        config=plan.config,
        prompts=plan.prompts,
        references=tuple(references),
        device=pair.device.type,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        spectui=__version__,
    )


def measure_costs(
    pair: ModelPair, header: SweepHeader, spans: Sequence[int], seconds: float
) -> dict[int, CostModel]:
    """The cost model for each draft span in `spans`; {} when a model is served (no c, r_k)."""
    if pair.drafter is None or pair.verifier is None:
        return {}
    from spectui.engine.cost.sampler import CostSampler

    context = encode_prompt(pair, header.prompts[0]) + header.references[0]
    costs = {}
    for k in sorted(set(spans)):
        sampler = CostSampler(pair, context, k)
        sampler.sample(seconds)
        costs[k] = sampler.model()
    return costs


def run_settings(
    pair: ModelPair,
    header: SweepHeader,
    costs: Mapping[int, CostModel],
    settings: Sequence[Setting],
    finished: Mapping[str, SweepRow],
    bars: BarSink | None = None,
) -> Iterator[tuple[SweepRow, bool]]:
    """Each setting's row in order, with whether it was `finished` (read back, not decoded)."""
    configs = [setting.config(header.config) for setting in settings]
    todo = [config for config in configs if row_key(config.tunables()) not in finished]
    n = len(header.prompts)
    counter = StepCounter(bars, STAGE, "settings × prompts", len(todo) * n, "decodes")
    for setting, config in zip(settings, configs, strict=True):
        done = finished.get(row_key(config.tunables()))
        if done is not None:
            yield done, True
        else:
            yield measure_setting(pair, header, costs, setting, config, counter), False


def measure_setting(
    pair: ModelPair,
    header: SweepHeader,
    costs: Mapping[int, CostModel],
    setting: Setting,
    config: DecodeConfig,
    counter: StepCounter | None = None,
) -> SweepRow:
    """Decode every prompt under `config` and measure each output against its reference."""
    outcomes: list[PromptOutcome] = []
    snapshots: list[StatsSnapshot] = []
    pairs = zip(header.prompts, header.references, strict=True)
    for number, (prompt, reference) in enumerate(pairs, start=1):
        outcome, stats = decode_prompt(pair, config, prompt, reference)
        outcomes.append(outcome)
        snapshots.append(stats)
        if counter is not None:
            counter.step(f"{setting.label} · prompt {number}/{len(header.prompts)}")
    stats = combined(snapshots)
    cost = costs.get(config.draft_span)
    return SweepRow(
        setting=setting,
        tunables=config.tunables(),
        stats=stats,
        outcomes=tuple(outcomes),
        predicted_speedup=predicted_speedup(stats, cost.round_cost) if cost else None,
    )


def decode_prompt(
    pair: ModelPair, config: DecodeConfig, prompt: str, reference: Sequence[int]
) -> tuple[PromptOutcome, StatsSnapshot]:
    """One decode of `prompt`, scored by the verifier and compared with `reference`."""
    done = SpeculativeDecoder(pair, config, prompt).run()
    log_likelihood, off_argmax = score_output(pair, done.prompt_ids, done.output_ids)
    outcome = prompt_outcome(done.output_ids, reference, log_likelihood, len(off_argmax))
    return outcome, done.stats
