"""Token trees in the engine: greedy exactness, a chain is the tree of width 1, one verifier
forward per round, the caches compacted to the accepted path, and refusals."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from reference import forward_counts, verifier_greedy
from tiny_models import build_tokenizer
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

from spectui.engine import ConfigError, DecodeConfig, ModelLoadError, SpeculativeDecoder, load_pair
from spectui.engine.events import RoundFinished
from spectui.engine.tree.mask import tree_problem

PROMPTS = ["Once upon a time,", "The capital of France is", "She walked", "x"]
TREES = [
    {"tree_topk": 2, "tree_depth": 4, "tree_nodes": 12},
    {"tree_topk": 3, "tree_depth": 5, "tree_nodes": 60},
    {"tree_topk": 4, "tree_depth": 3, "tree_nodes": 7},
    {"tree_choices": "0 1 2 0.0 0.1 1.0 0.0.0"},
]


def _config(pair: Any, **values: Any) -> DecodeConfig:
    return DecodeConfig(drafter="d", verifier="v", stop_at_eos=False, **values)


@pytest.fixture(scope="module")
def llama_pair(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny Llama pair (rotary positions: a node's position must be base + depth)."""
    root = tmp_path_factory.mktemp("llama-trees")
    tokenizer = build_tokenizer(root / "verifier")
    build_tokenizer(root / "drafter")
    for name, seed, noise in (("verifier", 5, 0.0), ("drafter", 5, 0.02)):
        torch.manual_seed(seed)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            bos_token_id=0,
            eos_token_id=0,
            initializer_range=0.3,
        )
        model = LlamaForCausalLM(config).eval()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(noise * torch.randn_like(parameter))
        model.save_pretrained(root / name)
    return load_pair(DecodeConfig(drafter=str(root / "drafter"), verifier=str(root / "verifier")))


@pytest.mark.parametrize("tree", TREES, ids=lambda tree: "-".join(map(str, tree.values())))
@pytest.mark.parametrize("arch", ["gpt2", "llama", "bundled"])
def test_greedy_tree_output_equals_the_verifiers_greedy_decode(
    arch: str, tree: dict[str, Any], tiny_loaded: Any, llama_pair: Any, bundled: Any
) -> None:
    pair = {"gpt2": tiny_loaded, "llama": llama_pair, "bundled": bundled}[arch]
    for prompt in PROMPTS if arch != "bundled" else PROMPTS[:2]:
        config = _config(pair, policy="greedy", max_new_tokens=24, bonus=True, **tree)
        decoder = SpeculativeDecoder(pair, config, prompt)
        done = decoder.run()
        expected = verifier_greedy(pair, decoder.prompt_ids, 24)
        assert list(done.output_ids) == expected, prompt
        assert done.stats.drafted > done.stats.rounds * 1.5  # a tree, not a chain


@pytest.fixture(scope="module")
def bundled() -> Any:
    return load_pair(DecodeConfig())


def _counts(stats: Any) -> dict[str, Any]:
    values = dataclasses.asdict(stats)
    for timing in ("prefill_seconds", "draft_seconds", "verify_seconds"):
        values.pop(timing)
    return values


CHAIN_CASES = [
    {"policy": "greedy"},
    {"policy": "soft", "max_accept": 3},
    {"policy": "relaxed"},
    {"policy": "typical"},
    {"policy": "sample", "sample_draft": True},
    {"policy": "sample", "sample_draft": False, "temperature": 0.8},
    {"policy": "soft", "sample_draft": True, "top_k": 20},
]


@pytest.mark.parametrize("case", CHAIN_CASES, ids=lambda case: "-".join(map(str, case.values())))
@pytest.mark.parametrize("k", [1, 4])
def test_a_chain_is_the_tree_of_width_one(tiny_loaded: Any, case: dict[str, Any], k: int) -> None:
    """Tokens, every check (its verdicts, coin, quantities), origins and counts: identical."""
    for prompt in PROMPTS[:3]:
        common = {"max_new_tokens": 30, "bonus": True, "seed": 7, **case}
        chain = _rounds(tiny_loaded, _config(tiny_loaded, draft_span=k, **common), prompt)
        width_one = {"tree_topk": 1, "tree_depth": k, "tree_nodes": 60}
        tree = _rounds(tiny_loaded, _config(tiny_loaded, **width_one, **common), prompt)
        assert len(chain) == len(tree)
        for mine, theirs in zip(tree, chain, strict=True):
            assert mine.tree is not None and theirs.tree is None
            assert mine.draft_ids == theirs.draft_ids
            assert mine.q == theirs.q
            assert mine.checks == theirs.checks
            assert mine.appended_ids == theirs.appended_ids
            assert mine.origins == theirs.origins
            assert mine.n_accepted == theirs.n_accepted
            assert _counts(mine.stats) == _counts(theirs.stats)


def _rounds(pair: Any, config: DecodeConfig, prompt: str) -> list[RoundFinished]:
    decoder = SpeculativeDecoder(pair, config, prompt)
    return [event for event in decoder.events() if isinstance(event, RoundFinished)]


