"""What a user would run instead of spectui's engine, each as `decode(prompt_ids) -> Decoded`.

1. plain KV-cached greedy decoding of the verifier (`generate(do_sample=False)`);
2. Hugging Face assisted generation with the drafter, configured honestly (`configure_assistant`);
5. the seed notebook's algorithm: no KV cache, one verifier call per draft token.
EOS is disabled everywhere, so every method produces exactly `new_tokens` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedModel

from spectui.engine.models.loading import ModelPair


@dataclass(frozen=True)
class Decoded:
    """One decode's tokens and, for speculative methods, its round counts."""

    output_ids: tuple[int, ...]  # generated tokens only
    rounds: int | None = None  # draft-then-verify rounds; None for non-speculative methods
    drafted: int | None = None  # draft tokens proposed
    accepted: int | None = None  # draft tokens accepted
    checked: int | None = None  # draft tokens the verifier judged: accepted + first rejections
    model_seconds: float | None = None  # time inside model forwards, where the method tracks it
    verifier_prefills: int = 0  # verifier forwards spent on the prompt alone, outside any round


def plain_generate(pair: ModelPair, prompt_ids: tuple[int, ...], new_tokens: int) -> Decoded:
    """The verifier alone: `generate(do_sample=False)` with its KV cache, EOS off."""
    output = _generate(pair.local("verifier"), _generate_inputs(pair, prompt_ids, new_tokens))
    return Decoded(output_ids=tuple(output[0, len(prompt_ids) :].tolist()))


def configure_assistant(drafter: PreTrainedModel, k: int) -> None:
    """Make HF assisted generation draft exactly k tokens every round.

    transformers reads these from the *assistant's* generation config (not from generate()'s
    keywords). Its defaults would stop a draft early whenever the drafter's confidence falls
    below 0.4 (`assistant_confidence_threshold`) and grow or shrink k between rounds
    (`num_assistant_tokens_schedule="heuristic"`), so the comparison would not be at the same k.
    """
    drafter.generation_config.num_assistant_tokens = k
    drafter.generation_config.num_assistant_tokens_schedule = "constant"
    drafter.generation_config.assistant_confidence_threshold = 0.0


def hf_assisted(pair: ModelPair, prompt_ids: tuple[int, ...], new_tokens: int) -> Decoded:
    """HF assisted generation (greedy): the drafter proposes, the verifier checks in one pass.

    Call `configure_assistant` first. Round counts are not exposed by transformers; the runner
    derives them from its forward counters (one verifier forward per round).
    """
    inputs = _generate_inputs(pair, prompt_ids, new_tokens)
    output = _generate(pair.local("verifier"), {**inputs, "assistant_model": pair.local("drafter")})
    return Decoded(output_ids=tuple(output[0, len(prompt_ids) :].tolist()))


def _generate(model: PreTrainedModel, inputs: dict[str, Any]) -> torch.Tensor:
    """`model.generate(**inputs)`: the output ids [1, prompt + new].

    In inference mode, as spectui's own forwards (`CachedModel.forward`) run: a baseline left
    under generate's no_grad would pay ~4 ms a SmolLM2 step more, and a speedup over it would
    be partly the mode's, not speculation's."""
    generate: Any = model.generate  # typed as a Tensor attribute through nn.Module.__getattr__
    with torch.inference_mode():
        return generate(**inputs)


def _generate_inputs(
    pair: ModelPair, prompt_ids: tuple[int, ...], new_tokens: int
) -> dict[str, Any]:
    input_ids = torch.tensor([prompt_ids], device=pair.device)  # [1, prompt]
    pad = pair.tokenizer.pad_token_id
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "do_sample": False,
        "num_beams": 1,
        "max_new_tokens": new_tokens,
        # A keyword None switches EOS off (a GenerationConfig field set to None would fall back
        # to the model's default EOS in transformers 5.x).
        "eos_token_id": None,
        "pad_token_id": 0 if pad is None else pad,
    }


@torch.no_grad()
def seed_decode(pair: ModelPair, prompt_ids: tuple[int, ...], k: int, new_tokens: int) -> Decoded:
    """The seed notebook's greedy-exact algorithm: no cache, one verifier call per draft token.

    The drafter re-reads the whole sequence for each of its k tokens; then the verifier re-reads
    it once per draft token, keeping drafts up to the first mismatch, where its own argmax is
    appended. No bonus token (the seed has none). Output equals the verifier's greedy decode.
    """
    tokens = list(prompt_ids)
    rounds = drafted = accepted = checked = 0
    while (produced := len(tokens) - len(prompt_ids)) < new_tokens:
        span = min(k, new_tokens - produced)
        drafts: list[int] = []
        for _ in range(span):
            drafts.append(_seed_argmax(pair, pair.local("drafter"), tokens + drafts, drafter=True))
        for draft_id in drafts:
            verifier_id = _seed_argmax(pair, pair.local("verifier"), tokens)
            checked += 1
            tokens.append(verifier_id)  # equal to the draft when it is accepted
            if draft_id != verifier_id:
                break
            accepted += 1
        rounds += 1
        drafted += span
    return Decoded(
        output_ids=tuple(tokens[len(prompt_ids) :]),
        rounds=rounds,
        drafted=drafted,
        accepted=accepted,
        checked=checked,
    )


def _seed_argmax(
    pair: ModelPair, model: PreTrainedModel, tokens: list[int], drafter: bool = False
) -> int:
    """Next token from a full forward over `tokens`, as the seed: softmax of the last logits
    (the drafter's through its draft vocabulary, where it has one)."""
    input_ids = torch.tensor([tokens], device=pair.device)  # [1, len]
    vocabulary = pair.drafter_vocabulary if drafter else None
    if vocabulary is not None:
        input_ids = vocabulary.drafter_ids(input_ids)
    logits = model(input_ids).logits[:, -1, :]  # [1, vocab]
    if vocabulary is not None:
        logits = vocabulary.full_logits(logits)
    return int(torch.argmax(torch.softmax(logits.float(), dim=-1)))
