"""`Dropout`: random zeroing in training mode, the identity in evaluation mode."""

from __future__ import annotations

from backprop import functional as F
from backprop.nn.module import Module
from backprop.tensor import Tensor


class Dropout(Module):
    """In training, zeroes each element with probability `p` and scales the survivors by
    1 / (1 - p), so evaluation (the identity) sees the same expected activations."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
