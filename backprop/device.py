"""Devices: where a tensor lives, and how `"cpu"`, `"cuda:1"`, `"auto"` and `backend=` resolve.

`device="cpu"` is the NumPy backend. `device="cuda"` is CuPy when it can run, else Numba-CUDA,
else an error that lists why each GPU backend cannot run; it never falls back to the CPU.
`device="auto"` is the one spelling that falls back, and it warns what it chose. `backend=` names
a backend outright. `BACKPROP_DEVICE` and `BACKPROP_BACKEND` set the defaults.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from backprop import backend as registry
from backprop.backend import Backend, BackendUnavailableError


@dataclass(frozen=True)
class Device:
    """A backend and a device index: tensors on different Devices never mix."""

    backend_name: str
    index: int = 0

    @property
    def type(self) -> str:
        return registry.device_type_of(self.backend_name)

    @property
    def backend(self) -> Backend:
        return registry.get_backend(self.backend_name, self.index)

    def __str__(self) -> str:
        if self.type == "cpu":
            # Two CPU backends are two devices: name the backend unless it is the default one.
            return "cpu" if self.backend_name == "numpy" else f"cpu ({self.backend_name})"
        return f"cuda:{self.index} ({self.backend_name})"

    def __repr__(self) -> str:
        return f"device({str(self)!r})"


def device(spec: Device | str | None = None, backend: str | None = None) -> Device:
    """Resolves a device spelling (and an optional backend name) to a `Device`."""
    if isinstance(spec, Device) and backend is None:
        return spec
    if spec is None:
        spec = os.environ.get("BACKPROP_DEVICE") or None
    if backend is None:
        backend = os.environ.get("BACKPROP_BACKEND") or None
    if isinstance(spec, Device):
        spec = f"{spec.type}:{spec.index}"
    kind, index = _parse(spec, backend)
    if backend is not None:
        return _named_backend(backend, kind, index)
    if kind == "cpu":
        return Device("numpy")
    if kind == "cuda":
        return Device(_first_gpu_backend(), index)
    return _auto(index)


def _parse(spec: str | None, backend: str | None) -> tuple[str | None, int]:
    if spec is None:
        return (None, 0) if backend is not None else ("cpu", 0)
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a Device or a string, got {type(spec).__name__}")
    kind, _, index = spec.strip().lower().partition(":")
    if kind not in ("cpu", "cuda", "gpu", "auto") or (index and not index.isdigit()):
        raise ValueError(
            f"device: unknown device {spec!r}; expected 'cpu', 'cuda', 'cuda:N' or 'auto'"
        )
    if kind in ("cpu", "auto") and index not in ("", "0"):
        raise ValueError(f"device: {spec!r} takes no index other than 0")
    return ("cuda" if kind == "gpu" else kind), int(index or 0)


def _named_backend(name: str, kind: str | None, index: int) -> Device:
    wanted = registry.device_type_of(name)
    if kind not in (None, "auto", wanted):
        raise ValueError(f"device: backend {name!r} runs on {wanted}, not on {kind!r}")
    reason = registry.unavailable_reason(name)
    if reason is not None:
        raise BackendUnavailableError(f"device: backend {name!r} cannot run here: {reason}")
    return Device(name, index)


def gpu_backends() -> list[str]:
    """Registered GPU backends in preference order (CuPy first)."""
    return [name for name in registry.registered() if registry.device_type_of(name) == "cuda"]


def _first_gpu_backend() -> str:
    reasons = []
    for name in gpu_backends():
        reason = registry.unavailable_reason(name)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    detail = "; ".join(reasons) if reasons else "no GPU backend is registered"
    raise BackendUnavailableError(f"device: 'cuda' was asked for but no GPU is usable ({detail})")


def _auto(index: int) -> Device:
    try:
        return Device(_first_gpu_backend(), index)
    except BackendUnavailableError as error:
        warnings.warn(f"device='auto' chose the CPU: {error}", stacklevel=3)
        return Device("numpy")
