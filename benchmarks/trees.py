"""Chain vs token trees on one pair: τ, nodes and tokens/s per way of drafting, per policy.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/trees.py [--pair smollm2-135m]

The seed's six prompts × 64 new tokens, EOS off, bonus on; every row one verifier forward
per round. Tokens/s is the engine's (draft + verify seconds, prefill excluded).
"""

from __future__ import annotations

import argparse

import torch

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.prompts import SEED_PROMPTS
from spectui.engine.stats import combined
from spectui.models import named_pair

SHAPES = {
    "chain k=5": {"draft_span": 5},
    "tree top-2, depth 5, 5 nodes (the chain's budget)": {
        "tree_topk": 2,
        "tree_depth": 5,
        "tree_nodes": 5,
    },
    "tree top-2, depth 5, 10 nodes": {"tree_topk": 2, "tree_depth": 5, "tree_nodes": 10},
    "tree top-4, depth 5, 20 nodes": {"tree_topk": 4, "tree_depth": 5, "tree_nodes": 20},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="bundled")
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    named = named_pair(args.pair)
    base = DecodeConfig(drafter=named.drafter, verifier=named.verifier)
    pair = load_pair(base)
    for policy in ("greedy", "soft"):
        for label, shape in SHAPES.items():
            runs = []
            for prompt in SEED_PROMPTS:
                config = DecodeConfig(
                    drafter=base.drafter,
                    verifier=base.verifier,
                    policy=policy,
                    max_new_tokens=args.new_tokens,
                    stop_at_eos=False,
                    bonus=True,
                    **shape,  # type: ignore[arg-type]
                )
                runs.append(SpeculativeDecoder(pair, config, prompt).run().stats)
            s = combined(runs)
            passes = (s.verifier_forwards - len(runs)) / s.rounds
            print(
                f"{policy:6} {label:50} τ {s.tokens_per_round:.2f}  nodes/round "
                f"{s.nodes_per_round:5.2f}  accepted/round {s.accepted_per_round:.2f}  "
                f"tokens/node {s.tokens_per_node:.2f}  tokens/s {s.tokens_per_second:5.1f}  "
                f"verifier passes/round {passes:.2f}"
            )


if __name__ == "__main__":
    main()
