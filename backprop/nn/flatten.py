"""`Flatten`: folds a range of axes into one, such as a CNN's feature maps before a Linear."""

from __future__ import annotations

from backprop.nn.module import Module
from backprop.tensor import Tensor


class Flatten(Module):
    """Flattens axes `start_dim` to `end_dim` (by default all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
