"""Reductions along axes (sum, mean, max, min) and argmax as Numba-CUDA kernels.

Two shapes of kernel: a short reduction (or one whose outputs are contiguous, such as a sum
over the batch axis) gives each output element one thread that loops over its inputs, with
neighbouring threads reading neighbouring addresses; a long one gives each output element a
block whose threads stride over the inputs and combine their partial results in shared
memory. The kept and the reduced axes are each merged where they are contiguous, so most
reductions index with rank-1 strides.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np
from numba import cuda

from .numba_elementwise import fill, maximum, minimum
from .numba_launch import (
    SIMULATED,
    contiguous_strides,
    empty,
    flat,
    launch,
    size_of,
    strided_offset,
)

BLOCK_THREADS = 4 if SIMULATED else 256
"""Threads per block of the block-per-output kernels (a power of two: the shared-memory
combine halves it)."""

MAX_BLOCKS = 4 if SIMULATED else 65535

SERIAL_LIMIT = 8 if SIMULATED else 64
"""Reductions this long or shorter take one thread per output element (in the simulator,
where every block barrier costs milliseconds, a small limit still exercises both kernels)."""

_add = cuda.jit(device=True)(lambda a, b: a + b)
_COMBINE = {"sum": _add, "mean": _add, "max": maximum, "min": minimum}


class ReduceKernels(NamedTuple):
    serial: Callable
    block: Callable


@functools.cache
def _reduce_kernels(op: str, out_dtype: np.dtype) -> ReduceKernels:
    combine = _COMBINE[op]
    shared_type = numba.from_dtype(out_dtype)
    zero = out_dtype.type(0)
    if op in ("max", "min"):
        # The first element is a valid start for max and min: every thread may take it.
        start = cuda.jit(device=True)(lambda x, base: x[base])
    else:
        start = cuda.jit(device=True)(lambda x, base: zero)
    if op == "mean":
        finish = cuda.jit(device=True)(lambda total, count: total / count)
    else:
        finish = cuda.jit(device=True)(lambda total, count: total)

    @cuda.jit
    def serial(x, out, kept_shape, kept_strides, reduced_shape, reduced_strides, count):
        for o in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            base = strided_offset(o, kept_shape, kept_strides)
            acc = start(x, base)
            for r in range(count):
                acc = combine(acc, x[base + strided_offset(r, reduced_shape, reduced_strides)])
            out[o] = finish(acc, count)

    @cuda.jit
    def block(x, out, kept_shape, kept_strides, reduced_shape, reduced_strides, count):
        partial = cuda.shared.array(BLOCK_THREADS, shared_type)
        tid = cuda.threadIdx.x
        for o in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
            base = strided_offset(o, kept_shape, kept_strides)
            acc = start(x, base)
            for r in range(tid, count, BLOCK_THREADS):
                acc = combine(acc, x[base + strided_offset(r, reduced_shape, reduced_strides)])
            partial[tid] = acc
            cuda.syncthreads()
            width = BLOCK_THREADS // 2
            while width > 0:
                if tid < width:
                    partial[tid] = combine(partial[tid], partial[tid + width])
                cuda.syncthreads()
                width //= 2
            if tid == 0:
                out[o] = finish(partial[0], count)
            cuda.syncthreads()

    return ReduceKernels(serial, block)


@cuda.jit(device=True)
def _beats(value, index, best, best_index):
    """NumPy's argmax order: larger wins, NaN beats numbers, ties go to the first index."""
    if value != value:
        return best == best or index < best_index
    return value > best or (value == best and index < best_index)


@cuda.jit
def _argmax_serial(x, out, kept_shape, kept_strides, count, stride):
    for o in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        base = strided_offset(o, kept_shape, kept_strides)
        best = x[base]
        best_index = 0
        for r in range(1, count):
            value = x[base + r * stride]
            if _beats(value, r, best, best_index):
                best = value
                best_index = r
        out[o] = best_index


@functools.cache
def _argmax_block(dtype: np.dtype) -> Callable:
    value_type = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(x, out, kept_shape, kept_strides, count, stride):
        values = cuda.shared.array(BLOCK_THREADS, value_type)
        indices = cuda.shared.array(BLOCK_THREADS, numba.int64)
        tid = cuda.threadIdx.x
        for o in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
            base = strided_offset(o, kept_shape, kept_strides)
            best = x[base]
            best_index = 0
            for r in range(tid, count, BLOCK_THREADS):
                value = x[base + r * stride]
                if _beats(value, r, best, best_index):
                    best = value
                    best_index = r
            values[tid] = best
            indices[tid] = best_index
            cuda.syncthreads()
            width = BLOCK_THREADS // 2
            while width > 0:
                if tid < width and _beats(
                    values[tid + width], indices[tid + width], values[tid], indices[tid]
                ):
                    values[tid] = values[tid + width]
                    indices[tid] = indices[tid + width]
                cuda.syncthreads()
                width //= 2
            if tid == 0:
                out[o] = indices[0]
            cuda.syncthreads()

    return kernel


