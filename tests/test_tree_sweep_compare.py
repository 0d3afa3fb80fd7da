"""The sweep and the compare view take tree settings: a grid over `tree_topk`, trees decoded
under every compared policy."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from spectui.cli import main
from spectui.engine import DecodeConfig
from spectui.engine.compare import compare_policies
from spectui.engine.decode import SpeculativeDecoder

PROMPTS = ("Once upon a time,", "She walked into the")


def test_a_sweep_grid_over_tree_topk_decodes_each_tree(tiny_pair: Any) -> None:
    argv = ["sweep", "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier]
    argv += ["--grid", "tree_topk=1,2,4", "--tree-depth", "3", "--tree-nodes", "6"]
    argv += ["--policies", "greedy", "--max-new-tokens", "10", "--cost-seconds", "0", "--json"]
    for prompt in PROMPTS:
        argv += ["--prompt", prompt]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    rows = {r["label"]: r["figures"] for r in records if r["kind"] == "row"}
    assert list(rows) == ["greedy tree_topk=1", "greedy tree_topk=2", "greedy tree_topk=4"]
    for figures in rows.values():
        assert figures["equal_share"] == 1.0, "greedy-exact over a tree is the verifier's decode"
    nodes = [figures["nodes_per_round"] for figures in rows.values()]
    assert 1 <= nodes[0] <= 3, "top-1 is a chain 3 deep"
    assert all(3 < n <= 6 for n in nodes[1:]), "wider trees verify more nodes, up to the budget"


def test_compare_decodes_the_tree_under_each_policy(tiny_loaded: Any) -> None:
    config = DecodeConfig(tree_topk=2, tree_depth=3, tree_nodes=6)
    comparison = compare_policies(tiny_loaded, config, PROMPTS[0], 12, ("greedy", "soft"))
    for side in comparison.sides:
        stats = side.stats
        assert stats.rounds > 0 and stats.nodes_per_round > 3, side.policy
    chain = SpeculativeDecoder(
        tiny_loaded, DecodeConfig(policy="greedy", max_new_tokens=12), PROMPTS[0]
    )
    assert comparison.sides[0].output_ids == chain.run().output_ids, "both are verifier greedy"
