"""The early-exit drafter: the verifier's first N layers, its final norm and its LM head.

Self-speculative decoding as LayerSkip trains for and Hugging Face's `assistant_early_exit`
runs it: the draft is the verifier stopped after N of its layers. The drafter here is a *view*
of the verifier: a model object of the verifier's class whose embedding, first N layers, final
norm and LM head are the verifier's own modules, so every parameter is the verifier's tensor
(no copy; a test checks `data_ptr`). It keeps its own KV cache, so its rounds never touch the
verifier's (Hugging Face shares the first N layers' cache instead; LayerSkip's saving).

Only a checkpoint trained for it (LayerSkip's early-exit loss) drafts well this way: an
ordinary model's intermediate layers are not read by its LM head (the README gives the
agreement measured on SmolLM2-135M). Built for the layouts tested: the Llama family and GPT-2.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from spectui.engine.errors import ModelLoadError
from spectui.engine.models.local import LocalDrafter

if TYPE_CHECKING:
    from transformers import PreTrainedModel

# model_type -> the attribute of the base model holding its decoder layers, in order.
LAYER_STACKS = {"llama": "layers", "gpt2": "h"}


def verifier_layers(verifier: PreTrainedModel) -> int:
    """How many decoder layers the verifier has."""
    return int(verifier.config.num_hidden_layers)


def early_exit_problem(verifier: PreTrainedModel, layers: int) -> str | None:
    """Why the verifier cannot draft from its first `layers` layers, or None."""
    kind = verifier.config.model_type
    if kind not in LAYER_STACKS:
        return (
            f"--drafter early-exit:{layers} is built for Llama-family and GPT-2 verifiers "
            f"(model types {', '.join(LAYER_STACKS)}), whose layer stack it can cut; this "
            f"verifier is {kind!r}, laid out otherwise. Draft with --drafter ngram or a "
            "drafter model."
        )
    total = verifier_layers(verifier)
    if not 1 <= layers < total:
        return (
            f"--drafter early-exit:N must use fewer of the verifier's layers than it has: "
            f"1 ≤ N < {total} (it has {total}), got {layers}"
        )
    return None


def early_exit_view(verifier: PreTrainedModel, layers: int) -> PreTrainedModel:
    """A model of the verifier's class running its first `layers` layers, on its weights.

    Built on the meta device (nothing allocated), then every module is the verifier's own:
    the same embedding, the first `layers` decoder layers, the same final norm and LM head.
    """
    problem = early_exit_problem(verifier, layers)
    if problem is not None:
        raise ModelLoadError(problem)
    config = copy.deepcopy(verifier.config)
    config.num_hidden_layers = layers  # GPT-2's n_layer, by its attribute map
    with torch.device("meta"):
        view = type(verifier)(config)
    prefix = verifier.base_model_prefix  # "model" (Llama), "transformer" (GPT-2)
    stack = LAYER_STACKS[config.model_type]
    base, view_base = getattr(verifier, prefix), getattr(view, prefix)
    for name, module in base.named_children():
        if name == stack:
            module = torch.nn.ModuleList(list(module)[:layers])
        setattr(view_base, name, module)
    for name, module in verifier.named_children():
        if name != prefix:  # the LM head
            setattr(view, name, module)
    left = [name for name, t in [*view.named_parameters(), *view.named_buffers()] if t.is_meta]
    if left:  # a module this layout does not know of: refuse rather than run on no weights
        raise ModelLoadError(
            f"early exit could not take these from the verifier: {', '.join(left[:3])}"
        )
    return view.eval()


class EarlyExitDrafter(LocalDrafter):
    """The verifier's first N layers drafting, one cached forward per token.

    It BORROWS THE VERIFIER'S WEIGHTS: its model is `early_exit_view(verifier, N)`, every
    parameter the verifier's own tensor. Its KV cache is its own (of N layers), so the
    drafter and the verifier roll back independently, as any two models of a pair.
    """

    def __init__(
        self,
        verifier: PreTrainedModel,
        layers: int,
        device: torch.device,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__(early_exit_view(verifier, layers), device, vocab_size)
        self.layers = layers


@torch.no_grad()
def exit_agreement(
    verifier: PreTrainedModel, token_ids: Sequence[int], layers: Sequence[int], start: int = 1
) -> dict[int, float]:
    """For each N of `layers`: the share of positions from `start` on where the early-exit
    drafter's argmax (its first N layers, final norm and head) is the verifier's own argmax.

    One forward of the whole sequence per model, no cache: the positions predicting
    `token_ids[start:]` and the one after (the last position's next token).
    """
    ids = torch.tensor([list(token_ids)], device=verifier.device)  # [1, n]
    full = verifier(input_ids=ids).logits[0, start - 1 :].argmax(-1)  # [n - start + 1]
    shares = {}
    for n in layers:
        early = early_exit_view(verifier, n)(input_ids=ids).logits[0, start - 1 :].argmax(-1)
        shares[n] = float((early == full).float().mean())
    return shares
