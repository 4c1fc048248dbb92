"""Triangles and diagonals of matrices: tril, triu, diagonal and diag, as PyTorch's.

The masks are built on the tensor's device from `arange` and comparisons, and diagonals are
strided slices, so nothing is copied over from the host and they run inside a captured step on
every backend.
"""

from __future__ import annotations

import numpy as np

from backprop.ops.arithmetic import compare, where
from backprop.ops.common import normalize_axis
from backprop.ops.movement import concatenate, permute, reshape
from backprop.tensor import Tensor, int64


def _positions(x: Tensor, start: int, count: int) -> Tensor:
    """The int64 indices start, start + 1, ..., start + count - 1 on `x`'s device."""
    return Tensor._make(x.backend.arange(start, start + count, 1, int64), x.device)


def _check_offset(op: str, name: str, value: object) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _band(op: str, x: Tensor, diagonal: int, keep: str) -> Tensor:
    """`x` with its last two axes' entries kept where `column - row` is `keep` ("le" for
    tril, "ge" for triu) `diagonal` and zero elsewhere; the kept entries carry the gradient."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"{op}: expected a tensor of at least 2 dimensions, got shape {x.shape}")
    diagonal = _check_offset(op, "diagonal", diagonal)
    rows, cols = x.shape[-2:]
    row = reshape(_positions(x, 0, rows), (rows, 1))
    col = reshape(_positions(x, 0, cols), (1, cols))
    return where(compare(keep, col, row + diagonal), x, x.dtype.type(0))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the matrices in the last two axes of `x` (entries with
    column - row <= diagonal), the rest zero, as `torch.tril`."""
    return _band("tril", x, diagonal, "le")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the matrices in the last two axes of `x` (entries with
    column - row >= diagonal), the rest zero, as `torch.triu`."""
    return _band("triu", x, diagonal, "ge")


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The entries x[..., i, i + offset, ...] of axes `dim1` and `dim2`, as a last axis, the
    other axes first in order, as `torch.diagonal` (a copy, not a view)."""
    return _diagonal(x, offset, dim1, dim2)


def _diagonal(x: Tensor, offset: int, dim1: int, dim2: int) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"diagonal: expected a Tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(
            f"diagonal: expected a tensor of at least 2 dimensions, got shape {x.shape}"
        )
    offset = _check_offset("diagonal", "offset", offset)
    first = normalize_axis("diagonal", dim1, x.ndim)
    second = normalize_axis("diagonal", dim2, x.ndim)
    if first == second:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    rest = [axis for axis in range(x.ndim) if axis not in (first, second)]
    return last_diagonal(permute(x, (*rest, first, second)), offset)


def last_diagonal(x: Tensor, offset: int = 0) -> Tensor:
    """Diagonal `offset` of the last two axes, (..., n, m) -> (..., length): the two axes
    joined by a reshape, then a slice stepping m + 1 entries, so neither it nor its gradient
    needs an index array."""
    *batch, rows, cols = x.shape
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    start = offset if offset >= 0 else -offset * cols
    stop = start + (length - 1) * (cols + 1) + 1 if length else start
    return reshape(x, (*batch, rows * cols))[..., start : stop : cols + 1]


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """As `torch.diag`: of a 1-D tensor, the square matrix with it on diagonal `diagonal`
    (zeros elsewhere); of a 2-D tensor, its diagonal `diagonal` as a 1-D tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"diag: expected a Tensor, got {type(x).__name__}")
    offset = _check_offset("diag", "diagonal", diagonal)
    if x.ndim == 2:
        return _diagonal(x, offset, 0, 1)
    if x.ndim != 1:
        raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")
    size = x.shape[0] + abs(offset)
    padding = Tensor._make(x.backend.zeros((abs(offset),), x.dtype), x.device)
    padded = concatenate([x, padding])
    # Entry (row, col) on the diagonal takes x[row] above the main diagonal, x[col] below it.
    values = reshape(padded, (size, 1) if offset >= 0 else (1, size))
    row = reshape(_positions(x, 0, size), (size, 1))
    col = reshape(_positions(x, 0, size), (1, size))
    return where(compare("eq", col, row + offset), values, values.dtype.type(0))
