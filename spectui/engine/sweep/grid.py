"""A sweep of acceptance settings: the grid, each setting's figures, the speed/quality frontier.

A sweep decodes the same prompts under several settings (a grid over one policy's parameters,
a list of policies, or a grid within each listed policy) and measures each for speed (α, τ,
the cost model's predicted speedup, tokens/s) and for closeness to the verifier's own greedy
decode of each prompt (the tokens it keeps, where it first leaves it, the verifier's
log-likelihood of it, the tokens off the verifier's argmax). This module is the pure part:
parsing and validating the grid, one prompt's outcome, a setting's row, the frontier. The file
format is `sweep_file`, the decodes `spectui.engine.sweep.runner`. No torch, no Textual.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from spectui.engine.config import (
    ConfigError,
    DecodeConfig,
    base_type,
    knob_of,
    requirement,
    tunable_names,
)
from spectui.engine.errors import SpectuiError
from spectui.engine.policy.registry import POLICIES, policy_label, policy_named
from spectui.engine.stats import StatsSnapshot
from spectui.engine.warps import Warp

TRUE_WORDS = ("true", "on", "yes", "1")
FALSE_WORDS = ("false", "off", "no", "0")


class SweepError(SpectuiError):
    """A sweep that cannot run as asked: a malformed --grid, or a file of another sweep."""


# --- the grid ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridAxis:
    """One swept setting and the values it takes (`--grid p_thresh=0.02,0.05`)."""

    name: str  # a DecodeConfig field
    values: tuple[Any, ...]  # parsed with the field's type, each once


def sweepable_names() -> tuple[str, ...]:
    """The fields a grid may vary: the between-round settings but the policy (--policies)."""
    return tuple(name for name in tunable_names() if name != "policy")


def shared_names() -> frozenset[str]:
    """Swept fields every policy reads: the mechanism's (k, bonus) and the warps of p and q."""
    claimed = {name for policy in POLICIES for name in policy.settings}
    warps = {f.name for f in fields(Warp)}  # applied to p and q before any policy judges
    return frozenset(name for name in sweepable_names() if name not in claimed or name in warps)


def reads(policy: str, name: str) -> bool:
    """Whether a decode under `policy` depends on field `name`."""
    return name in policy_named(policy).settings or name in shared_names()


def parse_axis(text: str) -> GridAxis:
    """`NAME=V1,V2,...` as an axis, each value of the field's type (raises SweepError)."""
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not equals or not values.strip():
        raise SweepError(f"--grid takes NAME=V1,V2,..., e.g. p_thresh=0.02,0.05, got {text!r}")
    if name not in sweepable_names():
        raise SweepError(
            f"--grid {name}: not a setting a sweep can vary; choose from "
            f"{', '.join(sweepable_names())} (policies: --policies)"
        )
    parsed = tuple(parse_value(name, part.strip()) for part in values.split(","))
    repeated = sorted({str(v) for v in parsed if parsed.count(v) > 1})
    if repeated:
        raise SweepError(f"--grid {name} lists {', '.join(repeated)} more than once")
    return GridAxis(name, parsed)


def parse_value(name: str, text: str) -> Any:
    """One grid value of field `name`, read as its type (int, float or bool)."""
    kind, called = base_type(name), knob_of(name).label or name
    try:
        if kind is bool:
            return _parse_bool(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        wanted = "true or false" if kind is bool else requirement(name, called)
        raise SweepError(f"--grid {name}: {wanted}, got {text!r}") from None
    return text


def _parse_bool(text: str) -> bool:
    word = text.lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(text)
    return word in TRUE_WORDS


@dataclass(frozen=True)
class Setting:
    """One point of a sweep: a policy and the grid's values of the fields it reads."""

    policy: str
    values: tuple[tuple[str, Any], ...]  # (field, value), in the order of the --grid options

    @property
    def label(self) -> str:
        """What the table calls it: "soft p_thresh=0.05 margin_gate=0.2"."""
        return " ".join([self.policy, *(f"{name}={shown(value)}" for name, value in self.values)])

    def config(self, base: DecodeConfig) -> DecodeConfig:
        """`base` under this setting (validated; ConfigError names the on-screen label)."""
        return base.retuned(policy=self.policy, **dict(self.values))


def plan_settings(
    base: DecodeConfig, axes: Sequence[GridAxis], policies: Sequence[str]
) -> tuple[Setting, ...]:
    """Every setting of the grid within each policy, validated before anything is decoded.

    A policy that does not read an axis takes one setting for it, not one per value (they
    would decode alike); an axis no policy reads is refused. Raises SweepError.
    """
    names = [axis.name for axis in axes]
    if len(set(names)) < len(names):
        raise SweepError(f"--grid names a setting twice: {', '.join(names)}")
    for axis in axes:
        _check_values(base, axis)
        if not any(reads(policy, axis.name) for policy in policies):
            raise SweepError(_unread(axis.name, policies))
    settings = [setting for policy in policies for setting in _policy_grid(policy, axes)]
    for setting in settings:
        try:
            setting.config(base)
        except ConfigError as error:
            raise SweepError(f"{setting.label}: {error}") from None
    return tuple(settings)


def unread_axes(axes: Sequence[GridAxis], policy: str) -> tuple[str, ...]:
    """The axes `policy` ignores (the command says so: that policy runs once for them)."""
    return tuple(axis.name for axis in axes if not reads(policy, axis.name))


def _policy_grid(policy: str, axes: Sequence[GridAxis]) -> list[Setting]:
    read = [axis for axis in axes if reads(policy, axis.name)]
    product = itertools.product(*(axis.values for axis in read))
    return [
        Setting(policy, tuple((axis.name, v) for axis, v in zip(read, values, strict=True)))
        for values in product
    ]


def _check_values(base: DecodeConfig, axis: GridAxis) -> None:
    for value in axis.values:
        try:
            base.retuned(**{axis.name: value})
        except ConfigError as error:
            raise SweepError(f"--grid {axis.name}: {error}") from None


def _unread(name: str, policies: Sequence[str]) -> str:
    label = knob_of(name).label or name
    chosen = ", ".join(policy_label(policy) for policy in policies)
    reading = [p.name for p in POLICIES if name in p.settings]
    hint = f"; a policy that does: --policies {','.join(reading)}" if reading else ""
    verb = "does" if len(policies) == 1 else "do"
    return f"--grid {name}: {chosen} {verb} not read {label}{hint}"


def shown(value: Any) -> str:
    """A setting's value as the table writes it: 0.05, 5, on."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- one prompt, one setting ---------------------------------------------------------------------


@dataclass(frozen=True)
class PromptOutcome:
    """One prompt decoded under one setting, against the verifier's greedy decode of it."""

    output_ids: tuple[int, ...]
    equal: int  # positions i < both lengths where the output's token is the reference's
    compared: int  # positions either output reaches: the longer length
    first_divergence: int | None  # 1-based number of the first token that differs; None: none
    log_likelihood: float  # the verifier's Σ log p of the output after the prompt
    off_argmax: int  # output tokens that are not the verifier's argmax after their prefix


def prompt_outcome(
    output_ids: Sequence[int],
    reference_ids: Sequence[int],
    log_likelihood: float,
    off_argmax: int,
) -> PromptOutcome:
    """An output's figures against `reference_ids` (the verifier's greedy decode)."""
    return PromptOutcome(
        output_ids=tuple(output_ids),
        equal=equal_positions(output_ids, reference_ids),
        compared=max(len(output_ids), len(reference_ids)),
        first_divergence=first_divergence(output_ids, reference_ids),
        log_likelihood=log_likelihood,
        off_argmax=off_argmax,
    )


def equal_positions(a: Sequence[int], b: Sequence[int]) -> int:
    """Positions where both outputs have a token and it is the same one (no realignment)."""
    return sum(x == y for x, y in zip(a, b, strict=False))


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int | None:
    """The 1-based number of the first token where two outputs differ, or where only one
    reaches; None when they are identical."""
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b) or a[i] != b[i]:
            return i + 1
    return None


