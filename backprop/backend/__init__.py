"""Backend registry: which backends exist, which can run here, and why the others cannot.

Backends are imported only when first asked for, so `import backprop` never imports CuPy or Numba
and never touches a GPU. A backend module registers a factory and a `probe` that returns None when
it can run, or the reason it cannot ("CuPy is not installed", "no CUDA driver", ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from backprop.backend.base import Backend


class BackendUnavailableError(RuntimeError):
    """A backend was asked for that cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class BackendInfo:
    name: str
    device_type: str
    module: str
    class_name: str
    probe: Callable[[], str | None]


def _probe_module(module: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        return importlib.import_module(module).unavailable_reason()

    return probe


_REGISTRY: dict[str, BackendInfo] = {}
_INSTANCES: dict[tuple[str, int], Backend] = {}
_REASONS: dict[str, str | None] = {}


def register(info: BackendInfo) -> None:
    """Adds a backend; the conformance suite and device selection pick it up from here."""
    _REGISTRY[info.name] = info
    _REASONS.pop(info.name, None)


def registered() -> list[str]:
    """Names of every backend this build knows, available or not, in preference order."""
    return list(_REGISTRY)


def unavailable_reason(name: str) -> str | None:
    """None when backend `name` can run here, else the reason it cannot (probed once)."""
    info = _info(name)
    if name not in _REASONS:
        try:
            _REASONS[name] = info.probe()
        except Exception as error:  # a broken install is a reason, not a crash
            _REASONS[name] = f"{type(error).__name__}: {error}"
    return _REASONS[name]


def available() -> list[str]:
    """Names of the backends that can run on this machine."""
    return [name for name in _REGISTRY if unavailable_reason(name) is None]


def get_backend(name: str, index: int = 0) -> Backend:
    """The backend instance for `name` on device `index`, created once."""
    reason = unavailable_reason(name)
    if reason is not None:
        raise BackendUnavailableError(f"backend {name!r} cannot run here: {reason}")
    key = (name, index)
    if key not in _INSTANCES:
        info = _REGISTRY[name]
        cls = getattr(importlib.import_module(info.module), info.class_name)
        _INSTANCES[key] = cls(index)
    return _INSTANCES[key]


def device_type_of(name: str) -> str:
    return _info(name).device_type


def _info(name: str) -> BackendInfo:
    if name not in _REGISTRY:
        raise BackendUnavailableError(
            f"unknown backend {name!r}; known backends: {', '.join(_REGISTRY)}"
        )
    return _REGISTRY[name]


register(
    BackendInfo("numpy", "cpu", "backprop.backend.numpy_backend", "NumpyBackend", lambda: None)
)
register(
    BackendInfo(
        "cupy",
        "cuda",
        "backprop.backend.cupy_backend",
        "CupyBackend",
        _probe_module("backprop.backend.cupy_backend"),
    )
)
register(
    BackendInfo(
        "numba",
        "cuda",
        "backprop.backend.numba_backend",
        "NumbaBackend",
        _probe_module("backprop.backend.numba_backend"),
    )
)
