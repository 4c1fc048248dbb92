"""Shared test setup: which devices the suites run on, and Numba's CUDA simulator where no
GPU is present (it must be switched on before Numba is first imported)."""

from __future__ import annotations

import os
import shutil

if "NUMBA_ENABLE_CUDASIM" not in os.environ and shutil.which("nvidia-smi") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import backprop as bp  # noqa: E402

DEVICES = [bp.Device(name) for name in bp.available_backends()]


@pytest.fixture(params=DEVICES, ids=[d.backend_name for d in DEVICES])
def device(request) -> bp.Device:
    """Every device whose backend can run here: numpy always, numba in the simulator, cupy on
    a GPU."""
    return request.param


@pytest.fixture(params=["float64", "float32"])
def dtype(request) -> str:
    """Both float dtypes, for the tests that compare against PyTorch in each."""
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
