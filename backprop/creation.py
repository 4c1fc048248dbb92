"""Tensor factories with PyTorch's names: tensor, zeros, ones, full, empty, arange, randn, rand,
and their `_like` forms. Floats are float32 unless `dtype` says otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.device import Device
from backprop.device import device as resolve_device
from backprop.random import default_generator
from backprop.tensor import FLOAT_DTYPES, Tensor, as_dtype, float32

Shape = int | Sequence[int]


def tensor(
    data: Any, dtype: Any = None, device: Device | str | None = None, requires_grad: bool = False
) -> Tensor:
    """A tensor holding a copy of `data` (a number, nested lists, a NumPy array or a Tensor)."""
    if isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _shape(op: str, shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(s, (int, np.integer)) and s >= 0 for s in shape):
        raise ValueError(f"{op}: shape must be non-negative integers, got {shape}")
    return tuple(int(s) for s in shape)


def _make(op, shape, dtype, device, requires_grad, build) -> Tensor:
    dev = resolve_device(device)
    dtype = float32 if dtype is None else as_dtype(dtype, op)
    result = Tensor._make(build(dev.backend, _shape(op, shape), dtype), dev)
    return result.requires_grad_(requires_grad) if requires_grad else result


def _float_dtype(op: str, dtype: Any) -> np.dtype:
    """The dtype of random samples: float32 by default; an int or bool dtype is an error."""
    dtype = float32 if dtype is None else as_dtype(dtype, op)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: samples need a float32 or float64 dtype, got {dtype}")
    return dtype


def zeros(*shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False) -> Tensor:
    return _make("zeros", shape, dtype, device, requires_grad, lambda b, s, d: b.zeros(s, d))


def ones(*shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False) -> Tensor:
    return _make("ones", shape, dtype, device, requires_grad, lambda b, s, d: b.ones(s, d))


def empty(*shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False) -> Tensor:
    return _make("empty", shape, dtype, device, requires_grad, lambda b, s, d: b.empty(s, d))


def full(
    shape: Shape, fill_value: float, dtype: Any = None, device=None, requires_grad: bool = False
) -> Tensor:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _make(
        "full", shape, dtype, device, requires_grad, lambda b, s, d: b.full(s, fill_value, d)
    )


def randn(
    *shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False, generator=None
) -> Tensor:
    """Standard normal samples from `generator` (the global one by default)."""
    rng = generator or default_generator()
    dtype = _float_dtype("randn", dtype)
    return _make(
        "randn", shape, dtype, device, requires_grad, lambda b, s, d: b.random_normal(s, d, rng)
    )


def rand(
    *shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False, generator=None
) -> Tensor:
    """Uniform samples in [0, 1) from `generator` (the global one by default)."""
    rng = generator or default_generator()
    dtype = _float_dtype("rand", dtype)
    return _make(
        "rand", shape, dtype, device, requires_grad, lambda b, s, d: b.random_uniform(s, d, rng)
    )


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None, device=None
) -> Tensor:
    """Evenly spaced values in [start, stop); int64 when all arguments are ints."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if integral else float32
    dev = resolve_device(device)
    return Tensor._make(dev.backend.arange(start, stop, step, as_dtype(dtype, "arange")), dev)


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return ones(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: float, dtype: Any = None) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=x.device)


def randn_like(x: Tensor, dtype: Any = None) -> Tensor:
    dtype = dtype or (x.dtype if x.dtype in FLOAT_DTYPES else float32)
    return randn(x.shape, dtype=dtype, device=x.device)
