"""Batched matrix multiplication as a tiled shared-memory Numba-CUDA kernel.

Each block computes a `tile.m x tile.n` tile of one output matrix: its threads stage
`tile.k`-deep slices of both operands in shared memory (loading the next slice into registers
while the current one is multiplied), and each thread accumulates a
`tile.thread_m x tile.thread_n` block of outputs in registers, interleaved so that
shared-memory reads are free of bank conflicts and stores coalesce. Operands are read through
row and column strides, so transposed operands need no copy; batch axes broadcast through
strides (0 where an operand's batch axis has size 1). Bounds checks make any shape valid.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np
from numba import cuda

from .numba_launch import (
    SIMULATED,
    at_least_1d,
    broadcast_strides,
    empty,
    flat,
    strided_offsets,
)


class TileShape(NamedTuple):
    """Block tile `m x n` advanced `k` at a time; each thread owns `thread_m x thread_n`."""

    m: int
    n: int
    k: int
    thread_m: int
    thread_n: int


LARGE_TILE = TileShape(128, 128, 8, 8, 8)
"""256 threads with 64 accumulators each, for matrices that fill the GPU."""

SMALL_TILE = TileShape(32, 32, 16, 2, 2)
"""256 threads with 4 accumulators each, so small products still spread over many blocks."""

SIMULATOR_TILE = TileShape(8, 8, 4, 4, 4)
"""4 threads: the CUDA simulator runs every thread as a Python thread and every barrier
costs it milliseconds."""

MAX_BATCH_BLOCKS = 65535


@functools.cache
def _matmul_kernel(dtype: np.dtype, tile: TileShape) -> Callable:
    value_type = numba.from_dtype(dtype)
    zero = dtype.type(0)
    tile_m, tile_n, tile_k, thread_m, thread_n = tile
    threads_x = tile_n // thread_n
    threads_y = tile_m // thread_m
    threads = threads_x * threads_y
    a_loads = tile_m * tile_k // threads
    b_loads = tile_k * tile_n // threads

    @cuda.jit(device=True)
    def load_a(a, base, row0, k0, m, k, a_row, a_col, e):
        r = e // tile_k
        kk = e % tile_k
        if row0 + r < m and k0 + kk < k:
            return a[base + (row0 + r) * a_row + (k0 + kk) * a_col]
        return zero

    @cuda.jit(device=True)
    def load_b(b, base, col0, k0, n, k, b_row, b_col, e):
        kk = e // tile_n
        c = e % tile_n
        if k0 + kk < k and col0 + c < n:
            return b[base + (k0 + kk) * b_row + (col0 + c) * b_col]
        return zero

    @cuda.jit
    def kernel(a, b, out, m, n, k, a_steps, b_steps, batch_shape, a_batch, b_batch, batches):
        a_tile = cuda.shared.array((tile_k, tile_m), value_type)
        b_tile = cuda.shared.array((tile_k, tile_n), value_type)
        a_next = cuda.local.array(a_loads, value_type)
        b_next = cuda.local.array(b_loads, value_type)
        acc = cuda.local.array((thread_m, thread_n), value_type)
        a_values = cuda.local.array(thread_m, value_type)
        b_values = cuda.local.array(thread_n, value_type)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * threads_x + tx
        row0 = cuda.blockIdx.y * tile_m
        col0 = cuda.blockIdx.x * tile_n
        a_row, a_col = a_steps
        b_row, b_col = b_steps
        for batch in range(cuda.blockIdx.z, batches, cuda.gridDim.z):
            a_base, b_base = strided_offsets(batch, batch_shape, a_batch, b_batch)
            for i in range(thread_m):
                for j in range(thread_n):
                    acc[i, j] = zero
            for load in range(a_loads):
                a_next[load] = load_a(a, a_base, row0, 0, m, k, a_row, a_col, tid + load * threads)
            for load in range(b_loads):
                b_next[load] = load_b(b, b_base, col0, 0, n, k, b_row, b_col, tid + load * threads)
            for k0 in range(0, k, tile_k):
                for load in range(a_loads):
                    e = tid + load * threads
                    a_tile[e % tile_k, e // tile_k] = a_next[load]
                for load in range(b_loads):
                    e = tid + load * threads
                    b_tile[e // tile_n, e % tile_n] = b_next[load]
                cuda.syncthreads()
                # The next slices load from global memory while this one is multiplied.
                following = k0 + tile_k
                if following < k:
                    for load in range(a_loads):
                        e = tid + load * threads
                        a_next[load] = load_a(a, a_base, row0, following, m, k, a_row, a_col, e)
                    for load in range(b_loads):
                        e = tid + load * threads
                        b_next[load] = load_b(b, b_base, col0, following, n, k, b_row, b_col, e)
                for kk in range(tile_k):
                    for i in range(thread_m):
                        a_values[i] = a_tile[kk, ty + i * threads_y]
                    for j in range(thread_n):
                        b_values[j] = b_tile[kk, tx + j * threads_x]
                    for i in range(thread_m):
                        for j in range(thread_n):
                            acc[i, j] += a_values[i] * b_values[j]
                cuda.syncthreads()
            out_base = batch * m * n
            for i in range(thread_m):
                row = row0 + ty + i * threads_y
                for j in range(thread_n):
                    col = col0 + tx + j * threads_x
                    if row < m and col < n:
                        out[out_base + row * n + col] = acc[i, j]

    return kernel


def _tile_for(m: int, n: int) -> TileShape:
    if SIMULATED:
        return SIMULATOR_TILE
    return LARGE_TILE if m * n >= 1024 * 1024 else SMALL_TILE


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """`op(a) @ op(b)` over the last two axes with broadcast batch axes; op transposes."""
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ValueError(
            f"matmul: operands need at least 2 dimensions, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    a_rows, a_cols = a.shape[-2:]
    b_rows, b_cols = b.shape[-2:]
    m, k = (a_cols, a_rows) if transpose_a else (a_rows, a_cols)
    k_b, n = (b_cols, b_rows) if transpose_b else (b_rows, b_cols)
    if k != k_b:
        raise ValueError(
            f"matmul: inner dimensions differ: {tuple(a.shape)} and {tuple(b.shape)} with "
            f"transpose_a={transpose_a}, transpose_b={transpose_b} ({k} != {k_b})"
        )
    batch_shape = tuple(np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
    out = empty(batch_shape + (m, n), a.dtype)
    batches = math.prod(batch_shape)
    if out.size == 0:
        return out
    a_steps = (1, a_cols) if transpose_a else (a_cols, 1)
    b_steps = (1, b_cols) if transpose_b else (b_cols, 1)
    a_batch = tuple(s * a_rows * a_cols for s in broadcast_strides(a.shape[:-2], batch_shape))
    b_batch = tuple(s * b_rows * b_cols for s in broadcast_strides(b.shape[:-2], batch_shape))
    dims, a_batch, b_batch = at_least_1d(batch_shape, a_batch, b_batch)
    tile = _tile_for(m, n)
    grid = (
        math.ceil(n / tile.n),
        math.ceil(m / tile.m),
        min(batches, MAX_BATCH_BLOCKS),
    )
    threads = (tile.n // tile.thread_n, tile.m // tile.thread_m)
    kernel = _matmul_kernel(np.dtype(a.dtype), tile)
    kernel[grid, threads](
        flat(a), flat(b), flat(out), m, n, k, a_steps, b_steps, dims, a_batch, b_batch, batches
    )
    return out
