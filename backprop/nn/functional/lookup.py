"""`embedding`: rows of a weight table picked by integer indices (the function behind
nn.Embedding)."""

from __future__ import annotations

from backprop import ops
from backprop.nn.functional._checks import _tensor_argument
from backprop.tensor import Tensor


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by the integer `input`: output shape
    `input.shape + (dim,)`. The gradient adds into the picked rows, except `padding_idx`'s
    (negative counts from the end, as in PyTorch)."""
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"embedding: input must be an integer Tensor of indices, got {got}")
    _tensor_argument("embedding", "weight", weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, dim), got {weight.shape}")
    out = weight[input]
    if padding_idx is not None:
        rows = weight.shape[0]
        if not -rows <= padding_idx < rows:
            raise ValueError(
                f"embedding: padding_idx {padding_idx} is out of range for {rows} embeddings"
            )
        padding = (input == padding_idx % rows).reshape(*input.shape, 1)
        out = ops.where(padding, out.detach(), out)
    return out
