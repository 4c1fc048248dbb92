"""Shared pieces of the spec tests: tolerances, random data, and a scratch backend registry.

Imported by the test modules as `helpers` (pytest puts `tests/` on the path, as it has no
`__init__.py`).
"""

from __future__ import annotations

import numpy as np

import backprop as bp
from backprop import backend as registry
from backprop.backend import BackendInfo
from backprop.backend.numpy_backend import NumpyBackend

# Tolerances, stated once. Float64 results must agree with a float64 reference to about
# 10 significant digits; float32 results with the float64 reference computed from the same
# float32-rounded inputs to about 5.
TOLERANCES = {
    np.dtype("float64"): {"rtol": 1e-10, "atol": 1e-12},
    np.dtype("float32"): {"rtol": 2e-5, "atol": 2e-6},
}


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, err_msg=""):
    """`actual` (a host array) equals the float64 `expected` within the tolerance of `dtype`
    (the dtype of `actual` when not given), and has that dtype."""
    actual = np.asarray(actual)
    dtype = np.dtype(dtype or actual.dtype)
    tol = TOLERANCES.get(dtype, {"rtol": 0, "atol": 0})
    assert actual.dtype == dtype, f"{err_msg} dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == np.shape(expected), (
        f"{err_msg} shape {actual.shape}, expected {np.shape(expected)}"
    )
    np.testing.assert_allclose(
        actual.astype(np.float64) if actual.dtype.kind == "f" else actual,
        expected,
        rtol=tol["rtol"] if rtol is None else rtol,
        atol=tol["atol"] if atol is None else atol,
        err_msg=err_msg,
    )


def randn(shape, seed=0, low=None, high=None) -> np.ndarray:
    """float64 host data: standard normal, or uniform in [low, high) when both are given."""
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.uniform(low, high, size=shape)
    return rng.standard_normal(shape)


def away_from_zero(shape, seed=0, margin=0.3) -> np.ndarray:
    """Normal data pushed at least `margin` away from 0 (for kinks such as abs and relu)."""
    x = randn(shape, seed)
    return np.where(x >= 0, x + margin, x - margin)


def leaf(array, dtype="float64", device=None) -> bp.Tensor:
    """A leaf tensor that requires grad, holding `array` (host data) in `dtype`."""
    return bp.tensor(np.asarray(array), dtype=dtype, device=device, requires_grad=True)


# -- a second CPU backend, so that "two devices" can be tested on any machine ------------------


class AltNumpyBackend(NumpyBackend):
    """The NumPy backend under another name: its tensors live on a different Device."""

    name = "numpy_alt"


class FakeGpuBackend(NumpyBackend):
    """NumPy arrays pretending to be a CUDA backend, for device-selection tests."""

    name = "fakegpu"
    device_type = "cuda"


def isolated_registry(monkeypatch) -> None:
    """Makes the backend registry a scratch copy for one test: backends registered in the test
    disappear afterwards, and the real ones are untouched."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_REASONS", dict(registry._REASONS))
    monkeypatch.setattr(registry, "_INSTANCES", dict(registry._INSTANCES))


def only_numpy_registry(monkeypatch) -> None:
    """A scratch registry holding the NumPy backend alone (no real GPU backend)."""
    isolated_registry(monkeypatch)
    for name in list(registry._REGISTRY):
        if name != "numpy":
            del registry._REGISTRY[name]


def register_fake(name, device_type="cpu", reason=None, class_name="AltNumpyBackend"):
    """Registers a throwaway backend (call inside a test that used `isolated_registry`)."""
    registry.register(BackendInfo(name, device_type, __name__, class_name, lambda: reason))


def assert_matches_the_cpu(device, fn, array: np.ndarray, seed: int = 6) -> None:
    """`fn(x)` and the gradient of x for a random output gradient are the same on `device`
    as on the CPU, for x holding `array` (float64)."""
    results = []
    for where in ("cpu", device):
        x = bp.tensor(array, device=where, requires_grad=True)
        out = fn(x)
        out.backward(bp.tensor(randn(out.shape, seed=seed), device=where))
        results.append((out.numpy(), x.grad.numpy()))
    (cpu_out, cpu_grad), (out, grad) = results
    assert_close(out, cpu_out, err_msg="output")
    assert_close(grad, cpu_grad, err_msg="grad")


PHILOX_KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]
"""Random123's known-answer vectors for Philox4x32-10: counter, key, output."""
