"""The ops suite: matmul TFLOP/s and elementwise GB/s of a backend's primitives, next to the
device's copy bandwidth measured in the same run (the ceiling an elementwise kernel can reach)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backprop import backend as registry
from backprop.benchmark.timing import Timing, measure

SIZES = {
    "cpu": {"matmul": 1024, "elements": 1 << 22},
    "cuda": {"matmul": 8192, "elements": 1 << 26},
}
"""Matmul side and elementwise length per device type: big enough to reach the device's peak."""

ACTIVATIONS = ("relu", "sigmoid")


@dataclass(frozen=True)
class OpResult:
    """One primitive timed on one backend; `work` is FLOPs (matmul) or bytes moved."""

    backend: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    work: float
    unit: str
    timing: Timing

    @property
    def rate(self) -> float:
        """TFLOP/s or GB/s at the median time."""
        scale = 1e12 if self.unit == "TFLOP/s" else 1e9
        return self.work / self.timing.median / scale

    def to_dict(self) -> dict:
        return {
            "backend": self.backend,
            "op": self.op,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "work": self.work,
            "unit": self.unit,
            "rate": self.rate,
            "seconds": list(self.timing.seconds),
            "median_s": self.timing.median,
        }


OPS_PER_BACKEND = 2 + len(ACTIVATIONS)
"""How many primitives `run_ops_suite` times: copy, matmul and each activation."""


def run_ops_suite(
    backend_name: str,
    dtype: str,
    steps: int,
    warmup: int,
    repeats: int,
    on_step: Callable[[], None] | None = None,
) -> list[OpResult]:
    """Times copy, matmul and the activations on `backend_name` with inputs sized for its
    device type (`SIZES`)."""
    backend = registry.get_backend(backend_name)
    size = SIZES[registry.device_type_of(backend_name)]
    generator = np.random.default_rng(0)
    n, length = size["matmul"], size["elements"]
    itemsize = np.dtype(dtype).itemsize
    a = backend.random_normal((n, n), dtype, generator)
    b = backend.random_normal((n, n), dtype, generator)
    x = backend.random_normal((length,), dtype, generator)

    def timed(function: Callable[[], object]) -> Timing:
        return measure(function, backend.synchronize, steps, warmup, repeats, on_step)

    results = [
        OpResult(
            backend_name,
            "copy",
            (length,),
            dtype,
            2.0 * length * itemsize,
            "GB/s",
            timed(lambda: backend.copy(x)),
        ),
        OpResult(
            backend_name,
            "matmul",
            (n, n),
            dtype,
            2.0 * n**3,
            "TFLOP/s",
            timed(lambda: backend.matmul(a, b)),
        ),
    ]
    for name in ACTIVATIONS:
        results.append(
            OpResult(
                backend_name,
                name,
                (length,),
                dtype,
                2.0 * length * itemsize,
                "GB/s",
                timed(lambda name=name: backend.act_forward(name, x)),
            )
        )
    return results
