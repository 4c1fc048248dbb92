"""CUDA helpers, named as in `torch.cuda`: availability, synchronisation, CuPy's memory pool,
the float32 matmul precision, and `graph_step`, which captures a training step into a CUDA graph
(see `backprop.graph`).

Importing this module needs no GPU. Functions that ask a GPU something raise
`BackendUnavailableError` with the reason when none is usable. CuPy keeps freed memory in its
pool for reuse, so the memory held by the process does not shrink when arrays die: that is the
pool's cache, not a leak; `memory_stats()` tells the two apart and `empty_cache()` returns it.
"""

from __future__ import annotations

from backprop.backend import Backend, unavailable_reason
from backprop.backend.precision import (
    get_float32_matmul_precision,
    set_float32_matmul_precision,
)
from backprop.device import Device, gpu_backends
from backprop.device import device as resolve_device
from backprop.graph import GraphCaptureError, GraphStep, graph_step

__all__ = [
    "GraphCaptureError",
    "GraphStep",
    "empty_cache",
    "get_float32_matmul_precision",
    "graph_step",
    "is_available",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "set_float32_matmul_precision",
    "synchronize",
]


def is_available() -> bool:
    """True when a GPU backend can run here, so `device="cuda"` would work."""
    return any(unavailable_reason(name) is None for name in gpu_backends())


def synchronize(device: Device | str | None = None) -> None:
    """Waits until all work queued on the GPU (default `"cuda"`) has finished."""
    _gpu(device, "synchronize").synchronize()


def memory_stats(device: Device | str | None = None) -> dict[str, int]:
    """Bytes of CuPy's memory pool on the GPU: `allocated_bytes.all.current` held by arrays,
    `reserved_bytes.all.current` held by the pool (in use or cached for reuse)."""
    return _pool_owner(device).memory_stats()


def memory_allocated(device: Device | str | None = None) -> int:
    """Bytes held by live arrays on the GPU."""
    return memory_stats(device)["allocated_bytes.all.current"]


def memory_reserved(device: Device | str | None = None) -> int:
    """Bytes the memory pool holds on the GPU, in use or cached."""
    return memory_stats(device)["reserved_bytes.all.current"]


def empty_cache(device: Device | str | None = None) -> None:
    """Gives the pool's cached, unused memory on the GPU back to the driver."""
    _pool_owner(device).empty_cache()


def _gpu(spec: Device | str | None, op: str) -> Backend:
    resolved = resolve_device("cuda" if spec is None else spec)
    if resolved.type != "cuda":
        raise ValueError(f"{op}: expected a CUDA device, got {resolved}")
    return resolved.backend


def _pool_owner(spec: Device | str | None) -> Backend:
    """The CuPy backend of the GPU that `spec` names: the memory pool is CuPy's."""
    return resolve_device("cuda" if spec is None else spec, backend="cupy").backend
