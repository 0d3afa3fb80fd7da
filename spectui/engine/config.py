"""The decode configuration: one frozen dataclass, validated once at construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args

from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

PolicyName = Literal["greedy", "soft", "sample"]
POLICY_NAMES: tuple[PolicyName, ...] = get_args(PolicyName)
POLICY_LABELS: dict[PolicyName, str] = {
    "greedy": "greedy-exact",
    "soft": "soft-guarded",
    "sample": "speculative-sampling",
}
DTYPE_NAMES = ("auto", "float32", "float16", "bfloat16")
DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")
MAX_DRAFT_SPAN = 64

# Fields the caller may change between rounds; the rest pick models and hardware.
TUNABLE_FIELDS = frozenset(
    {"policy", "draft_span", "p_thresh", "topk_gate", "margin_gate", "max_accept", "bonus"}
)


class ConfigError(ValueError):
    """A configuration value is outside its allowed range."""


@dataclass(frozen=True)
class DecodeConfig:
    """Everything that decides what a decode does; defaults are the seed notebook's."""

    drafter: str = str(BUNDLED_DRAFTER)  # HF id or local dir of the small proposing model
    verifier: str = str(BUNDLED_VERIFIER)  # HF id or local dir; its tokenizer is used (as the seed)
    # "soft" is the seed's headline policy, "greedy" its exact baseline; "sample" is Leviathan
    # et al.'s lossless rejection sampling (output distributed as the verifier's at T=1).
    policy: PolicyName = "soft"
    draft_span: int = 5  # k: tokens the drafter proposes per round
    p_thresh: float = 0.05  # soft gate 1: verifier probability p of the draft token >= this
    topk_gate: int = 5  # soft gate 2: draft token within the verifier's top-k
    margin_gate: float = 0.20  # soft gate 3: p_top1 - p <= this (absolute probability)
    max_accept: int = 5  # soft gate 4: at most this many accepted draft tokens per round
    sample_draft: bool = False  # False: greedy drafts (seed default); True: sample at T=1, top_p=1
    seed: int = 42  # seeds torch and the draft sampler, so sampled decodes replay identically
    device: str = "auto"  # auto picks mps -> cuda -> cpu, as the seed
    dtype: str = "auto"  # auto = float32, the seed's precision; float16/bfloat16 on request
    threads: int | None = None  # torch CPU threads; None leaves torch's default
    max_new_tokens: int | None = None  # None: one round, exactly the seed's step
    bonus: bool = False  # True: add the verifier's extra token when a whole draft is accepted
    stop_at_eos: bool = True  # end the decode at the tokenizer's EOS (benchmarks turn this off)

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise ConfigError(problem)

    def retuned(self, **changes: Any) -> DecodeConfig:
        """A copy with some between-round settings changed (validated like a new config)."""
        unknown = set(changes) - TUNABLE_FIELDS
        if unknown:
            raise ConfigError(
                f"{', '.join(sorted(unknown))} cannot change during a decode; "
                f"tunable: {', '.join(sorted(TUNABLE_FIELDS))}"
            )
        return replace(self, **changes)

    @property
    def policy_label(self) -> str:
        """The policy's display name: greedy-exact or soft-guarded."""
        return POLICY_LABELS[self.policy]


def config_field_names() -> tuple[str, ...]:
    """Names of all DecodeConfig fields, in declaration order."""
    return tuple(f.name for f in fields(DecodeConfig))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_problem(name: str, value: object, low: int, high: int | None) -> str | None:
    bound = f"{low}..{high}" if high is not None else f">= {low}"
    if not _is_int(value) or value < low or (high is not None and value > high):  # type: ignore[operator]
        return f"{name} must be an integer {bound}, got {value!r}"
    return None


def _unit_problem(name: str, value: object) -> str | None:
    if not _is_real(value) or not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
        return f"{name} must be a number in 0..1, got {value!r}"
    return None


def _problems(config: DecodeConfig) -> list[str]:
    checks = [
        None
        if config.policy in POLICY_NAMES
        else f"policy must be one of {', '.join(POLICY_NAMES)}, got {config.policy!r}",
        _int_problem("draft_span", config.draft_span, 1, MAX_DRAFT_SPAN),
        _unit_problem("p_thresh", config.p_thresh),
        _int_problem("topk_gate", config.topk_gate, 1, None),
        _unit_problem("margin_gate", config.margin_gate),
        _int_problem("max_accept", config.max_accept, 0, None),
        _int_problem("seed", config.seed, 0, 2**63 - 1),
        None
        if config.dtype in DTYPE_NAMES
        else f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {config.dtype!r}",
        None
        if config.device.split(":")[0] in DEVICE_KINDS
        else f"device must be auto, cpu, cuda[:N] or mps, got {config.device!r}",
        None if config.threads is None else _int_problem("threads", config.threads, 1, 1024),
        None
        if config.max_new_tokens is None
        else _int_problem("max_new_tokens", config.max_new_tokens, 1, 1_000_000),
        None if config.drafter.strip() else "drafter must name a model id or directory",
        None if config.verifier.strip() else "verifier must name a model id or directory",
    ]
    return [problem for problem in checks if problem]
