"""Tree settings are DecodeConfig fields: the CLI options, the settings form and the sweep
grid take them from the field metadata, and bad values are refused naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_sweep import json_records, rows_of, sweep_cli

from spectui.cli import build_parser
from spectui.commands.options import config_from_args
from spectui.engine import ConfigError, DecodeConfig
from spectui.engine.config import tunable_names
from spectui.engine.sweep.grid import parse_axis, plan_settings
from spectui.engine.tree.shape import TreeShape, parse_choices


def test_the_cli_takes_the_tree_options() -> None:
    args = build_parser().parse_args(
        ["run", "--tree-topk", "4", "--tree-depth", "3", "--tree-nodes", "20"]
    )
    config = config_from_args(args)
    assert config.tree == TreeShape(topk=4, depth=3, nodes=20)
    static = config_from_args(build_parser().parse_args(["run", "--tree-choices", "0 1 0.0"]))
    assert static.tree == TreeShape(1, 2, 3, ((0,), (1,), (0, 0)))


def test_no_tree_by_default_and_the_tree_knobs_are_between_round_settings() -> None:
    assert DecodeConfig().tree is None  # the seed's chain
    assert {"tree_topk", "tree_depth", "tree_nodes"} <= set(tunable_names())
    assert DecodeConfig().retuned(tree_topk=2).tree == TreeShape(2, 5, 60)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tree_topk": -1}, "tree_topk must be an integer 0..64, got -1"),
        ({"tree_nodes": 0}, "tree_nodes must be an integer 1..1024, got 0"),
        ({"tree_choices": "0 0.1"}, "0.1 skips a rank under its parent"),
        ({"tree_choices": "0.0"}, "0.0 has no parent path in the list"),
        ({"tree_choices": "0 a"}, "'a' is not a path of ranks"),
    ],
)
def test_bad_tree_settings_are_refused_naming_the_field(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        DecodeConfig(**values)


def test_choices_are_ordered_breadth_first() -> None:
    assert parse_choices("0.0 1 0 0.1") == ((0,), (1,), (0, 0), (0, 1))


def test_the_grid_takes_tree_topk(tiny_pair: Any) -> None:
    axes = [parse_axis("tree_topk=1,2,4")]
    settings = plan_settings(DecodeConfig(), axes, ["greedy", "soft"])
    assert [s.label for s in settings if s.policy == "greedy"] == [
        "greedy tree_topk=1",
        "greedy tree_topk=2",
        "greedy tree_topk=4",
    ]
    status, out, err = sweep_cli(
        "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier,
        "--grid", "tree_topk=1,2", "--policies", "greedy", "--max-new-tokens", "8",
        "--prompt", "Once upon a time,", "--json",
    )  # fmt: skip
    assert status == 0, err
    rows = rows_of(json_records(out))
    assert [row["setting"]["values"] for row in rows] == [[["tree_topk", 1]], [["tree_topk", 2]]]
    assert [row["label"] for row in rows] == ["greedy tree_topk=1", "greedy tree_topk=2"]
    assert [row["tunables"]["tree_topk"] for row in rows] == [1, 2]
    assert all(row["figures"]["equal_share"] == 1.0 for row in rows), json.dumps(rows)[:400]
