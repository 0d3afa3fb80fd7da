"""The decode configuration: one frozen dataclass whose fields carry their own metadata.

Each field's `Knob` (its help, label, range, choices, whether it may change between rounds)
is the one description of that setting: validation here, the CLI options, the settings form
and the trace/JSON serialization are all made from it, so a new setting is one field.
"""

from __future__ import annotations

import typing
from dataclasses import Field, dataclass, fields, replace
from functools import cache
from typing import Any, Protocol

from spectui.engine.drafters.methods import drafter_problem, method_problem
from spectui.engine.knobs import (
    Knob,
    OwnKnob,
    choice_problem,
    choices_problem,
    device_problem,
    is_int,
    is_real,
    knob,
    model_problem,
    url_problem,
    within,
)
from spectui.engine.remote.limits import served_problem
from spectui.engine.tree.shape import TreeShape, parse_choices
from spectui.engine.warps import Warp
from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

DTYPE_NAMES = ("auto", "float32", "float16", "bfloat16")
KERNEL_NAMES = ("fast", "panel", "onednn", "default", "int4")  # engine/models/kernels.py
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")  # accelerate's strategies
MAX_DRAFT_SPAN = 64
MAX_TREE_NODES = 1024
DEFAULT_POLICY = "soft"  # soft-guarded, the seed's headline policy


class PolicyCatalog(Protocol):
    """What a config asks of the policy registry (`policy.registry.PolicyRegistry`)."""

    def names(self) -> tuple[str, ...]: ...

    def label(self, name: str) -> str: ...

    def own_knobs(self) -> dict[str, OwnKnob]: ...


def registered_policies() -> PolicyCatalog:
    """The one policy registry (`policy.registry.POLICIES`): the policy names a config may
    hold, and their own knobs.

    The policies read a DecodeConfig, so the registry sits above the config (and is not
    imported with it): it is imported when first asked for.
    """
    from spectui.engine.policy.registry import POLICIES

    return POLICIES


def own_knobs() -> dict[str, OwnKnob]:
    """The registered policies' own knobs (`Policy.knobs`), by name."""
    return registered_policies().own_knobs()


class ConfigError(ValueError):
    """A configuration value is outside its allowed range."""


