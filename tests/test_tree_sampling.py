"""Speculative sampling over a token tree is lossless: recursive rejection over siblings.

As the chain's test (`test_speculative_sampling`): many seeded two-token decodes of a
six-token model pair, their outputs tested against the verifier's exact distribution with
Pearson's χ². Here every round is a tree whose nodes have two or three children, so the
second and third siblings are tested against the residual their elder siblings left.
"""

from __future__ import annotations

from collections import Counter

import pytest
from test_speculative_sampling import (
    NEGATIVE_N_DECODES,
    PROMPT,
    chi_square,
    exact_two_token_distribution,
    small_pair,  # noqa: F401  (the fixture)
)

from spectui.engine import DecodeConfig, SpeculativeDecoder
from spectui.engine.events import RoundFinished
from spectui.engine.models.loading import ModelPair

N_DECODES = 2500
TREE = {"tree_topk": 3, "tree_depth": 2, "tree_nodes": 12}


def tree_outputs(
    pair: ModelPair, policy: str, sample_draft: bool, n: int = N_DECODES
) -> Counter[tuple[int, ...]]:
    counts: Counter[tuple[int, ...]] = Counter()
    for seed in range(n):
        config = DecodeConfig(
            drafter="small-drafter",
            verifier="small-verifier",
            policy=policy,
            sample_draft=sample_draft,
            max_new_tokens=2,
            seed=seed,
            **TREE,  # type: ignore[arg-type]
        )
        counts[SpeculativeDecoder(pair, config, PROMPT).run().output_ids] += 1
    return counts


@pytest.mark.parametrize("sample_draft", [True, False])
def test_tree_speculative_sampling_matches_the_verifier(
    small_pair: ModelPair,  # noqa: F811
    sample_draft: bool,
) -> None:
    expected = exact_two_token_distribution(small_pair)
    counts = tree_outputs(small_pair, "sample", sample_draft)
    statistic, critical = chi_square(counts, expected)
    assert statistic < critical, (statistic, critical)


def test_the_check_rejects_a_walk_without_the_residual(
    small_pair: ModelPair,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Negative control: testing every sibling against the verifier's own p (no residual
    after a rejection) over-accepts later siblings, and the χ² test says so."""
    monkeypatch.setattr("spectui.engine.tree.sampling.residual", lambda p_row, drawn: p_row)
    expected = exact_two_token_distribution(small_pair)
    counts = tree_outputs(small_pair, "sample", True, n=NEGATIVE_N_DECODES)
    statistic, critical = chi_square(counts, expected)
    assert statistic > critical, (statistic, critical)


def test_the_check_rejects_soft_guarded_on_the_tree(small_pair: ModelPair) -> None:  # noqa: F811
    """Negative control as the chain's: soft-guarded over a sampled tree is not lossless."""
    expected = exact_two_token_distribution(small_pair)
    counts = tree_outputs(small_pair, "soft", True, n=NEGATIVE_N_DECODES)
    statistic, critical = chi_square(counts, expected)
    assert statistic > critical, (statistic, critical)


def test_sampled_children_are_drawn_iid_and_later_siblings_read_the_residual(
    small_pair: ModelPair,  # noqa: F811
) -> None:
    config = DecodeConfig(
        drafter="d",
        verifier="v",
        policy="sample",
        sample_draft=True,
        max_new_tokens=8,
        seed=3,
        **TREE,  # type: ignore[arg-type]
    )
    seen_later_sibling = False
    for event in SpeculativeDecoder(small_pair, config, PROMPT).events():
        if not isinstance(event, RoundFinished) or event.tree is None:
            continue
        tree = event.tree
        for node_id in tree.walk:
            node = tree.nodes[node_id]
            siblings = [n.node_id for n in tree.children(node.parent)]
            check = node.check
            assert check is not None and node.step is not None
            assert check.accepted == (check.chance.uniform < check.chance.accept_probability)
            if siblings.index(node_id) == 0:  # the eldest: the chain's own test, min(1, p/q)
                assert check.chance.accept_probability == pytest.approx(min(1.0, check.p / check.q))
            else:
                seen_later_sibling = True
        assert len(tree.children(-1)) == 3
    assert seen_later_sibling
