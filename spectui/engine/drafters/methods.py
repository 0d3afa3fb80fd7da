"""How a round's drafts are made, as `--drafter` names it: a model, `ngram` or `early-exit:N`.

`--drafter` takes a model (hub id, directory, GGUF file) or one of two drafting methods that
need no second model. Both are records here, parsed from the config without importing torch
(the config validates them as it is built); `ModelPair.new_drafter` makes their seams.

- `ngram`: prompt lookup exactly as vLLM's `method: ngram` drafts: the continuation of the
  earliest occurrence of the context's last n tokens, n from `prompt_lookup_max` down to
  `prompt_lookup_min`; `ngram:hf` as Hugging Face's `prompt_lookup_num_tokens` does (n down to
  1, cut before an end-of-text token). No model; q = 1 for each token (`drafters/ngram.py`).
- `early-exit:N`: the verifier's first N layers, its final norm and its LM head (Hugging
  Face's `assistant_early_exit`, for LayerSkip checkpoints), borrowing the verifier's weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

NGRAM = "ngram"
NGRAM_RULES = {NGRAM: "vllm", f"{NGRAM}:hf": "hf"}  # --drafter value -> the lookup rule
EARLY_EXIT = "early-exit"
EARLY_EXIT_FORM = "early-exit:N"


@dataclass(frozen=True)
class NgramLookup:
    """Prompt lookup over the sequence so far: n-grams of `min_n`..`max_n` tokens."""

    min_n: int
    max_n: int
    rule: str = "vllm"  # whose lookup: "vllm" (`ngram`) or "hf" (`ngram:hf`)

    @property
    def label(self) -> str:
        """How the drafter is named on screen and in reports."""
        if self.rule == "hf":  # HF's lookup always goes down to n = 1
            return f"n-gram lookup, HF's (n {self.max_n}→1)"
        span = f"{self.max_n}" if self.min_n == self.max_n else f"{self.max_n}→{self.min_n}"
        return f"n-gram lookup (n {span})"


@dataclass(frozen=True)
class EarlyExit:
    """The verifier's first `layers` layers, its final norm and LM head (its own weights)."""

    layers: int

    @property
    def label(self) -> str:
        """How the drafter is named before the verifier is known (`load_pair` adds its depth)."""
        return f"early exit ({self.layers} of the verifier's layers)"


DraftMethod = NgramLookup | EarlyExit


class Drafting(Protocol):
    """What `draft_method` reads of a `DecodeConfig`."""

    @property
    def drafter(self) -> str: ...
    @property
    def prompt_lookup_min(self) -> int: ...
    @property
    def prompt_lookup_max(self) -> int: ...


def draft_method(config: Drafting) -> DraftMethod | None:
    """The drafting method `config.drafter` names, or None where it names a model."""
    name = config.drafter.strip()
    if name in NGRAM_RULES:
        return NgramLookup(config.prompt_lookup_min, config.prompt_lookup_max, NGRAM_RULES[name])
    layers = early_exit_layers(name)
    return None if layers is None else EarlyExit(layers)


def is_draft_method(name: object) -> bool:
    """Whether a `--drafter` value names a drafting method rather than a model."""
    return isinstance(name, str) and (
        name.strip() in NGRAM_RULES or name.strip().partition(":")[0] == EARLY_EXIT
    )


def early_exit_layers(name: str) -> int | None:
    """N of `early-exit:N` (None for any other name; a malformed N is `drafter_problem`'s)."""
    head, colon, count = name.strip().partition(":")
    if head != EARLY_EXIT or not colon or not count.strip().isdigit():
        return None
    return int(count)


def drafter_problem(name: str, value: Any) -> str | None:
    """What is wrong with a `--drafter` value: empty, or an `early-exit` without its N."""
    if not isinstance(value, str) or not value.strip():
        return f"{name} must name a model id or directory, {NGRAM} or {EARLY_EXIT_FORM}"
    text = value.strip()
    if text.partition(":")[0] == EARLY_EXIT:
        layers = early_exit_layers(text)
        if layers is None or layers < 1:
            return (
                f"{name} {EARLY_EXIT} needs how many of the verifier's layers draft: "
                f"{EARLY_EXIT_FORM} with N ≥ 1 (e.g. early-exit:8), got {value!r}"
            )
    return None


class Methods(Drafting, Protocol):
    """What `method_problem` reads of a `DecodeConfig`."""

    @property
    def verifier_url(self) -> str | None: ...
    @property
    def drafter_url(self) -> str | None: ...


def method_problem(config: Methods) -> str | None:
    """Why `config`'s drafting method cannot run with its other settings, or None."""
    if config.prompt_lookup_min > config.prompt_lookup_max:
        return (
            f"prompt_lookup_min ({config.prompt_lookup_min}) must be at most prompt_lookup_max "
            f"({config.prompt_lookup_max}), as vLLM requires"
        )
    method = draft_method(config)
    if method is None:
        return None
    if config.drafter_url is not None:
        return (
            f"--drafter {config.drafter} drafts without a drafter model, so there is none to "
            "serve: leave out --drafter-url (and --drafter-model), or name the served drafter's "
            "model with --drafter."
        )
    if isinstance(method, EarlyExit) and config.verifier_url is not None:
        return (
            f"--drafter {config.drafter} runs the verifier's first {method.layers} layers here, "
            "on the verifier's own weights, and a verifier on a server has no weights here: "
            "load the verifier here (--verifier without --verifier-url), or draft with "
            f"--drafter {NGRAM} or a drafter model."
        )
    return None
