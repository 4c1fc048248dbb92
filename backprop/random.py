"""The global random generator behind `randn`, `rand`, initialisers and dropout.

Numbers are drawn on the host from one NumPy generator and copied to the device, so a seed
gives the same weights on every backend: a model trained on the GPU can be checked step for
step against the CPU.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seeds the global generator, as `torch.manual_seed`."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    return _generator
