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


def initial_seed() -> int:
    """The seed last given to `manual_seed` (0 before any), as `torch.initial_seed`."""
    return _seed


def get_rng_state() -> dict[str, Any]:
    """What decides the next random numbers: the seed, the global generator's position and each
    device's dropout state, as plain data a checkpoint can hold (`backprop.save`); reads the
    dropout states back from their devices."""
    dropout = [
        [device.backend_name, device.index, *(int(v) for v in device.backend.to_host(state))]
        for device, state in _dropout_states.items()
    ]
    return {"seed": _seed, "generator": _generator.bit_generator.state, "dropout": dropout}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores what `get_rng_state` returned, so the random numbers go on as they did after
    it; a device's dropout state is written in place (a captured graph keeps reading it)."""
    global _generator, _seed
    if not isinstance(state, dict) or set(state) != {"seed", "generator", "dropout"}:
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            "set_rng_state: expected the dict get_rng_state returns, with keys "
            f"['dropout', 'generator', 'seed'], got {got}"
        )
    generator = np.random.default_rng()
    try:
        generator.bit_generator.state = state["generator"]
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"set_rng_state: not a generator state ({error})") from None
    _seed, _generator = int(state["seed"]), generator
    for backend_name, index, key, offset in state["dropout"]:
        device = Device(backend_name, index)
        values = np.array([key, offset], dtype=np.uint64)
        if device in _dropout_states:
            device.backend.assign(_dropout_states[device], device.backend.from_host(values))
        else:
            _dropout_states[device] = device.backend.from_host(values)


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
