"""What a model on a server cannot do, refused when a config is built, before anything loads.

A vLLM server returns a model's top tokens' log-probabilities, never a whole distribution, and
those before any sampling parameter: sampled drafts (the residual max(0, p − q) needs all of
p and q) and the sampling warps (they reshape the whole distribution) need the models here.
"""

from __future__ import annotations

from typing import Protocol

from spectui.engine.warps import Warp


class Served(Protocol):
    """What these checks read of a `DecodeConfig` (which calls them as it is built)."""

    @property
    def sample_draft(self) -> bool: ...
    @property
    def verifier_url(self) -> str | None: ...
    @property
    def drafter_url(self) -> str | None: ...
    @property
    def remote(self) -> bool: ...
    @property
    def warp(self) -> Warp: ...
    @property
    def tree_topk(self) -> int: ...
    @property
    def tree_choices(self) -> str | None: ...


def served_problem(config: Served) -> str | None:
    """Why a served model cannot run `config` (sampled drafts, warps), or None."""
    return (
        _served_sampling_problem(config)
        or _served_warp_problem(config)
        or _served_tree_problem(config)
    )


def _served_tree_problem(config: Served) -> str | None:
    """A token tree is scored in one forward under a tree attention mask, which no server takes."""
    if not config.remote or (config.tree_topk == 0 and config.tree_choices is None):
        return None
    if config.verifier_url is not None:
        return (
            "token trees cannot be verified by a verifier on a server: a tree is scored in one "
            "forward under a tree attention mask, and an OpenAI-compatible completion API "
            "(vLLM's) takes none; scoring each root-to-leaf path as its own prompt would cost "
            "one sequence per leaf. Leave out --tree-topk and --tree-choices, or load the "
            "verifier here."
        )
    return (
        "token trees need the drafter loaded here: a drafter on a server drafts one greedy "
        "chain per request and cannot score a tree's frontier under a tree mask."
    )


def _served_warp_problem(config: Served) -> str | None:
    """Temperature, top-k and top-p need whole distributions, which a server never returns."""
    if config.warp.neutral or not config.remote:
        return None
    if config.verifier_url is not None:
        return (
            "temperature, top_k and top_p cannot be applied to a verifier on a server: they "
            "reshape the verifier's whole distribution, and the server returns only its top "
            "tokens' log-probabilities, before any sampling parameter (vLLM's prompt_logprobs). "
            "Leave them at 1, 0 and 1, or load the verifier here."
        )
    return (
        "temperature, top_k and top_p need a drafter loaded here: a drafter on a server drafts "
        "greedily and returns only its tokens' unwarped q, not the distribution they reshape."
    )


def _served_sampling_problem(config: Served) -> str | None:
    """Sampled drafts need the drafter's whole q and the verifier's whole p."""
    if not config.sample_draft:
        return None
    if config.verifier_url is not None:
        return (
            "sample_draft cannot be verified exactly by a verifier on a server: the residual "
            "max(0, p − q) needs the verifier's whole distribution, and the server returns only "
            "its top tokens. Draft greedily (leave out --sample-draft) or load the verifier here."
        )
    if config.drafter_url is not None:
        return "sample_draft needs a drafter loaded here: a drafter on a server drafts greedily."
    return None
