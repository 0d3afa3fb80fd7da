"""The early-exit drafter (`--drafter early-exit:N`): the verifier's first N layers, its final
norm and LM head, on the verifier's own weights, with a KV cache of its own."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from reference import verifier_greedy
from test_speculative_sampling import NoTokenizer
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    OPTConfig,
    OPTForCausalLM,
    PreTrainedModel,
)

from spectui.engine import DecodeConfig, ModelLoadError, SpeculativeDecoder, load_pair
from spectui.engine.config import ConfigError
from spectui.engine.drafters.early_exit import (
    EarlyExitDrafter,
    early_exit_view,
    exit_agreement,
)
from spectui.engine.drafters.methods import EarlyExit
from spectui.engine.events import RoundFinished
from spectui.engine.models.lean import LeanLlama
from spectui.engine.models.loading import ModelPair

VOCAB = 48
PROMPTS = [(3, 17, 5, 9), (1, 2, 3, 1, 2), (40, 7), (11, 30, 12, 30, 11, 4)]


def tiny_llama(layers: int = 4, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=None,
        eos_token_id=None,  # as the pair's tokenizer: generate() must not stop where we do not
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config).eval()


def tiny_gpt2(layers: int = 4, seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=layers, n_head=2, initializer_range=0.3
    )
    return GPT2LMHeadModel(config).eval()


BUILDERS = {"llama": tiny_llama, "gpt2": tiny_gpt2}


def early_exit_pair(verifier: PreTrainedModel, layers: int) -> ModelPair:
    return ModelPair(
        tokenizer=NoTokenizer(),
        drafter=None,
        verifier=verifier,
        device=torch.device("cpu"),
        dtype=torch.float32,
        drafter_id=f"early-exit:{layers}",
        verifier_id="tiny",
        context_length=64,
        load_seconds=0.0,
        draft_method=EarlyExit(layers),
    )


@torch.no_grad()
def reference_exit_logits(verifier: PreTrainedModel, ids: list[int], layers: int) -> torch.Tensor:
    """The verifier's hidden state after `layers` layers, through its final norm and LM head."""
    out = verifier(torch.tensor([ids]), output_hidden_states=True)
    hidden = out.hidden_states[layers]  # [1, n, d]: [0] is the embedding's output
    base = verifier.model if hasattr(verifier, "model") else verifier.transformer
    norm = base.norm if hasattr(base, "norm") else base.ln_f
    return verifier.lm_head(norm(hidden))[0]  # [n, vocab]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_the_drafter_borrows_the_verifiers_weights(kind: str) -> None:
    verifier = BUILDERS[kind]()
    own = {p.data_ptr() for p in verifier.parameters()}
    drafter = EarlyExitDrafter(verifier, 2, torch.device("cpu"))
    view = drafter.model.model
    borrowed = list(view.parameters())
    assert borrowed and all(p.data_ptr() in own for p in borrowed)  # no copy, not one tensor
    stack = view.model.layers if kind == "llama" else view.transformer.h
    full = verifier.model.layers if kind == "llama" else verifier.transformer.h
    assert len(stack) == 2 and all(a is b for a, b in zip(stack, full[:2], strict=False))
    assert view.lm_head is verifier.lm_head
    assert verifier.config.num_hidden_layers == 4  # the verifier itself is untouched
    shared = sum(p.numel() for p in borrowed)
    assert shared < sum(p.numel() for p in verifier.parameters())  # the later layers are not in
    assert drafter.model.cached_length == 0  # its own cache, of the view's layers
    # A Llama view drafts on spectui's own loop (engine/models/lean.py), a GPT-2 on transformers'.
    assert isinstance(drafter.model, LeanLlama) == (kind == "llama")


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("layers", [1, 3])
def test_its_logits_are_the_verifiers_hidden_state_after_n_layers(kind: str, layers: int) -> None:
    verifier = BUILDERS[kind]()
    ids = [5, 9, 3, 22, 7, 1]
    expected = reference_exit_logits(verifier, ids, layers)
    view = early_exit_view(verifier, layers)
    with torch.no_grad():
        got = view(torch.tensor([ids])).logits[0]
        full = verifier(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got, full, atol=1e-3)  # not the whole verifier


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_cached_drafts_are_the_early_exit_argmax_chain(kind: str) -> None:
    """Drafting token by token over its own cache gives the uncached argmax chain."""
    verifier = BUILDERS[kind]()
    drafter = EarlyExitDrafter(verifier, 2, torch.device("cpu"))
    tokens = [4, 8, 15, 16]
    drafter.prefill(tokens[:-1])
    proposal = drafter.propose(tokens, 5, None, None)
    chain = list(tokens)
    for token, q in zip(proposal.ids, proposal.q, strict=True):
        logits = reference_exit_logits(verifier, chain, 2)[-1]
        assert token == int(torch.argmax(logits))
        assert q == pytest.approx(float(torch.softmax(logits, -1)[token]), rel=1e-4)
        chain.append(token)
    assert len(proposal.ids) == 5 and drafter.cached_length == len(tokens) + 4


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("layers", [1, 2])
def test_greedy_exact_with_early_exit_is_the_verifiers_greedy_decode(
    kind: str, layers: int
) -> None:
    verifier = BUILDERS[kind](seed=3)
    pair = early_exit_pair(verifier, layers)
    config = DecodeConfig(drafter=f"early-exit:{layers}", policy="greedy", max_new_tokens=24)
    accepted = rejected = 0
    for prompt in PROMPTS:
        decoder = SpeculativeDecoder(pair, config, prompt)
        rounds = [event for event in decoder.events() if isinstance(event, RoundFinished)]
        assert list(decoder.output_ids) == verifier_greedy(pair, prompt, 24), prompt
        accepted += sum(r.n_accepted for r in rounds)
        rejected += sum(any(not c.accepted for c in r.checks) for r in rounds)
    assert accepted and rejected


