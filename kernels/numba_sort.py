"""Stable argsort along one axis as a Numba-CUDA kernel.

The sorted axis is moved last (a strided copy) so each row is contiguous; one thread sorts one
row by insertion into the output row, which holds the indices as they are placed. Insertion
sort is stable and needs no scratch memory beyond the output; it is O(n^2) per row, which suits
the short rows (top-k, medians over a feature axis) this backend sorts, not sorting millions.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from .numba_launch import empty, flat, launch
from .numba_movement import permute


@cuda.jit(device=True)
def _goes_before(a, b, descending):
    """Whether `a` sorts strictly before `b`: NaN is the largest value, as in PyTorch."""
    if descending:
        return a > b or (a != a and b == b)
    return a < b or (b != b and a == a)


@cuda.jit
def _argsort_rows(x, out, rows, length, descending):
    for row in range(cuda.grid(1), rows, cuda.gridsize(1)):
        base = row * length
        for i in range(length):
            value = x[base + i]
            j = i
            while j > 0 and _goes_before(value, x[base + out[base + j - 1]], descending):
                out[base + j] = out[base + j - 1]
                j -= 1
            out[base + j] = i


def argsort(x, axis: int, descending: bool):
    """int64 indices that sort `x` (at least 1-d, `axis` non-negative) along `axis`, stably,
    NaN largest: the contract's `argsort` (backprop.backend.base)."""
    shape = tuple(x.shape)
    last = len(shape) - 1
    order = tuple(a for a in range(len(shape)) if a != axis) + (axis,)
    rows_last = x if axis == last else permute(x, order)
    out = empty(rows_last.shape, np.int64)
    length = shape[axis]
    rows = out.size // length if length else 0
    launch(_argsort_rows, rows, flat(rows_last), flat(out), rows, length, bool(descending))
    if axis == last:
        return out
    return permute(out, tuple(int(a) for a in np.argsort(order)))
