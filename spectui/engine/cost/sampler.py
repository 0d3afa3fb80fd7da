"""Leviathan et al.'s cost model, with its two costs measured on this machine.

With acceptance α, draft length k, c = (one drafter step) / (one verifier step) and
r_k = (verifier on k+1 tokens) / (verifier on 1 token), a round costs k·c + r_k verifier steps
and yields (1 − α^(k+1)) / (1 − α) tokens on average, so the speedup over plain decoding is

    S = (1 − α^(k+1)) / ((1 − α)(k·c + r_k)).

The original paper assumes r_k = 1 (the verifier pass is free to widen); on a CPU it is not.
A token tree's round costs depth·c + r_tree, r_tree the verifier on its N nodes (+1) under a
tree mask over one step: timed here too when a tree is benchmarked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from statistics import median
from typing import Any

import torch
from transformers import PreTrainedModel

from spectui.engine.cost.model import CostModel, load_average, relative_spread
from spectui.engine.models.cache import CachedModel
from spectui.engine.models.draft_vocabulary import DraftVocabulary
from spectui.engine.models.lean import LeanLlama, drafter_runner
from spectui.engine.models.loading import ModelPair
from spectui.engine.tree.mask import tree_mask


def alpha_estimate(accepted: int, checked: int) -> float:
    """Per-token acceptance α from a decode: accepted / draft tokens the verifier judged.

    Not accepted / drafted: drafts after the first rejection in a round are never judged, so
    that ratio underestimates α (it is α(1 − α^k) / (k(1 − α)) for independent acceptance).
    """
    return accepted / checked if checked else 0.0


class CostSampler:
    """Times the three steps the cost model needs, a few at a time, between the decodes.

    Sampling between the interleaved repeats (not once, before or after them) means the step
    times see the same machine load as the decodes they are compared with. The forwards are
    the engine's own: one KV-cached call keeping only the logits needed, with `context` (as
    long as a typical decode position: attention cost grows with it) already cached.
    """

    def __init__(
        self,
        pair: ModelPair,
        context: Sequence[int],
        k: int,
        tree_nodes: int = 0,
        tree_topk: int = 2,
    ) -> None:
        """`context`: the tokens to time at; one shorter than k + 2 (a very short run) is
        repeated until it is long enough, since any tokens will do for timing. With
        `tree_nodes`, a verifier block of that many nodes in a `tree_topk`-ary tree is timed too."""
        if not context:
            raise ValueError("the context needs at least one token")
        timed = list(context)
        while len(timed) < max(k, tree_nodes) + 2:
            timed += timed
        self.k = k
        prefix, feed = timed[: -(k + 1)], timed[-(k + 1) :]
        self.context_tokens = len(prefix)
        drafter = StepTimer(
            pair, pair.local("drafter"), prefix, pair.drafter_vocabulary, drafter=True
        )
        verifier = StepTimer(pair, pair.local("verifier"), prefix)
        self._steps: list[Callable[[], float]] = [
            lambda: drafter.time(feed[:1]),
            lambda: verifier.time(feed[:1]),
            lambda: verifier.time(feed),
        ]
        self.tree_nodes = tree_nodes
        if tree_nodes:
            tree_feed = timed[-(tree_nodes + 1) :]
            tree_prefix = timed[: -(tree_nodes + 1)]
            tree_verifier = StepTimer(pair, pair.local("verifier"), tree_prefix)
            sees, positions = _timing_tree(len(tree_prefix), tree_nodes, tree_topk)
            self._steps.append(lambda: tree_verifier.time(tree_feed, sees, positions))
        self._timings: list[list[float]] = [[] for _ in self._steps]
        for step in self._steps:  # warm up
            step()

    @torch.no_grad()
    def sample(self, budget_seconds: float, at_least: int = 3) -> None:
        """Time all three steps in turn, repeatedly, for about `budget_seconds`."""
        started = time.perf_counter()
        rounds = 0
        while rounds < at_least or time.perf_counter() - started < budget_seconds:
            for timings, step in zip(self._timings, self._steps, strict=True):
                timings.append(step())
            rounds += 1

    def model(self) -> CostModel:
        """The medians of every sample so far."""
        if not self._timings[0]:
            self.sample(0.0)
        return CostModel(
            k=self.k,
            context_tokens=self.context_tokens,
            drafter_step=median(self._timings[0]),
            verifier_step=median(self._timings[1]),
            verifier_block=median(self._timings[2]),
            samples=len(self._timings[0]),
            tree_nodes=self.tree_nodes,
            verifier_tree_block=median(self._timings[3]) if self.tree_nodes else 0.0,
            taken_at=time.time(),
            load=load_average(),
            cores=os.cpu_count() or 1,
            spread=relative_spread(self._timings[1]),
        )


def _timing_tree(cached: int, n_nodes: int, topk: int) -> tuple[list[Any], list[int]]:
    """What each fed token sees and its position, for the last token and a complete
    `topk`-ary tree of `n_nodes` nodes in breadth-first order."""
    parents = [(i // topk) - 1 for i in range(n_nodes)]  # node i's parent (−1: the root)
    depths: list[int] = []
    for parent in parents:
        depths.append(1 if parent < 0 else depths[parent] + 1)
    start = cached + 1  # the slot of node 0
    sees: list[Any] = [(cached + 1, ())]
    for node in range(n_nodes):
        line, at = [], node
        while at >= 0:
            line.append(start + at)
            at = parents[at]
        sees.append((start, line))
    return sees, [cached, *(cached + depth for depth in depths)]


class StepTimer:
    """A model with `prefix` cached; `time(feed)` runs one forward over feed, then rolls back."""

    def __init__(
        self,
        pair: ModelPair,
        model: PreTrainedModel,
        prefix: list[int],
        draft_vocabulary: DraftVocabulary | None = None,
        drafter: bool = False,
    ) -> None:
        self._device = pair.device
        # The engine's own forward and rollback (a drafter's through its draft vocabulary, on
        # what the decode runs it on).
        self._model: CachedModel | LeanLlama = (
            drafter_runner(model, pair.device, None, draft_vocabulary)
            if drafter
            else CachedModel(model, pair.device, None, draft_vocabulary)
        )
        self._model.forward(prefix, n_logits=1)
        self._cached = len(prefix)

    def time(
        self, feed: list[int], sees: list[Any] | None = None, positions: list[int] | None = None
    ) -> float:
        """Seconds of one forward over `feed` (a tree's, under the mask `sees` makes)."""
        mask = None
        if sees is not None:
            n_keys = self._cached + len(feed)
            mask = tree_mask(sees, n_keys, self._model.dtype, self._model.device)
        synchronize(self._device)
        started = time.perf_counter()
        self._model.forward(feed, len(feed), positions, mask)
        synchronize(self._device)
        elapsed = time.perf_counter() - started
        self._model.crop_to(self._cached)
        return elapsed


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
