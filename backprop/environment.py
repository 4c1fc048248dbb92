"""What this machine offers: package versions, CPU, NumPy's BLAS, every backend and its device.

`backprop info` prints it and `backprop bench --json` records it next to the timings. Versions
come from package metadata, so PyTorch and JAX are never imported here; whether CuPy or Numba
is imported is up to each backend's own probe, and a GPU is asked about only through a backend
that can run.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from typing import Any

import numpy as np

import backprop
from backprop import backend as registry

PACKAGES = ("numpy", "numba", "numba-cuda", "cupy", "torch", "jax", "matplotlib", "scikit-learn")
"""The distributions `backprop info` reports; "cupy" matches any CuPy wheel (cupy-cuda12x, ...)."""

VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
    "CUDA_VISIBLE_DEVICES",
    "NUMBA_ENABLE_CUDASIM",
    "BACKPROP_DEVICE",
    "BACKPROP_BACKEND",
)
"""Environment variables that change what a benchmark measures; those set are recorded."""


def package_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None; "cupy" finds any CuPy wheel."""
    if name == "cupy":
        for distribution in importlib.metadata.distributions():
            found = distribution.metadata["Name"] or ""
            if found.lower().startswith("cupy"):
                return f"{distribution.version} ({found})"
        return None
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    """`backprop`, Python and every package in `PACKAGES` mapped to its version (None: absent)."""
    versions: dict[str, str | None] = {
        "backprop": backprop.__version__,
        "python": platform.python_version(),
    }
    versions.update({name: package_version(name) for name in PACKAGES})
    return versions


def cpu_model() -> str:
    """The CPU's marketing name where the OS tells it, else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> dict[str, Any]:
    """NumPy's BLAS: the library in use and its threads (threadpoolctl), else the build's."""
    try:
        import threadpoolctl
    except ImportError:
        built = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return {"name": built.get("name"), "version": built.get("version"), "threads": None}
    for library in threadpoolctl.threadpool_info():
        if library.get("user_api") == "blas":
            return {
                "name": library.get("internal_api"),
                "version": library.get("version"),
                "threads": library.get("num_threads"),
            }
    return {"name": None, "version": None, "threads": None}


def backends() -> list[dict[str, Any]]:
    """Every registered backend: its name, device type, whether it can run here (and if not,
    why) and, for one that can, its device's properties (a GPU's name, memory, capability)."""
    rows = []
    for name in registry.registered():
        reason = registry.unavailable_reason(name)
        row: dict[str, Any] = {
            "name": name,
            "device_type": registry.device_type_of(name),
            "available": reason is None,
            "reason": reason,
            "device": None,
        }
        if reason is None:
            row["device"] = registry.get_backend(name).device_properties() or None
        rows.append(row)
    return rows


def gpu_names(backend_rows: list[dict[str, Any]]) -> list[str]:
    """The distinct GPU names among the available backends of a `backends()` result."""
    names = []
    for row in backend_rows:
        device = row["device"] or {}
        if row["device_type"] == "cuda" and device.get("name") and device["name"] not in names:
            names.append(device["name"])
    return names


def describe() -> dict[str, Any]:
    """The whole machine description, as recorded with benchmark results."""
    backend_rows = backends()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "gpus": gpu_names(backend_rows),
        "blas": blas(),
        "versions": package_versions(),
        "environment": {name: os.environ[name] for name in VARIABLES if name in os.environ},
        "backends": backend_rows,
    }
