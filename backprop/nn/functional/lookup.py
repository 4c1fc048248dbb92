"""`embedding`: rows of a weight table picked by integer indices (the function behind
nn.Embedding)."""

from __future__ import annotations

from backprop import ops
from backprop.tensor import Tensor


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by the integer `input`: output shape
    `input.shape + (dim,)`. The gradient adds into the picked rows, except `padding_idx`'s."""
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"embedding: input must be an integer Tensor of indices, got {got}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, dim), got {weight.shape}")
    out = weight[input]
    if padding_idx is not None:
        padding = (input == padding_idx).reshape(*input.shape, 1)
        out = ops.where(padding, out.detach(), out)
    return out
