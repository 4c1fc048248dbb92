"""The CPU backend: the generic contract on NumPy arrays, always available."""

from __future__ import annotations

import numpy as np

from backprop.backend.base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    device_type = "cpu"
    xp = np

    def to_host(self, x: np.ndarray) -> np.ndarray:
        # asarray: NumPy hands back scalars (np.float64) from ops on 0-d arrays.
        return np.asarray(x)
