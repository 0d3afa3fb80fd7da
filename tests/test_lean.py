"""The drafter's own loop over a Llama's layers (`engine/models/lean.py`): transformers'
logits bit for bit, through steps, blocks, rollbacks and token trees."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from spectui.engine.models.cache import CachedModel
from spectui.engine.models.kernels import prepack_linears
from spectui.engine.models.lean import LeanLlama, drafter_runner, lean_problem
from spectui.engine.models.local import LocalDrafter
from spectui.engine.tree.mask import tree_mask
from spectui.engine.tree.shape import TreeShape

CPU = torch.device("cpu")


def tiny_llama(dtype: torch.dtype = torch.float32, **changes: object) -> LlamaForCausalLM:
    torch.manual_seed(0)
    settings: dict[str, object] = {
        "vocab_size": 96,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        "tie_word_embeddings": True,
        "attn_implementation": "sdpa",
    }
    config = LlamaConfig(**{**settings, **changes})
    return LlamaForCausalLM(config).eval().to(dtype)


def both(model: LlamaForCausalLM) -> tuple[CachedModel, LeanLlama]:
    return CachedModel(model, CPU), LeanLlama(model, CPU)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("kernels", ["fast", "default"])
def test_steps_blocks_and_rollbacks_give_transformers_logits_bit_for_bit(
    dtype: torch.dtype, kernels: str
) -> None:
    model = tiny_llama(dtype)
    prepack_linears(model, kernels)
    reference, lean = both(model)
    feeds = [list(range(3, 13)), [20], [21, 22, 23], [24]]
    for feed in feeds:
        assert torch.equal(lean.forward(feed, len(feed)), reference.forward(feed, len(feed)))
        assert lean.cached_length == reference.cached_length
    for model_cache in (reference, lean):
        model_cache.crop_to(11)  # reject the block's last two
    assert lean.cached_length == 11
    assert torch.equal(lean.forward([30, 31], 2), reference.forward([30, 31], 2))
    assert torch.equal(lean.forward([32], 1), reference.forward([32], 1))


def test_a_token_tree_and_its_path_give_transformers_logits_bit_for_bit() -> None:
    model = tiny_llama()
    reference, lean = both(model)
    prefix = list(range(5, 13))  # 8 committed tokens
    for model_cache in (reference, lean):
        model_cache.forward(prefix, 1)
    # Two children of the last committed token, then a grandchild under the second.
    sees = [(8, [8]), (8, [9]), (8, [9, 10])]
    mask = tree_mask(sees, 11, model.dtype, CPU)
    assert mask is not None
    feed, positions = [40, 41, 42], [8, 8, 9]
    assert torch.equal(
        lean.forward(feed, 3, positions, mask), reference.forward(feed, 3, positions, mask)
    )
    path = [*range(8), 9, 10]  # the committed tokens, the second child, the grandchild
    for model_cache in (reference, lean):
        model_cache.keep_slots(path)
    assert lean.cached_length == reference.cached_length == 10
    assert torch.equal(lean.forward([50], 1), reference.forward([50], 1))


def test_a_llama_drafter_drafts_the_same_tree_on_either_loop() -> None:
    model = tiny_llama()
    lean, reference = LocalDrafter(model, CPU), LocalDrafter(model, CPU)
    reference.model = CachedModel(model, CPU)
    assert isinstance(lean.model, LeanLlama)
    tokens = list(range(4, 14))
    shape = TreeShape(topk=2, depth=3, nodes=6)
    trees = [drafter.propose_tree(tokens, shape, None, None) for drafter in (lean, reference)]
    assert trees[0].token_ids == trees[1].token_ids
    child = next(i for i, node in enumerate(trees[0].nodes) if node.depth == 2)
    path = [trees[0].nodes[child].parent, child]  # a root's child and its own child
    for drafter in (lean, reference):
        drafter.keep_path(path)
    assert lean.cached_length == reference.cached_length
    committed = [*tokens, *(trees[0].nodes[node].token_id for node in path), 60]
    chains = [drafter.propose(committed, 3, None, None) for drafter in (lean, reference)]
    assert chains[0].ids == chains[1].ids and chains[0].q == chains[1].q


def test_it_runs_llama_drafters_only_and_says_why_not() -> None:
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50))
    assert lean_problem(gpt2) == "it runs Llama models, and this is gpt2"
    assert isinstance(drafter_runner(gpt2, CPU), CachedModel)
    biased = tiny_llama(attention_bias=True)
    assert lean_problem(biased) == "it runs Llama layers without biases"
    assert isinstance(drafter_runner(tiny_llama(), CPU), LeanLlama)
    placed = tiny_llama()
    placed.hf_device_map = {"": "cpu"}  # what --device-map leaves on a model
    assert (
        lean_problem(placed)
        == "it runs a model on one device, and this one was placed by --device-map"
    )


def test_its_cache_grows_with_the_decode_up_to_the_models_context() -> None:
    model = tiny_llama(max_position_embeddings=600)
    reference, lean = both(model)
    assert lean.keys.shape[3] == 256  # not the whole context up front
    for feed in ([i % 96 for i in range(250)], list(range(10, 20)), [7] * 300):
        assert torch.equal(lean.forward(feed, 1), reference.forward(feed, 1))
    assert lean.keys.shape[3] == 600 and lean.cached_length == 560
    with pytest.raises(ValueError, match="context holds 600 positions"):
        lean.forward([5] * 41, 1)


@pytest.mark.smollm2
def test_the_default_pairs_drafter_runs_the_lean_loop_with_the_same_logits(
    smollm2_cache: Path,
) -> None:
    from dataclasses import replace

    from spectui.engine import DecodeConfig, load_pair
    from spectui.engine.decode import encode_prompt
    from spectui.engine.prompts import SEED_PROMPTS
    from spectui.models import REAL_PAIR, named_pair

    named = named_pair(REAL_PAIR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTUI_CACHE", str(smollm2_cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        config = DecodeConfig(
            drafter=named.drafter, verifier=named.verifier, device="cpu", drafter_dtype="bfloat16"
        )
        pair = load_pair(replace(config, kernels="fast"))
    drafter = pair.new_drafter()
    assert isinstance(drafter, LocalDrafter) and isinstance(drafter.model, LeanLlama)
    reference = CachedModel(
        pair.drafter,  # type: ignore[arg-type]
        pair.device,
        pair.vocab_size,
        pair.drafter_vocabulary,
    )
    prompt = list(encode_prompt(pair, SEED_PROMPTS[0]))
    lean = drafter.model
    assert torch.equal(lean.forward(prompt, 1), reference.forward(prompt, 1))
    for token in (330, 1115, 28):
        assert torch.equal(lean.forward([token], 1), reference.forward([token], 1))


def test_the_bench_counts_the_lean_loops_forwards_by_its_embedding() -> None:
    from spectui.bench.runner import ForwardCounter

    model = tiny_llama()
    lean = LeanLlama(model, CPU)
    counter = ForwardCounter(model.get_input_embeddings())
    lean.forward([1, 2, 3], 1)
    lean.forward([4], 1)
    assert counter.take() == (2, 4)
    CachedModel(model, CPU).forward([5, 6], 1)  # transformers' forward: the same count
    assert counter.take() == (1, 2)
