"""`Flatten` folds a range of axes into one, such as a CNN's feature maps before a Linear;
`Unflatten` splits one axis into several, such as a Linear's output into feature maps."""

from __future__ import annotations

import math
from collections.abc import Sequence

from backprop.nn.module import Module
from backprop.ops.common import normalize_axis
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


class Unflatten(Module):
    """Splits axis `dim` into `unflattened_size` (one entry may be -1, inferred), the inverse
    of Flatten: `Unflatten(1, (16, 4, 4))` turns (N, 256) into (N, 16, 4, 4)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        sizes = unflattened_size
        if (
            not isinstance(sizes, (tuple, list))
            or not sizes
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes)
            or not all(s >= 0 or s == -1 for s in sizes)
            or list(sizes).count(-1) > 1
        ):
            raise ValueError(
                "Unflatten: unflattened_size must be a non-empty tuple or list of non-negative "
                f"ints with at most one -1, got {unflattened_size!r}"
            )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        axis = normalize_axis("Unflatten", self.dim, input.ndim)
        sizes, length = tuple(self.unflattened_size), input.shape[axis]
        known = math.prod(size for size in sizes if size != -1)
        fits = known > 0 and length % known == 0 if -1 in sizes else known == length
        if not fits:
            raise ValueError(
                f"Unflatten: cannot split axis {self.dim} of size {length} (input "
                f"{input.shape}) into {sizes}"
            )
        return input.reshape(input.shape[:axis] + sizes + input.shape[axis + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