def _serial(count: int, kept_strides: tuple[int, ...], outputs: int) -> bool:
    """One thread per output for short reductions, and for long ones whose outputs are
    neighbours in memory when there are enough of them to fill a grid."""
    return count <= SERIAL_LIMIT or (kept_strides[-1] == 1 and outputs >= 8 * BLOCK_THREADS)


def merge_axes(shape: tuple[int, ...], strides: tuple[int, ...]) -> tuple[tuple, tuple]:
    """Merges neighbouring axes that step through memory as one; `(1,), (0,)` when empty."""
    merged_shape: list[int] = []
    merged_strides: list[int] = []
    for size, stride in zip(shape, strides):
        if size == 1:
            continue
        if merged_shape and merged_strides[-1] == size * stride:
            merged_shape[-1] *= size
            merged_strides[-1] = stride
        else:
            merged_shape.append(size)
            merged_strides.append(stride)
    if not merged_shape:
        return (1,), (0,)
    return tuple(merged_shape), tuple(merged_strides)


def result_dtype(op: str, dtype: np.dtype) -> np.dtype:
    """NumPy's result dtype: integer and bool sums are int64, their means float64."""
    if dtype.kind in "biu" and op == "sum":
        return np.dtype(np.int64)
    if dtype.kind in "biu" and op == "mean":
        return np.dtype(np.float64)
    return np.dtype(dtype)


def reduce(op: str, x, axes: tuple[int, ...] | None, keepdims: bool):
    shape = tuple(x.shape)
    axes = tuple(range(len(shape))) if axes is None else tuple(a % max(len(shape), 1) for a in axes)
    strides = contiguous_strides(shape)
    kept = [i for i in range(len(shape)) if i not in axes]
    reduced = [i for i in range(len(shape)) if i in axes]
    count = size_of(tuple(shape[i] for i in reduced))
    if keepdims:
        out_shape = tuple(1 if i in axes else size for i, size in enumerate(shape))
    else:
        out_shape = tuple(shape[i] for i in kept)
    out_dtype = result_dtype(op, x.dtype)
    out = empty(out_shape, out_dtype)
    if out.size == 0:
        return out
    if count == 0:
        if op in ("max", "min"):
            raise ValueError(f"reduce: {op} over an empty axis of shape {shape} has no identity")
        fill(out, 0 if op == "sum" else np.nan)
        return out
    kept_geometry = merge_axes(tuple(shape[i] for i in kept), tuple(strides[i] for i in kept))
    reduced_geometry = merge_axes(
        tuple(shape[i] for i in reduced), tuple(strides[i] for i in reduced)
    )
    kernels = _reduce_kernels(op, out_dtype)
    args = (flat(x), flat(out), *kept_geometry, *reduced_geometry, count)
    if _serial(count, kept_geometry[1], out.size):
        launch(kernels.serial, out.size, *args)
    else:
        kernels.block[min(out.size, MAX_BLOCKS), BLOCK_THREADS](*args)
    return out


def argmax(x, axis: int | None, keepdims: bool):
    shape = tuple(x.shape)
    if axis is None:
        kept_geometry, count, stride = ((1,), (0,)), x.size, 1
        out_shape = (1,) * len(shape) if keepdims else ()
    else:
        strides = contiguous_strides(shape)
        kept = [i for i in range(len(shape)) if i != axis]
        kept_geometry = merge_axes(tuple(shape[i] for i in kept), tuple(strides[i] for i in kept))
        count, stride = shape[axis], strides[axis]
        out_shape = tuple(
            1 if i == axis else size for i, size in enumerate(shape) if keepdims or i != axis
        )
    if count == 0:
        raise ValueError(f"argmax: attempt to get argmax of an empty sequence (shape {shape})")
    out = empty(out_shape, np.int64)
    args = (flat(x), flat(out), *kept_geometry, count, stride)
    if _serial(count, kept_geometry[1], out.size):
        launch(_argmax_serial, out.size, *args)
    else:
        _argmax_block(np.dtype(x.dtype))[min(out.size, MAX_BLOCKS), BLOCK_THREADS](*args)
    return out
