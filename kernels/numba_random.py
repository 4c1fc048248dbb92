"""Dropout's keep-mask from the Philox4x32-10 generator, in Numba-CUDA: one thread per block of
four elements, the seed and offset read from device memory (the layout and the NumPy reference
are in backprop/backend/philox.py; kernels/philox.cuh is the CUDA C twin)."""

from __future__ import annotations

import numpy as np
from numba import cuda, uint32, uint64

from .numba_launch import empty, launch

_LOW_32 = uint64(0xFFFFFFFF)
_SHIFT = uint64(32)
_MULTIPLIER_0 = uint64(0xD2511F53)
_MULTIPLIER_1 = uint64(0xCD9E8D57)
_KEY_INCREMENT_0 = uint64(0x9E3779B9)
_KEY_INCREMENT_1 = uint64(0xBB67AE85)


@cuda.jit(device=True)
def _philox4x32_10(c0, c1, c2, c3, k0, k1):
    """The four output words for counter (c0..c3) under key (k0, k1), all uint32."""
    for round_index in range(10):
        if round_index:
            k0 = uint32((uint64(k0) + _KEY_INCREMENT_0) & _LOW_32)
            k1 = uint32((uint64(k1) + _KEY_INCREMENT_1) & _LOW_32)
        product0 = uint64(c0) * _MULTIPLIER_0
        product1 = uint64(c2) * _MULTIPLIER_1
        high0, low0 = uint32(product0 >> _SHIFT), uint32(product0 & _LOW_32)
        high1, low1 = uint32(product1 >> _SHIFT), uint32(product1 & _LOW_32)
        c0, c1, c2, c3 = uint32(high1 ^ c1 ^ k0), low1, uint32(high0 ^ c3 ^ k1), low0
    return c0, c1, c2, c3


@cuda.jit
def _dropout_mask(state, keep, threshold):
    seed, offset = state[0], state[1]
    k0, k1 = uint32(seed & _LOW_32), uint32(seed >> _SHIFT)
    c2, c3 = uint32(offset & _LOW_32), uint32(offset >> _SHIFT)
    blocks = (keep.size + 3) // 4
    for block in range(cuda.grid(1), blocks, cuda.gridsize(1)):
        index = uint64(block)
        words = _philox4x32_10(uint32(index & _LOW_32), uint32(index >> _SHIFT), c2, c3, k0, k1)
        for lane in range(4):
            i = block * 4 + lane
            if i < keep.size:
                keep[i] = words[lane] >= threshold


@cuda.jit
def _advance_offset(state):
    if cuda.grid(1) == 0:
        state[1] += uint64(1)


def dropout_mask(size: int, threshold: int, state):
    """The flat bool keep-mask of `size` elements for the state (seed, offset), whose offset
    then advances by one on the device."""
    keep = empty((size,), np.bool_)
    launch(_dropout_mask, -(-size // 4), state, keep, np.uint32(threshold))
    _advance_offset[1, 1](state)
    return keep
