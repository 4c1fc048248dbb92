"""The CPU backend: the generic contract on NumPy arrays, always available."""

from __future__ import annotations

import numpy as np

from backprop.backend.base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    device_type = "cpu"
    xp = np

    def to_host(self, x: np.ndarray) -> np.ndarray:
        return x
