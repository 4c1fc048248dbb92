"""Checks and conversions every op shares: operand lifting, dtype and shape validation, axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.tensor import FLOAT_DTYPES, Tensor, bool_, float32, int64

NUMBER_TYPES = (bool, int, float, np.number, np.bool_)


# Type promotion, as `torch.result_type`: the categories bool < integer < float; tensors with
# dimensions outrank 0-d tensors, which outrank Python numbers (and NumPy arrays on the other
# side of an operator). A Python number stands for its category's default dtype.
_CATEGORY = {"b": 0, "i": 1, "f": 2}
_NUMBER_DTYPES = {"b": bool_, "i": int64, "f": float32}


def _category(dtype: np.dtype) -> int:
    return _CATEGORY[dtype.kind]


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of two operands of one priority: the higher category's, else the wider."""
    if _category(a) != _category(b):
        return a if _category(a) > _category(b) else b
    return a if a.itemsize >= b.itemsize else b


def _priority_and_dtype(op: str, value: Any) -> tuple[int, np.dtype]:
    """How strongly `value` decides the result dtype (2: a tensor with dimensions, 1: a 0-d
    tensor, 0: a number or a NumPy array), and the dtype it stands for."""
    if isinstance(value, Tensor):
        return (2 if value.ndim else 1), value.dtype
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{op}: cannot use a NumPy array of dtype {value.dtype} as an operand")
        return 0, _NUMBER_DTYPES[value.dtype.kind.replace("u", "i")]
    if not isinstance(value, NUMBER_TYPES) or np.dtype(type(value)).kind not in "biuf":
        raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")
    return 0, _NUMBER_DTYPES[np.dtype(type(value)).kind.replace("u", "i")]


def is_bool(value: Any) -> bool:
    """Whether an operand is a bool: a bool tensor, a bool NumPy array or a bool number."""
    if isinstance(value, (Tensor, np.ndarray)):
        return value.dtype == bool_
    return isinstance(value, (bool, np.bool_))


def result_type(op: str, *values: Any) -> np.dtype:
    """The dtype PyTorch gives an op on `values` (Tensors, numbers, NumPy arrays), as
    `torch.result_type`: the widest dtype of the highest-priority operands, unless an operand
    of lower priority has a higher category, whose dtype then wins (int tensor + 2.5 is
    float32, float32 tensor + float64 0-d tensor stays float32)."""
    by_priority: dict[int, np.dtype] = {}
    for value in values:
        priority, dtype = _priority_and_dtype(op, value)
        held = by_priority.get(priority)
        by_priority[priority] = dtype if held is None else _promote(held, dtype)
    result = None
    for priority in sorted(by_priority, reverse=True):
        dtype = by_priority[priority]
        if result is None or _category(dtype) > _category(result):
            result = dtype
    return result


def lift(value: Any, like: Tensor, dtype: np.dtype) -> Tensor:
    """A Python number as a 0-d constant, or a NumPy array as a constant copy, of `dtype` on
    `like`'s device, made there with no host transfer for a number (as PyTorch does for
    `x * 2.0`); a Tensor as is."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._make(like.backend.from_host(np.array(value, dtype=dtype)), like.device)
    return Tensor._make(like.backend.full((), value, dtype), like.device)


def operands(op: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as Tensors of their PyTorch result type (`result_type`)
    whose shapes broadcast; a tensor of another dtype is cast by the differentiable `astype`,
    so its gradient comes back in its own dtype, and one of the result type is not copied."""
    if isinstance(x, Tensor) and isinstance(y, Tensor) and x.dtype == y.dtype:
        broadcast_shape(op, x.shape, y.shape)  # the common case, with nothing to promote
        return x, y
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor operand")
    dtype = result_type(op, x, y)
    like = x if isinstance(x, Tensor) else y
    x, y = lift(x, like, dtype), lift(y, like, dtype)
    broadcast_shape(op, x.shape, y.shape)
    return x.to(dtype=dtype), y.to(dtype=dtype)


def require_tensor(op: str, x: Any) -> Tensor:
    """`x`, once checked to be a Tensor: the first check of an op that takes one."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


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
