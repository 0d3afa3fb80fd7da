"""A policy's rule is the engine's, its looks the app's: every registered policy has looks
whose gates are its gates, the engine never reaches for the app, the config reads a policy's
own knobs by a named method, and the tree walk is the record's, not a compared string."""

from __future__ import annotations

import pytest
from test_import_graph import import_graph

from spectui.app.looks.catalog import LOOKS, give_way, looks_of, short_name, shown_gates
from spectui.app.looks.library import P_COLUMN, Q_COLUMN
from spectui.engine.config import DEFAULT_POLICY, DecodeConfig
from spectui.engine.decode import TREE_WALKS
from spectui.engine.policy.library import SOFT_GUARDED, SPECULATIVE_SAMPLING
from spectui.engine.policy.records import TreeWalk
from spectui.engine.policy.registry import POLICIES


@pytest.mark.parametrize("name", POLICIES.names())
def test_every_registered_policy_has_looks_for_each_of_its_gates(name: str) -> None:
    looks = looks_of(name)
    engine_gates = [gate.key for gate in POLICIES.named(name).gates]
    assert [gate.key for gate in looks.gates] == engine_gates
    assert looks.short and looks.summary and looks.columns
    # What it reads stays on a narrow screen, so it must be a column the table can show.
    assert set(looks.reads) <= {Q_COLUMN, P_COLUMN, *looks.columns}


def test_no_looks_without_a_policy_and_gates_shown_in_registration_order() -> None:
    assert set(LOOKS) == set(POLICIES.names())
    assert [gate.key for gate in shown_gates()] == [gate.key for gate in POLICIES.gates()]


def test_a_name_without_looks_is_refused_or_shown_as_it_is() -> None:
    with pytest.raises(LookupError, match="'gone' has no looks"):
        looks_of("gone")
    assert short_name("gone") == "gone"  # an old trace's policy: its verdict column's header


def test_give_way_keeps_the_active_policys_gates_reads_and_verdict() -> None:
    looks = looks_of("soft")
    columns = (Q_COLUMN, P_COLUMN, *looks.columns)
    order = give_way("soft", columns, list(POLICIES.names()))
    assert not set(looks.gates) & set(order) and "soft" not in order
    assert not set(looks.reads) & set(order)
    others = [gate for gate in shown_gates() if gate not in looks.gates]
    assert order[: len(others)] == others[::-1]  # the other policies' gates go first


def test_no_engine_module_imports_the_app() -> None:
    graph = import_graph()
    reaching = {
        module: sorted(target for target in targets if target.startswith("spectui.app"))
        for module, targets in graph.items()
        if module.startswith("spectui.engine")
    }
    assert {module: found for module, found in reaching.items() if found} == {}


def test_the_config_reads_a_policys_own_knob_by_name_only() -> None:
    config = DecodeConfig(p_thresh=0.2)
    assert config.setting("p_thresh") == 0.2  # a field, by the same method
    with pytest.raises(KeyError, match="no setting .toy_floor."):
        config.setting("toy_floor")  # no registered policy declares it
    assert not hasattr(config, "toy_floor")


def test_the_default_policy_is_soft_guarded_and_registered() -> None:
    assert SOFT_GUARDED.name == DEFAULT_POLICY and DEFAULT_POLICY in POLICIES


def test_every_tree_walk_is_carried_out_and_each_policy_names_one() -> None:
    assert set(TREE_WALKS) == set(TreeWalk)
    assert SPECULATIVE_SAMPLING.tree_walk is TreeWalk.REJECTION
    assert f"{TreeWalk.REJECTION} walk" == "rejection walk"  # as the tree panel names it
    walks = {policy.name: policy.tree_walk for policy in POLICIES}
    assert {name for name, walk in walks.items() if walk is TreeWalk.LONGEST} == {
        "greedy",
        "soft",
        "relaxed",
        "typical",
    }
