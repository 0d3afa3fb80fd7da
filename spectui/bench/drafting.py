"""The drafting methods the benchmark compares, each at one verifier pass per round.

Each is a greedy-exact decode whose config differs only in how a round drafts: today a chain
of k and a token tree of as many nodes (the same verifier block: k + 1 positions scored per
pass). Another way of drafting (n-gram lookup, early exit) is one more `Drafting` here: it
gets a row in the speed, work and drafting tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from spectui.engine.config import DecodeConfig

DEFAULT_TREE_TOPK = 2  # the benchmark's tree when --tree-topk/--tree-choices name none


@dataclass(frozen=True)
class Drafting:
    """One way of drafting a round."""

    key: str  # its key in the result's methods
    label: str  # its row's name, before the shape
    configure: Callable[[DecodeConfig], DecodeConfig]  # the greedy-exact config -> this method's

    def describe(self, config: DecodeConfig) -> str:
        """e.g. "chain k=5", "tree top-2 · depth 5 · ≤ 5 nodes"."""
        mine = self.configure(config)
        shape = mine.tree
        return (
            f"{self.label} k={mine.draft_span}"
            if shape is None
            else f"{self.label} {shape.describe()}"
        )


def chain(config: DecodeConfig) -> DecodeConfig:
    """A chain of k drafts (the seed's round)."""
    return replace(config, tree_topk=0, tree_choices=None)


def tree_at_chain_budget(config: DecodeConfig) -> DecodeConfig:
    """The tree the settings name, else a top-2 tree k deep with k nodes: the chain's budget."""
    if config.tree is not None:
        return config
    k = config.draft_span
    return replace(config, tree_topk=DEFAULT_TREE_TOPK, tree_depth=k, tree_nodes=k)


CHAIN = Drafting("engine_greedy", "chain", chain)
DRAFTING: tuple[Drafting, ...] = (CHAIN, Drafting("engine_tree", "tree", tree_at_chain_budget))
