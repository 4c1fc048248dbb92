"""Comparisons, logical and bool bitwise ops, the truth reductions `any` and `all`, the float
predicates (isnan, isinf, ...) and `nan_to_num`, composed from `compare`, `where` and `sum`.

Their bool results are constants of the graph, as in PyTorch; `nan_to_num` alone carries a
gradient (1 where an entry is kept, 0 where it is replaced).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from backprop.ops.arithmetic import abs as magnitude
from backprop.ops.arithmetic import compare, neg, sub, where
from backprop.ops.common import (
    NUMBER_TYPES,
    broadcast_shape,
    normalize_axes,
    operands,
    require_tensor,
)
from backprop.ops.reduction import reduce
from backprop.ops.shape import clone
from backprop.tensor import FLOAT_DTYPES, Tensor, bool_, common_device, torch_names

# -- comparisons: the torch spellings of ==, !=, <, <=, >, >= ------------------------------------


def eq(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise x == y as a bool tensor, as `torch.eq`."""
    return compare("eq", x, y)


def ne(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise x != y as a bool tensor, as `torch.ne`."""
    return compare("ne", x, y)


def lt(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise x < y as a bool tensor, as `torch.lt`."""
    return compare("lt", x, y)


def le(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise x <= y as a bool tensor, as `torch.le`."""
    return compare("le", x, y)


def gt(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise x > y as a bool tensor, as `torch.gt`."""
    return compare("gt", x, y)


def ge(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise x >= y as a bool tensor, as `torch.ge`."""
    return compare("ge", x, y)


# -- logical ops: any dtype, non-zero (NaN included) counts as true ------------------------------


def _truth(op: str, x: Tensor) -> Tensor:
    """`x` as a bool tensor: itself when bool, else x != 0 (NaN is true, as in PyTorch)."""
    require_tensor(op, x)
    return x if x.dtype == bool_ else compare("ne", x, 0)


def _truth_pair(op: str, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Both operands of a logical op as bool tensors on one device whose shapes broadcast."""
    require_tensor(op, x)
    require_tensor(op, y)
    common_device(op, (x, y))
    broadcast_shape(op, x.shape, y.shape)
    return _truth(op, x), _truth(op, y)


def logical_not(x: Tensor) -> Tensor:
    """Elementwise not of the truth of `x`, as `torch.logical_not`."""
    return compare("eq", _truth("logical_not", x), False)


def logical_and(x: Tensor, y: Tensor) -> Tensor:
    """Elementwise and of the truths of `x` and `y`, as `torch.logical_and`."""
    a, b = _truth_pair("logical_and", x, y)
    return where(a, b, a)


def logical_or(x: Tensor, y: Tensor) -> Tensor:
    """Elementwise or of the truths of `x` and `y`, as `torch.logical_or`."""
    a, b = _truth_pair("logical_or", x, y)
    return where(a, a, b)


def logical_xor(x: Tensor, y: Tensor) -> Tensor:
    """Elementwise exclusive or of the truths of `x` and `y`, as `torch.logical_xor`."""
    a, b = _truth_pair("logical_xor", x, y)
    return compare("ne", a, b)


# -- bitwise ops: ~ on bool and integer tensors, &, |, ^ on bool tensors -------------------------


def bitwise_not(x: Tensor) -> Tensor:
    """`~x`: logical not of a bool tensor, and of an integer tensor its bitwise not, -x - 1
    in two's complement (exact, with wrap-around, for every int64 and int32)."""
    require_tensor("bitwise_not", x)
    if x.dtype == bool_:
        return logical_not(x)
    if x.dtype.kind == "i":
        return sub(neg(x), 1)
    raise TypeError(
        f"bitwise_not: ~ is defined on bool and integer tensors, got a {x.dtype} tensor; "
        "use logical_not for the truth of floats"
    )


def _bool_operands(op: str, x: Tensor | bool, y: Tensor | bool) -> tuple[Tensor, Tensor]:
    x, y = operands(op, x, y)
    if x.dtype != bool_:
        raise TypeError(
            f"{op}: only bool tensors are supported (integer bitwise ops have no backend "
            f"primitive), got {x.dtype}; use logical_and, logical_or or logical_xor for truths"
        )
    return x, y


def bitwise_and(x: Tensor | bool, y: Tensor | bool) -> Tensor:
    """`x & y` of bool tensors (the same as `logical_and`), as `torch.bitwise_and`."""
    a, b = _bool_operands("bitwise_and", x, y)
    return where(a, b, a)


def bitwise_or(x: Tensor | bool, y: Tensor | bool) -> Tensor:
    """`x | y` of bool tensors (the same as `logical_or`), as `torch.bitwise_or`."""
    a, b = _bool_operands("bitwise_or", x, y)
    return where(a, a, b)


def bitwise_xor(x: Tensor | bool, y: Tensor | bool) -> Tensor:
    """`x ^ y` of bool tensors (the same as `logical_xor`), as `torch.bitwise_xor`."""
    a, b = _bool_operands("bitwise_xor", x, y)
    return compare("ne", a, b)


# -- truth reductions ----------------------------------------------------------------------------


@torch_names(dim="axis", keepdim="keepdims")
def any(x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
    """Whether any entry over `axis` is true (non-zero), as a bool tensor, as `torch.any`; an
    empty axis gives False. A count of true entries on the device, no host read."""
    axes = normalize_axes("any", axis, require_tensor("any", x).ndim)
    return compare("gt", reduce("sum", _truth("any", x), axes, keepdims), 0)


@torch_names(dim="axis", keepdim="keepdims")
def all(x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
    """Whether every entry over `axis` is true (non-zero), as a bool tensor, as `torch.all`;
    an empty axis gives True. A count of false entries on the device, no host read."""
    axes = normalize_axes("all", axis, require_tensor("all", x).ndim)
    return compare("eq", reduce("sum", logical_not(x), axes, keepdims), 0)


# -- float predicates: integer and bool tensors are never NaN or infinite ------------------------


def isnan(x: Tensor) -> Tensor:
    """Where `x` is NaN, as `torch.isnan` (NaN alone is not equal to itself)."""
    require_tensor("isnan", x)
    return compare("ne", x, x)


def isinf(x: Tensor) -> Tensor:
    """Where `x` is +inf or -inf, as `torch.isinf`."""
    require_tensor("isinf", x)
    if x.dtype not in FLOAT_DTYPES:
        return compare("ne", x, x)
    return compare("eq", magnitude(x.detach()), math.inf)


def isfinite(x: Tensor) -> Tensor:
    """Where `x` is neither NaN nor infinite, as `torch.isfinite`."""
    require_tensor("isfinite", x)
    if x.dtype not in FLOAT_DTYPES:
        return compare("eq", x, x)
    return compare("lt", magnitude(x.detach()), math.inf)


def isposinf(x: Tensor) -> Tensor:
    """Where `x` is +inf, as `torch.isposinf`."""
    require_tensor("isposinf", x)
    if x.dtype not in FLOAT_DTYPES:
        return compare("ne", x, x)
    return compare("eq", x, math.inf)


def isneginf(x: Tensor) -> Tensor:
    """Where `x` is -inf, as `torch.isneginf`."""
    require_tensor("isneginf", x)
    if x.dtype not in FLOAT_DTYPES:
        return compare("ne", x, x)
    return compare("eq", x, -math.inf)


def nan_to_num(
    x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """`x` with NaN, +inf and -inf replaced by `nan`, `posinf` and `neginf` (by default 0 and
    the dtype's largest and lowest finite values), as `torch.nan_to_num`; the gradient is 1
    where an entry is kept and 0 where it is replaced. Integer and bool tensors are copied."""
    require_tensor("nan_to_num", x)
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if value is not None and not isinstance(value, NUMBER_TYPES):
            raise TypeError(f"nan_to_num: {name} must be a number or None, got {value!r}")
    if x.dtype not in FLOAT_DTYPES:
        return clone(x)
    limits = np.finfo(x.dtype)
    posinf = float(limits.max) if posinf is None else posinf
    neginf = float(limits.min) if neginf is None else neginf
    result = where(isneginf(x), neginf, x)
    result = where(isposinf(x), posinf, result)
    return where(isnan(x), nan, result)
