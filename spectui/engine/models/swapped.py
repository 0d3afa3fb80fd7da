"""What a linear layer swapped onto another kernel remembers of the `nn.Linear` it replaced."""

from __future__ import annotations

from torch import nn


class SwappedLinear(nn.Module):
    """Base of a kernel's linear layer: its shape, and where its weight came from."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        weight = linear.weight
        # The weight it came from, by storage and size: a tied LM head shares the embedding's,
        # so `parameter_count` counts it once, as `parameters()` did before the swap.
        self.source = (weight.untyped_storage().data_ptr(), weight.numel())
        self.bias_numel = 0 if linear.bias is None else linear.bias.numel()
