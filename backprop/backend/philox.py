"""Philox4x32-10, the counter-based generator behind dropout's masks (Salmon et al., SC 2011).

A counter-based generator turns (key, counter) into random bits with no state to carry between
threads, so a GPU kernel draws element `i` of a mask from `i` alone, and a seed and a call
counter kept in device memory give a captured CUDA graph fresh masks at every replay. The same
arithmetic runs in NumPy (here), in Numba (`kernels/numba_random.py`) and in CUDA C
(`kernels/philox.cuh`), so one seed gives the same masks on every backend.

Layout, shared by the three: a `state` array of two uint64 holds the key (the seed) and the
offset (how many masks were drawn with it). Element `i` of a mask is word `i % 4` of the block
drawn for counter (i // 4 low 32 bits, i // 4 high, offset low, offset high); it is kept when
that word is at least `dropout_threshold(p)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
"""Philox4x32's round multipliers."""

KEY_INCREMENTS = (0x9E3779B9, 0xBB67AE85)
"""Added to the two key words between rounds (the golden ratio and sqrt(3) - 1, in 32 bits)."""

ROUNDS = 10

_LOW_32 = 0xFFFFFFFF


def dropout_threshold(p: float) -> int:
    """The 32-bit word at and above which an element is kept: a probability of about 1 - p,
    compared as integers so that every backend rounds alike."""
    return min(round(p * 2**32), _LOW_32)


def philox4x32_10(xp: Any, counter: tuple[Any, Any, Any, Any], key: tuple[Any, Any]) -> tuple:
    """The four output words for `counter` (four uint32 arrays) under `key` (two uint32 arrays
    that broadcast against them)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for round_index in range(ROUNDS):
        if round_index:
            k0 = (k0.astype(np.uint64) + KEY_INCREMENTS[0]).astype(np.uint32)
            k1 = (k1.astype(np.uint64) + KEY_INCREMENTS[1]).astype(np.uint32)
        product0 = c0.astype(np.uint64) * np.uint64(MULTIPLIERS[0])
        product1 = c2.astype(np.uint64) * np.uint64(MULTIPLIERS[1])
        high0, low0 = (product0 >> np.uint64(32)).astype(np.uint32), product0.astype(np.uint32)
        high1, low1 = (product1 >> np.uint64(32)).astype(np.uint32), product1.astype(np.uint32)
        c0, c1, c2, c3 = high1 ^ c1 ^ k0, low1, high0 ^ c3 ^ k1, low0
    return c0, c1, c2, c3


def dropout_mask(xp: Any, size: int, threshold: int, state: Any) -> Any:
    """The flat bool keep-mask of `size` elements for the seed and offset in `state` (a uint64
    array of two on `xp`'s device), drawn without reading `state` on the host."""
    blocks = -(-size // 4)
    index = xp.arange(blocks, dtype=np.uint64)
    seed, offset = state[0:1], state[1:2]
    counter = (
        (index & np.uint64(_LOW_32)).astype(np.uint32),
        (index >> np.uint64(32)).astype(np.uint32),
        xp.broadcast_to((offset & np.uint64(_LOW_32)).astype(np.uint32), (blocks,)),
        xp.broadcast_to((offset >> np.uint64(32)).astype(np.uint32), (blocks,)),
    )
    key = ((seed & np.uint64(_LOW_32)).astype(np.uint32), (seed >> np.uint64(32)).astype(np.uint32))
    words = xp.stack(philox4x32_10(xp, counter, key), axis=1).reshape(-1)[:size]
    return words >= np.uint32(threshold)
