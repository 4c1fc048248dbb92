"""Checks and conversions every op shares: operand lifting, dtype and shape validation, axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.tensor import FLOAT_DTYPES, Tensor

NUMBER_TYPES = (bool, int, float, np.number)


def lift(op: str, value: Any, like: Tensor) -> Tensor:
    """A Tensor as is, a Python number as a 0-d constant on `like`'s device, or a NumPy array
    as a constant copied there.

    The constant is made on the device (no host transfer) in `like`'s dtype, as PyTorch does
    for `x * 2.0`; a float number with an integer tensor becomes float32 and then fails the
    dtype check with a clear message.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        # Host data on the other side of an operator (`ndarray * tensor`): a constant copied
        # to the tensor's device, taking its dtype by the same rule as a Python number.
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{op}: cannot use a NumPy array of dtype {value.dtype} as an operand")
        dtype = like.dtype
        if value.dtype.kind == "f" and dtype not in FLOAT_DTYPES:
            dtype = np.dtype("float32")
        return Tensor._make(like.backend.from_host(np.array(value, dtype=dtype)), like.device)
    if not isinstance(value, NUMBER_TYPES):
        raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")
    dtype = like.dtype
    if isinstance(value, (float, np.floating)) and dtype not in FLOAT_DTYPES:
        dtype = np.dtype("float32")
    return Tensor._make(like.backend.full((), value, dtype), like.device)


def operands(op: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as Tensors of one dtype whose shapes broadcast."""
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor operand")
    x = lift(op, x, y) if not isinstance(x, Tensor) else x
    y = lift(op, y, x)
    if x.dtype != y.dtype:
        raise TypeError(
            f"{op}: operands have different dtypes, {x.dtype} {x.shape} and {y.dtype} {y.shape}; "
            "convert one with .to(dtype)"
        )
    broadcast_shape(op, x.shape, y.shape)
    return x, y


def broadcast_shape(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(s) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together") from None


def require_float(op: str, *tensors: Tensor) -> None:
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
        if tensor.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"{op}: expected a float32 or float64 tensor, got {tensor.dtype} {tensor.shape}"
            )


def normalize_axis(op: str, axis: int, ndim: int) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"{op}: axis {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % max(ndim, 1)


def normalize_axes(op: str, axes: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints; None means every axis. A 0-d tensor
    accepts axis 0 or -1, as in PyTorch, and has no axes to reduce."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    result = tuple(sorted(normalize_axis(op, int(a), ndim) for a in axes))
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {tuple(axes)}")
    return result if ndim else ()