def test_the_bundled_pair_drafts_from_its_own_verifier(tiny_pair: Any) -> None:
    """Through load_pair: no drafter model, the verifier's depth named, greedy still exact."""
    config = DecodeConfig(
        drafter="early-exit:1", verifier=tiny_pair.verifier, policy="greedy", max_new_tokens=16
    )
    pair = load_pair(config)
    assert pair.drafter is None and pair.draft_method == EarlyExit(1)
    assert pair.drafter_id == "early exit (1/2 layers of the verifier)"
    decoder = SpeculativeDecoder(pair, config, "Once upon a time,")
    decoder.run()
    assert list(decoder.output_ids) == verifier_greedy(pair, decoder.prompt_ids, 16)


def test_agreement_counts_the_positions_where_both_argmaxes_meet() -> None:
    verifier = tiny_llama(layers=4, seed=5)
    ids = [(7 * i + 3) % VOCAB for i in range(20)]
    shares = exit_agreement(verifier, ids, [1, 2, 3], start=4)
    with torch.no_grad():
        full = verifier(torch.tensor([ids])).logits[0, 3:].argmax(-1)
    for layers, share in shares.items():
        early = reference_exit_logits(verifier, ids, layers)[3:].argmax(-1)
        assert share == pytest.approx(float((early == full).float().mean()))
    assert len(set(shares.values())) > 1  # the layers differ, or this proves little


# --- refusals --------------------------------------------------------------------------------


def test_n_must_be_below_the_verifiers_depth(tiny_pair: Any) -> None:
    for layers in (2, 7):
        config = DecodeConfig(drafter=f"early-exit:{layers}", verifier=tiny_pair.verifier)
        with pytest.raises(ModelLoadError, match=r"--drafter early-exit:N .* 1 ≤ N < 2"):
            load_pair(config)


def test_n_must_be_a_positive_integer_named_by_the_flag(capsys: Any) -> None:
    from spectui.cli import main

    for value in ("early-exit:0", "early-exit", "early-exit:x"):
        with pytest.raises(SystemExit) as exit_:
            main(["run", "--drafter", value])
        assert exit_.value.code == 2
        assert "--drafter early-exit needs how many" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="early-exit:N with N ≥ 1"):
        DecodeConfig(drafter="early-exit:-1")


def test_a_served_verifier_is_refused_with_the_reason(capsys: Any) -> None:
    from spectui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "--drafter", "early-exit:4", "--verifier-url", "http://127.0.0.1:1/v1"])
    assert exit_.value.code == 2
    assert "a verifier on a server has no weights here" in capsys.readouterr().err


def test_other_architectures_are_refused_with_the_reason() -> None:
    torch.manual_seed(0)
    config = OPTConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=3,
        ffn_dim=32,
        num_attention_heads=2,
        word_embed_proj_dim=16,
    )
    opt = OPTForCausalLM(config).eval()
    with pytest.raises(ModelLoadError, match="built for Llama-family and GPT-2 .* 'opt'"):
        early_exit_view(opt, 1)
    with pytest.raises(ModelLoadError, match="'opt'"):
        early_exit_pair(opt, 1).new_drafter()
