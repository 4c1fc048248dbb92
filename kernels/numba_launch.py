"""What every Numba-CUDA kernel module shares: launch sizes, device arrays, strided indexing.

Kernels take their arrays flattened to 1-D and C-contiguous, with shapes and strides (in
elements) as tuples: Numba compiles one specialisation per dtype and rank, never per shape.
Under Numba's CUDA simulator every thread is a Python thread, so launches there are tiny.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numba import config, cuda

SIMULATED = bool(config.ENABLE_CUDASIM)
"""True under `NUMBA_ENABLE_CUDASIM=1`: kernels run on the CPU, slowly."""

THREADS = 4 if SIMULATED else 256
"""Threads per block of the one-dimensional (grid-stride) kernels."""

MAX_BLOCKS = 2 if SIMULATED else 8192

# Small tensors launch small grids by design; Numba would warn on every such launch.
warnings.filterwarnings("ignore", message=r"Grid size \d+ will likely result in GPU under-utili")


def blocks(n: int) -> int:
    """Blocks for a grid-stride loop over `n` items; every kernel loops, so any count is right."""
    return max(1, min(math.ceil(n / THREADS), MAX_BLOCKS))


def is_scalar(value) -> bool:
    """A Python or NumPy number, the other operand kind binary primitives accept."""
    return isinstance(value, (bool, int, float, np.number))


def launch(kernel, size: int, *args) -> None:
    """Runs a grid-stride `kernel` over `size` items; an empty array launches nothing."""
    if size:
        kernel[blocks(size), THREADS](*args)


def empty(shape: tuple[int, ...], dtype):
    """A new C-contiguous device array (uninitialised)."""
    return cuda.device_array(tuple(shape), dtype=np.dtype(dtype))


def flat(x):
    """A 1-D view of a C-contiguous device array (a 0-d array becomes one element)."""
    return x.reshape(x.size)


def size_of(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of `shape`."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def broadcast_strides(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides that read a contiguous array of `shape` as if broadcast to `out_shape`."""
    lead = len(out_shape) - len(shape)
    own = contiguous_strides(shape)
    return (0,) * lead + tuple(0 if size == 1 else own[i] for i, size in enumerate(shape))


def at_least_1d(shape: tuple[int, ...], *strides: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Pads an empty shape (a 0-d array) to `(1,)`: kernels take tuples of rank 1 or more."""
    if shape:
        return (tuple(shape), *(tuple(s) for s in strides))
    return ((1,), *((0,) for _ in strides))


@cuda.jit(device=True)
def strided_offset(i, shape, strides):
    """Element offset of flat (C-order) position `i` of `shape` in an array of `strides`."""
    offset = 0
    for axis in range(len(shape) - 1, -1, -1):
        offset += (i % shape[axis]) * strides[axis]
        i //= shape[axis]
    return offset


@cuda.jit(device=True)
def strided_offsets(i, shape, strides_a, strides_b):
    """`strided_offset` for two arrays read at the same position."""
    offset_a = 0
    offset_b = 0
    for axis in range(len(shape) - 1, -1, -1):
        coordinate = i % shape[axis]
        offset_a += coordinate * strides_a[axis]
        offset_b += coordinate * strides_b[axis]
        i //= shape[axis]
    return offset_a, offset_b
