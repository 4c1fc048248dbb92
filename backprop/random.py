"""The random numbers: one global NumPy generator for `randn`, `rand` and the initialisers, and a
Philox state per device for dropout's masks.

Weights are drawn on the host and copied to the device, so a seed gives the same weights on every
backend: a model trained on the GPU can be checked step for step against the CPU. Dropout draws
on the device instead, from a counter-based generator whose seed and call counter live in device
memory (`backend/philox.py`): a training step with dropout copies nothing from the host, so it
can be captured into a CUDA graph, and each replay draws a new mask. The same Philox arithmetic
runs on every backend, so one seed gives the same masks everywhere too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop.device import Device

_seed = 0
_generator = np.random.default_rng(_seed)
_dropout_states: dict[Device, Any] = {}


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seeds the global generator and every device's dropout generator, as
    `torch.manual_seed`; a dropout state keeps its device memory (a captured graph still reads
    it) and restarts from the new seed."""
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: expected an integer, got {type(seed).__name__}")
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"manual_seed: expected a seed in [-2**63, 2**64), got {seed}")
    _seed = int(seed) if seed >= 0 else 2**64 - 1 + int(seed)  # torch's mapping of negatives
    _generator = np.random.default_rng(_seed)
    for device, state in _dropout_states.items():
        device.backend.assign(state, device.backend.from_host(_philox_start(_seeded())))
    return _generator


def default_generator() -> np.random.Generator:
    return _generator


def dropout_state(device: Device, generator: np.random.Generator | None = None) -> Any:
    """The Philox state (seed, offset) dropout draws its masks from on `device`: the device's
    own, made on first use from the global seed, or a fresh one seeded from `generator` (a
    host copy, so a step that passes a generator cannot be captured)."""
    if generator is not None:
        return device.backend.from_host(_philox_start(generator))
    if device not in _dropout_states:
        _dropout_states[device] = device.backend.from_host(_philox_start(_seeded()))
    return _dropout_states[device]


def _seeded() -> np.random.Generator:
    """A fresh generator from the global seed, for the dropout states (the global generator's
    own position depends on how many weights were drawn)."""
    return np.random.default_rng(_seed)


def _philox_start(generator: np.random.Generator) -> np.ndarray:
    """A Philox state: a 64-bit key drawn from `generator`, at offset 0. A generator seeded
    like the global one gives the masks the device's own state gives after `manual_seed`."""
    return np.array([generator.integers(2**64, dtype=np.uint64), 0], dtype=np.uint64)
