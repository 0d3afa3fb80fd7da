"""The random-weight pairs `spectui bench --synthetic` builds, by name: their shapes, no torch.

`synthetic.build_synthetic_pair` builds one; the command's --synthetic choices are these names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyntheticSpec:
    """Shapes of a drafter/verifier pair (GPT2Config keywords)."""

    drafter: dict[str, int]
    verifier: dict[str, int]
    vocab_size: int
    n_positions: int
    description: str


SYNTHETIC_PAIRS: dict[str, SyntheticSpec] = {
    "gpt2": SyntheticSpec(
        drafter={"n_layer": 12, "n_embd": 768, "n_head": 12},  # gpt2, 124M
        verifier={"n_layer": 24, "n_embd": 1024, "n_head": 16},  # gpt2-medium, 355M
        vocab_size=50257,
        n_positions=1024,
        description="gpt2 (124M) -> gpt2-medium (355M) shapes, random weights",
    ),
    "bundled-size": SyntheticSpec(
        drafter={"n_layer": 3, "n_embd": 128, "n_head": 4},
        verifier={"n_layer": 6, "n_embd": 256, "n_head": 4},
        vocab_size=4096,
        n_positions=256,
        description="the bundled pair's shapes (1.2M -> 6M), random weights",
    ),
}
