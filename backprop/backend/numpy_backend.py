"""The CPU backend: the generic contract on NumPy arrays, always available, with the two spots
where the generic code is slow on a CPU replaced: the ReLU gradient and the sigmoid (used by
sigmoid, silu and softplus), whose `where` on the signs of random data mispredicts branches."""

from __future__ import annotations

import numpy as np

from backprop.backend import special
from backprop.backend.base import Backend

SIGMOID_EXP_BELOW = -40.0
"""Below this exp(x) < 5e-18, so sigmoid(x) = exp(x) / (1 + exp(x)) rounds to exp(x)."""


class NumpyBackend(Backend):
    name = "numpy"
    device_type = "cpu"
    xp = np

    def to_host(self, x: np.ndarray) -> np.ndarray:
        # asarray: NumPy hands back scalars (np.float64) from ops on 0-d arrays.
        return np.asarray(x)

    def act_backward(
        self, name: str, grad: np.ndarray, x: np.ndarray, y: np.ndarray, alpha: float = 0.0
    ) -> np.ndarray:
        """The generic rules, with ReLU's gradient taken by a branch-free select."""
        if name == "relu":
            return special.select(y > 0, grad, np.zeros((), grad.dtype))
        return super().act_backward(name, grad, x, y, alpha)

    def _sigmoid(self, x: np.ndarray) -> np.ndarray:
        """1 / (1 + exp(-x)), worked out in place in one buffer.

        Below x = -40 it takes exp(x), equal to sigmoid(x) to the last bit there: the quotient
        gives 0 once exp(-x) overflows (x < -709.78), while exp(x) keeps its full relative
        accuracy down to the smallest subnormal (x = -745).
        """
        result = np.negative(x, out=np.empty_like(x))
        with np.errstate(over="ignore"):
            np.exp(result, out=result)
        result += 1
        np.reciprocal(result, out=result)
        low = x < SIGMOID_EXP_BELOW
        if low.any():
            result[low] = np.exp(x[low])
        return result