@pytest.mark.parametrize("policy", ["greedy", "soft", "sample"])
def test_one_verifier_forward_per_tree_round(tiny_loaded: Any, policy: str) -> None:
    config = _config(
        tiny_loaded, policy=policy, max_new_tokens=30, tree_topk=3, tree_depth=4, tree_nodes=20
    )
    with forward_counts(tiny_loaded) as calls:
        done = SpeculativeDecoder(tiny_loaded, config, "She walked into the").run()
    assert done.stats.rounds > 3
    assert calls["verifier"] == 1 + done.stats.rounds == done.stats.verifier_forwards
    # the drafter: the prefill, then per round one forward for the root and one per depth
    assert calls["drafter"] == done.stats.drafter_forwards
    assert done.stats.drafter_forwards <= 1 + done.stats.rounds * 4


def test_both_caches_hold_exactly_the_committed_path_after_each_round(tiny_loaded: Any) -> None:
    """After compaction each cache equals a fresh prefill of every token but the last."""
    config = _config(
        tiny_loaded, policy="soft", max_new_tokens=20, tree_topk=3, tree_depth=3, tree_nodes=12
    )
    decoder = SpeculativeDecoder(tiny_loaded, config, "The capital of France is")
    checked = 0
    for event in decoder.events():
        if not isinstance(event, RoundFinished):
            continue
        for seam, model in (
            (decoder.drafter, tiny_loaded.drafter),
            (decoder.verifier, tiny_loaded.verifier),
        ):
            cache = seam.model.kv_cache  # type: ignore[attr-defined]
            assert cache.get_seq_length() == len(decoder.tokens) - 1
            fresh = model(torch.tensor([decoder.tokens[:-1]]), use_cache=True).cache
            for mine, theirs in zip(cache.layers, fresh.layers, strict=True):
                torch.testing.assert_close(mine.keys, theirs.keys, atol=1e-5, rtol=1e-4)
                torch.testing.assert_close(mine.values, theirs.values, atol=1e-5, rtol=1e-4)
        checked += 1
    assert checked >= 3


def test_tree_rounds_draft_more_than_one_branch_and_record_them(tiny_loaded: Any) -> None:
    config = _config(
        tiny_loaded, policy="soft", max_new_tokens=20, tree_topk=3, tree_depth=3, tree_nodes=8
    )
    rounds = _rounds(tiny_loaded, config, "Once upon a time,")
    for event in rounds:
        tree = event.tree
        assert tree is not None
        assert len(tree.verified) == len(event.draft_ids) <= 8
        if tree.depth == 3:  # not a last round cut short by max_new_tokens
            assert tree.pruned  # 3 + 9 + 9 candidates, 8 kept
        assert [node.token_id for node in tree.verified] == list(event.draft_ids)
        assert all(node.check is not None for node in tree.verified)
        assert all(node.check is None for node in tree.pruned)
        for node in tree.nodes:  # parents come before children, verified ones are closed
            assert node.parent < node.node_id
            if not node.pruned and node.parent >= 0:
                assert not tree.nodes[node.parent].pruned
        assert tuple(c.position for c in event.checks) == tree.walk
        assert event.appended_ids[: event.n_accepted] == tuple(
            tree.nodes[i].token_id for i in tree.path
        )
        assert all(tree.nodes[i].check.accepted for i in tree.path)  # type: ignore[union-attr]


def _sliding_model(directory: Path) -> None:
    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=320,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        sliding_window=16,
    )
    MistralForCausalLM(config).save_pretrained(directory)


def test_an_architecture_that_cannot_take_a_tree_mask_is_refused_when_the_pair_loads(
    tmp_path: Path, tiny_pair: Any
) -> None:
    build_tokenizer(tmp_path / "verifier")
    _sliding_model(tmp_path / "verifier")
    with pytest.raises(ModelLoadError, match="sliding-window"):
        load_pair(
            DecodeConfig(
                drafter=tiny_pair.drafter, verifier=str(tmp_path / "verifier"), tree_topk=2
            )
        )
    pair = load_pair(DecodeConfig(drafter=tiny_pair.drafter, verifier=str(tmp_path / "verifier")))
    assert "sliding-window" in (pair.tree_problem or "")
    decoder = SpeculativeDecoder(pair, DecodeConfig(drafter="d", verifier="v"), "x")
    with pytest.raises(ConfigError, match="cannot draft token trees"):
        decoder.retune(tree_topk=2)


def test_flash_attention_is_refused_with_its_reason(tiny_loaded: Any) -> None:
    model = tiny_loaded.verifier
    assert tree_problem(model, "verifier") is None
    original = model.config._attn_implementation
    try:
        model.config._attn_implementation_internal = "flash_attention_2"
        problem = tree_problem(model, "verifier")
    finally:
        model.config._attn_implementation_internal = original
    assert problem is not None and "flash_attention_2" in problem and "4D" in problem