@dataclass(frozen=True)
class DecodeConfig:
    """Everything that decides what a decode does; defaults are the seed notebook's."""

    drafter: str = knob(
        str(BUNDLED_DRAFTER),
        "drafter: HF id, local directory or .gguf file; or 'ngram' (prompt lookup as vLLM's, "
        "no model; 'ngram:hf' as HF's) or 'early-exit:N' (the verifier's first N layers, on "
        "its weights) (default: --pair's)",
        check=drafter_problem,
    )
    verifier: str = knob(
        str(BUNDLED_VERIFIER),
        "verifier: HF id, local directory or .gguf file; its tokenizer is used, as the seed's "
        "(default: --pair's)",
        check=model_problem,
    )
    # --drafter ngram's n-gram sizes, as vLLM's speculative_config names them (HF's
    # max_matching_ngram_size is the max; it always tries down to 1).
    prompt_lookup_min: int = knob(
        1,
        "--drafter ngram: the shortest n-gram matched (vLLM's prompt_lookup_min)",
        low=1,
        metavar="N",
    )
    prompt_lookup_max: int = knob(
        3,
        "--drafter ngram: the longest n-gram matched, tried first (vLLM's prompt_lookup_max; "
        "HF's max_matching_ngram_size); --draft-span is vLLM's num_speculative_tokens, HF's "
        "prompt_lookup_num_tokens",
        low=1,
        metavar="N",
    )
    # The seed's headline policy; see spectui.engine.policy.registry for every registered one.
    policy: str = knob(
        DEFAULT_POLICY,
        "acceptance policy",
        label="policy",
        tunable=True,
        choices=lambda: registered_policies().names(),
    )
    draft_span: int = knob(
        5,
        "k: tokens the drafter proposes per round",
        label="draft span k",
        tunable=True,
        low=1,
        high=MAX_DRAFT_SPAN,
        metavar="K",
    )
    # Token trees (`engine.tree`): EAGLE-2's dynamic tree and its names and defaults (depth 5,
    # 60 nodes verified; its top-k 10 is a GPU's budget, 0 here keeps the seed's chain).
    tree_topk: int = knob(
        0,
        "tree: children per expanded node, and nodes expanded per depth (EAGLE-2's top-k); "
        "0 = no tree, a chain of k drafts",
        label="tree top-k",
        tunable=True,
        low=0,
        high=MAX_DRAFT_SPAN,
        metavar="K",
    )
    tree_depth: int = knob(
        5,
        "tree: levels drafted (EAGLE-2's depth)",
        label="tree depth",
        tunable=True,
        low=1,
        high=MAX_DRAFT_SPAN,
    )
    tree_nodes: int = knob(
        60,
        "tree: the most nodes the verifier scores per round (EAGLE-2's total tokens)",
        label="tree nodes",
        tunable=True,
        low=1,
        high=MAX_TREE_NODES,
    )
    tree_choices: str | None = knob(
        None,
        "a static tree instead (Medusa's choices): node paths of sibling ranks, e.g. "
        "'0 1 0.0 0.1' (the 2 best tokens, and the 2 best after the best one)",
        check=choices_problem,
        metavar="PATHS",
    )
    p_thresh: float = knob(
        0.05,
        "soft gate: verifier probability p of the draft token >= this",
        label="p threshold",
        tunable=True,
        low=0.0,
        high=1.0,
    )
    topk_gate: int = knob(
        5,
        "soft gate: draft token within the verifier's top-k",
        label="top-k gate",
        tunable=True,
        low=1,
    )
    margin_gate: float = knob(
        0.20,
        "soft gate: p_top1 - p <= this (absolute probability)",
        label="margin gate",
        tunable=True,
        low=0.0,
        high=1.0,
    )
    max_accept: int = knob(
        5,
        "soft gate: at most this many accepted draft tokens per round",
        label="max accepted",
        tunable=True,
        low=0,
    )
    # TensorRT-LLM's relaxed acceptance: its names, and the DeepSeek-R1 settings of its MTP blog.
    relaxed_topk: int = knob(
        10,
        "relaxed: the draft token within the verifier's top-N",
        label="relaxed top-N",
        tunable=True,
        low=1,
        metavar="N",
    )
    relaxed_delta: float = knob(
        0.6,
        "relaxed: p >= p_top1 - delta (absolute probability)",
        label="relaxed δ",
        tunable=True,
        low=0.0,
        high=1.0,
    )
    # Medusa's typical acceptance (its posterior_threshold and posterior_alpha, and defaults).
    typical_threshold: float = knob(
        0.09,
        "typical: p > min(epsilon, alpha * exp(-H)): epsilon (Medusa's posterior_threshold)",
        label="typical ε",
        tunable=True,
        low=0.0,
        high=1.0,
    )
    typical_alpha: float = knob(
        0.3,
        "typical: alpha (Medusa's posterior_alpha)",
        label="typical α",
        tunable=True,
        low=0.0,
        high=1.0,
    )
    sample_draft: bool = knob(
        False, "sample drafts from the drafter's q (after --temperature/--top-k/--top-p)"
    )
    # Sampling warps of the verifier's p and the drafter's q, applied before every policy (as
    # vLLM's rejection sampler): temperature, then top-k, then top-p, named as HF and vLLM.
    temperature: float = knob(
        1.0,
        "sampling temperature of p and q (softmax of logits / T); 0 = greedy",
        label="temperature",
        tunable=True,
        low=0.0,
    )
    top_k: int = knob(
        0,
        "sampling: keep the k most likely tokens of p and q; 0 = off (HF's 0, vLLM's -1); "
        "not the soft gate --topk-gate",
        label="top-k",
        tunable=True,
        low=0,
        metavar="K",
    )
    top_p: float = knob(
        1.0,
        "sampling: keep the most likely tokens of p and q up to this mass; 1 = off",
        label="top-p",
        tunable=True,
        low=0.0,
        high=1.0,
    )
    seed: int = knob(42, "seeds the draft sampler and the acceptance coins", low=0, high=2**63 - 1)
    device: str = knob(
        "auto", "auto (mps -> cuda -> cpu), cpu, cuda[:N] or mps", check=device_problem
    )
    dtype: str = knob("auto", "auto = float32, the seed's precision", choices=lambda: DTYPE_NAMES)
    drafter_dtype: str = knob(
        "auto",
        "the drafter's precision: auto = --dtype's (the smollm2-135m pair: bfloat16); it only "
        "proposes, so it moves α and the drafter's cost, never what greedy-exact outputs",
        choices=lambda: DTYPE_NAMES,
    )
    kernels: str = knob(
        "fast",
        "CPU linear kernels, each weight laid out once at load: fast = spectui's panels where "
        "they run here (one thread, a C compiler, AVX2 or AVX-512), else oneDNN; panel = "
        "spectui's panels; onednn = oneDNN prepacked (both exact in float32 and flat in a "
        "block's rows); default = torch's own (MKL); int4 = a GGUF verifier's own Q4_1 layers "
        "as int4 weights with bfloat16 activations (--dtype auto = bfloat16; not exact)",
        choices=lambda: KERNEL_NAMES,
    )
    threads: int | None = knob(
        None,
        "torch CPU threads (default: half the cores, at least 1: a second thread spin-waits "
        "and collapses when anything else runs; see the README's Threads)",
        low=1,
        high=1024,
    )
    max_new_tokens: int | None = knob(
        None,
        "decode this many tokens (default: one round, as the seed's step)",
        low=1,
        high=1_000_000,
    )
    bonus: bool = knob(
        False,
        "extra verifier token when the whole draft is accepted",
        label="bonus token",
        note="after a fully accepted draft",
        tunable=True,
    )
    stop_at_eos: bool = knob(True, "end the decode at the tokenizer's EOS", cli=False)
    # Models on a server (vLLM's OpenAI-compatible API) instead of in this process. The API key
    # is not a setting: it would be written into traces (see commands/options.py --api-key).
    verifier_url: str | None = knob(
        None,
        "the verifier on a server: its OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 "
        "(vLLM); the drafter's tokenizer is used (with --drafter ngram, --verifier's)",
        check=url_problem,
        metavar="URL",
    )
    verifier_model: str | None = knob(
        None, "the served verifier's name (default: the server's only model)", metavar="NAME"
    )
    drafter_url: str | None = knob(
        None,
        "the drafter on a server (greedy drafts), as --verifier-url",
        check=url_problem,
        metavar="URL",
    )
    drafter_model: str | None = knob(
        None, "the served drafter's name (default: the server's only model)", metavar="NAME"
    )
    timeout: float = knob(30.0, "seconds a server request may take", low=0.001, metavar="SECONDS")
    ca_file: str | None = knob(
        None,
        "trust this CA file for an https server (certificates are always checked)",
        metavar="FILE",
    )
    device_map: str | None = knob(
        None,
        "hand loading to accelerate: auto spreads a big verifier over this machine's GPUs",
        choices=lambda: DEVICE_MAPS,
    )

    # The registered policies' own knobs (`Policy.knobs`): (name, value) pairs, read with
    # `setting(name)`; one left out has its default.
    policy_settings: tuple[tuple[str, int | float], ...] = knob(
        (), "values of the registered policies' own settings", cli=False
    )

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise ConfigError(problem)

    def retuned(self, **changes: Any) -> DecodeConfig:
        """A copy with some between-round settings changed (validated like a new config).

        A refusal names the setting by its on-screen label (draft span k), not its field name.
        """
        tunable = set(tunable_names())
        unknown = set(changes) - tunable
        if unknown:
            raise ConfigError(
                f"{', '.join(sorted(unknown))} cannot change during a decode; "
                f"tunable: {', '.join(sorted(tunable))}"
            )
        for name, value in changes.items():
            # Between-round changes come from the app's controls: name a setting as they do.
            problem = field_problem(name, value, called=knob_of(name).label)
            if problem is not None:
                raise ConfigError(problem)
        own = {name: changes.pop(name) for name in list(changes) if name in own_knobs()}
        if own:
            changes["policy_settings"] = tuple({**dict(self.policy_settings), **own}.items())
        return replace(self, **changes)

    def tunables(self) -> dict[str, Any]:
        """The between-round settings, by name, in declaration order."""
        return {name: self.setting(name) for name in tunable_names()}

    def setting(self, name: str) -> Any:
        """A setting's value by name: a field's, or a registered policy's own knob's (its value
        in `policy_settings`, else its default); KeyError for a name neither has."""
        if name in _knobs():
            return getattr(self, name)
        own = own_knobs().get(name)
        if own is None:
            raise KeyError(f"DecodeConfig has no setting {name!r}")
        return dict(self.policy_settings).get(name, own.default)

    @property
    def remote(self) -> bool:
        """Whether a model of the pair is on a server."""
        return self.verifier_url is not None or self.drafter_url is not None

    @property
    def tree(self) -> TreeShape | None:
        """The shape of each round's token tree, or None: a chain of `draft_span` drafts."""
        if self.tree_choices is not None:
            choices = parse_choices(self.tree_choices)
            return TreeShape(1, max(len(path) for path in choices), len(choices), choices)
        if self.tree_topk == 0:
            return None
        return TreeShape(self.tree_topk, self.tree_depth, self.tree_nodes)

    @property
    def warp(self) -> Warp:
        """The sampling warps of p and q: temperature, top-k, top-p."""
        return Warp(self.temperature, self.top_k, self.top_p)

    @property
    def policy_label(self) -> str:
        """The policy's display name, e.g. soft-guarded."""
        return registered_policies().label(self.policy)