# --- one setting's row ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRow:
    """One setting's decodes of every prompt, and every figure the sweep shows of it."""

    setting: Setting
    tunables: dict[str, Any]  # every between-round setting of its config (what resumes key on)
    stats: StatsSnapshot  # the counts of all its decodes added up
    outcomes: tuple[PromptOutcome, ...]  # one per prompt, in prompt order
    predicted_speedup: float | None  # expected τ / (k·c + r_k); None: no cost model (served)

    @property
    def label(self) -> str:
        """The setting, as the table names it."""
        return self.setting.label

    @property
    def equal_share(self) -> float:
        """Σ equal positions / Σ compared positions over the prompts (1: every output exact)."""
        compared = sum(o.compared for o in self.outcomes)
        return sum(o.equal for o in self.outcomes) / compared if compared else 1.0

    @property
    def diverged(self) -> int:
        """Prompts whose output differs from the verifier's greedy decode anywhere."""
        return sum(o.first_divergence is not None for o in self.outcomes)

    @property
    def first_divergence(self) -> float | None:
        """Mean over prompts of the first differing token's number, an identical output
        counting as its length + 1 (it held to the end); None when none diverged."""
        if not self.diverged:
            return None
        numbers = [o.first_divergence or o.compared + 1 for o in self.outcomes]
        return sum(numbers) / len(numbers)

    @property
    def mean_log_likelihood(self) -> float:
        """Σ log-likelihood / Σ output tokens over the prompts: the verifier's nats per token."""
        tokens = sum(len(o.output_ids) for o in self.outcomes)
        return sum(o.log_likelihood for o in self.outcomes) / tokens if tokens else 0.0

    @property
    def off_argmax_share(self) -> float:
        """Σ tokens off the verifier's argmax / Σ output tokens over the prompts."""
        tokens = sum(len(o.output_ids) for o in self.outcomes)
        return sum(o.off_argmax for o in self.outcomes) / tokens if tokens else 0.0

    @property
    def speed(self) -> float:
        """What the frontier ranks speed by: the predicted speedup (measured tokens/s only
        where there is no cost model, with served models)."""
        if self.predicted_speedup is not None:
            return self.predicted_speedup
        return self.stats.tokens_per_second


def predicted_speedup(stats: StatsSnapshot, round_cost: float) -> float:
    """expected τ / (k·c + r_k): tokens per round over a round's cost in verifier steps."""
    return stats.predicted_tokens_per_round / round_cost if round_cost > 0 else math.nan


# --- the frontier --------------------------------------------------------------------------------


def pareto_front(points: Sequence[tuple[float, float]]) -> tuple[bool, ...]:
    """[i]: whether point i is on the frontier, higher being better on both axes: no other
    point is at least as high on both and higher on one. Equal points are both on it."""

    def beaten(a: tuple[float, float]) -> bool:
        return any(b[0] >= a[0] and b[1] >= a[1] and b != a for b in points)

    return tuple(not beaten(point) for point in points)


def frontier(rows: Sequence[SweepRow]) -> tuple[bool, ...]:
    """[i]: whether no other setting is both faster (predicted speedup) and closer to the
    verifier (equal share)."""
    return pareto_front([(row.speed, row.equal_share) for row in rows])
