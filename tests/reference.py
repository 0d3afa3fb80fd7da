"""A plain implementation of the seed notebook's algorithm, kept as the tests' oracle.

No KV cache: the drafter and the verifier re-run over the whole sequence for every token,
exactly as the seed does. Multi-round decoding repeats the seed's step, with the engine's
documented rules for shrinking the span near max_new_tokens and the context limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from spectui.engine.config import DecodeConfig
from spectui.engine.models.loading import ModelPair


@dataclass
class ReferenceResult:
    """Tokens generated and each round's accepted length."""

    output_ids: list[int]
    accepted_lengths: list[int]


def accept_soft_guarded(
    probs: torch.Tensor, t_id: int, p_thresh: float, topk_gate: int, margin_gate: float
) -> bool:
    """The seed's soft-guarded acceptance rule, as in its debug function."""
    p_t = float(probs[0, t_id])
    k = min(topk_gate, probs.shape[-1])
    top_vals, top_idx = torch.topk(probs, k=k, dim=-1)
    in_topk = bool((top_idx[0] == t_id).any())
    p_top1 = float(top_vals[0, 0])
    within_margin = (p_top1 - p_t) <= margin_gate
    return (p_t >= p_thresh) and in_topk and within_margin


@torch.no_grad()
def next_probs(model: torch.nn.Module, tokens: list[int]) -> torch.Tensor:
    """Next-token distribution after `tokens`, from a full forward (no cache): [1, vocab]."""
    logits = model(torch.tensor([tokens])).logits[:, -1, :]
    return torch.softmax(logits.float(), dim=-1)


@torch.no_grad()
def reference_decode(
    pair: ModelPair, config: DecodeConfig, prompt_ids: list[int] | tuple[int, ...]
) -> ReferenceResult:
    """Decode like the seed: draft k, then re-run the verifier once per draft token."""
    tokens = list(prompt_ids)
    generator = torch.Generator().manual_seed(config.seed)
    eos = pair.eos_token_id
    limit = config.max_new_tokens
    accepted_lengths: list[int] = []

    def output() -> list[int]:
        return tokens[len(prompt_ids) :]

    while True:
        if config.stop_at_eos and output() and output()[-1] == eos:
            break
        if (limit is None and accepted_lengths) or (limit is not None and len(output()) >= limit):
            break
        room = pair.context_length - len(tokens)
        if room <= 0:
            break
        remaining = limit - len(output()) if limit is not None else room
        k = min(config.draft_span, remaining, room)
        drafts: list[int] = []
        for _ in range(k):
            probs = next_probs(pair.drafter, tokens + drafts)
            if config.sample_draft:
                token = int(torch.multinomial(probs[0], 1, generator=generator))
            else:
                token = int(torch.argmax(probs))
            drafts.append(token)
            if config.stop_at_eos and token == eos:
                break
        accepted = 0
        for t_id in drafts:
            probs = next_probs(pair.verifier, tokens)
            g_id = int(torch.argmax(probs))
            if config.policy == "greedy":
                ok = t_id == g_id
            else:
                ok = accepted < config.max_accept and accept_soft_guarded(
                    probs, t_id, config.p_thresh, config.topk_gate, config.margin_gate
                )
            tokens.append(t_id if ok else g_id)
            if not ok:
                break
            accepted += 1
            if config.stop_at_eos and t_id == eos:
                break
        else:
            if config.bonus and k < room and k < remaining:
                tokens.append(int(torch.argmax(next_probs(pair.verifier, tokens))))
        accepted_lengths.append(accepted)
    return ReferenceResult(output(), accepted_lengths)


def verifier_greedy(pair: ModelPair, prompt_ids: tuple[int, ...], max_new_tokens: int) -> list[int]:
    """The verifier's own KV-cached greedy decoding through transformers' generate()."""
    input_ids = torch.tensor([list(prompt_ids)])
    out = pair.verifier.generate(  # type: ignore[operator]
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=pair.eos_token_id,
    )
    return list(out[0, input_ids.shape[1] :].tolist())


@contextmanager
def forward_counts(pair: ModelPair) -> Iterator[dict[str, int]]:
    """Count the verifier's and the drafter's forward calls inside the `with` block."""
    calls = {"verifier": 0, "drafter": 0}

    def counter(role: str) -> Callable[..., None]:
        return lambda *_: calls.__setitem__(role, calls[role] + 1)

    hooks = [getattr(pair, role).register_forward_hook(counter(role)) for role in calls]
    try:
        yield calls
    finally:
        for hook in hooks:
            hook.remove()