def config_fields() -> tuple[Field[Any], ...]:
    """DecodeConfig's fields, in declaration order."""
    return fields(DecodeConfig)


def config_field_names() -> tuple[str, ...]:
    """Names of all DecodeConfig fields, in declaration order."""
    return tuple(f.name for f in config_fields())


def knob_of(name: str) -> Knob:
    """The metadata of DecodeConfig field `name` (or of a registered policy's own knob)."""
    rule = _knobs().get(name)
    return rule if rule is not None else own_knobs()[name].knob


@cache
def _knobs() -> dict[str, Knob]:
    # Looked up for every field of every config built (a retune builds one): read them once.
    return {f.name: f.metadata["knob"] for f in config_fields()}


@cache
def field_types() -> dict[str, Any]:
    """Each field's type, resolved from its annotation."""
    return typing.get_type_hints(DecodeConfig)


def base_type(name: str) -> type:
    """A field's type without `None` (int for `int | None`); an own knob's, its default's."""
    if name in own_knobs():
        return type(own_knobs()[name].default)
    hint = field_types()[name]
    options = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    return options[0]  # type: ignore[no-any-return]


def optional(name: str) -> bool:
    """Whether a field may be None (a policy's own knob may not)."""
    return name not in own_knobs() and type(None) in typing.get_args(field_types()[name])


@cache
def _tunable_fields() -> tuple[str, ...]:
    return tuple(f.name for f in config_fields() if f.metadata["knob"].tunable)


def tunable_names() -> tuple[str, ...]:
    """The settings that may change between rounds: fields in declaration order, then the
    registered policies' own tunable knobs."""
    own = tuple(name for name, rule in own_knobs().items() if rule.knob.tunable)
    return _tunable_fields() + own


TUNABLE_FIELDS = frozenset(_tunable_fields())  # DecodeConfig's own (not the policies' knobs)


def value_type(name: str) -> Any:
    """The type a setting's values have: a field's annotation, or an own knob's default's."""
    return base_type(name) if name in own_knobs() else field_types()[name]


def allowed_range(name: str) -> str:
    """A numeric field's range as the settings form and every message show it: 1..64, ≥ 1, 0..1."""
    rule, kind = knob_of(name), base_type(name)
    low = _bound_text(rule.low or 0, kind)
    if rule.high is None:
        return f"≥ {low}"
    return f"{low}..{_bound_text(rule.high, kind)}"


def _bound_text(bound: float, kind: type) -> str:
    # An integer's bound in full (the seed's 9223372036854775807, not 9.22337e+18).
    return str(int(bound)) if kind is int else f"{bound:g}"


def requirement(name: str, called: str | None = None) -> str:
    """What a numeric field must be, naming it `called` (default: its name).

    e.g. "draft span k must be an integer 1..64": a refusal adds ", got <value>".
    """
    noun = "an integer" if base_type(name) is int else "a number"
    return f"{called or name} must be {noun} {allowed_range(name)}"


def _number_problem(name: str, value: object, called: str) -> str | None:
    of_type = is_int(value) if base_type(name) is int else is_real(value)
    if of_type and within(typing.cast(float, value), knob_of(name)):
        return None
    return f"{requirement(name, called)}, got {value!r}"


def field_problem(name: str, value: object, called: str | None = None) -> str | None:
    """What is wrong with `value` for field `name`, or None; the message calls it `called`.

    `called` defaults to the field's name; the app passes the label it shows (draft span k).
    """
    rule, shown = knob_of(name), called or name
    if value is None and optional(name):
        return None
    kind = base_type(name)
    if rule.check is not None:
        return rule.check(shown, value)
    if rule.choices is not None:
        return choice_problem(shown, value, rule.choices())
    if kind is bool:
        return None if isinstance(value, bool) else f"{shown} must be true or false, got {value!r}"
    if kind in (int, float):
        return _number_problem(name, value, shown)
    return None


def _problems(config: DecodeConfig) -> list[str]:
    checks = [field_problem(name, getattr(config, name)) for name in config_field_names()]
    for name, value in config.policy_settings:
        known = name in own_knobs()
        checks.append(field_problem(name, value) if known else f"no policy has a setting {name!r}")
    return [
        problem for problem in [*checks, served_problem(config), method_problem(config)] if problem
    ]
