"""Rounding to integers: floor, ceil, round (half to even, with `decimals`), trunc and frac.

The backend has no rounding primitive, so the forward rounds with float adds alone: for
|x| < 2**m (m the mantissa bits: 52 for float64, 23 for float32) adding and then subtracting
2**m with x's sign leaves x rounded to the nearest integer, ties to even, because the spacing
of floats between 2**m and 2**(m + 1) is exactly 1. Any larger float, an infinity and NaN are
already their own rounding and pass through. This is exact for every value, unlike a cast to
int64 (which overflows beyond 2**63 and truncates negative values towards zero).

The gradients are PyTorch's: zero for floor, ceil, round and trunc, one for frac.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop.autograd import Function
from backprop.ops.shape import clone
from backprop.tensor import FLOAT_DTYPES, Tensor, bool_


class Rounding(Function):
    """floor, ceil, round or trunc of a float array; the gradient is zero, as in PyTorch."""

    def __init__(self, mode: str):
        self.mode = mode

    @property
    def name(self) -> str:
        return self.mode

    def forward(self, x):
        return round_array(self.backend, x, self.mode)

    def backward(self, gy):
        return Tensor._make(self.backend.zeros(gy.shape, gy.dtype), gy.device)


def round_array(backend: Any, x: Any, mode: str) -> Any:
    """`x` (a float backend array) rounded to integers by `mode`, keeping the sign of zero
    as C's floor, ceil, nearbyint and trunc do."""
    b = backend

    def const(value: float) -> Any:
        return b.full((), value, x.dtype)

    magic = 2.0 ** np.finfo(x.dtype).nmant
    inside = b.compare("lt", b.unary("abs", x), const(magic))  # False for NaN and infinities
    small = b.where(inside, x, const(0.0))  # the rest pass through: no inf arithmetic below
    negative = b.compare("lt", small, const(0.0))
    shift = b.where(negative, const(-magic), const(magic))
    nearest = b.binary("sub", b.binary("add", small, shift), shift)
    one = const(1.0)
    if mode == "floor":
        nearest = b.where(b.compare("gt", nearest, small), b.binary("sub", nearest, one), nearest)
    elif mode == "ceil":
        nearest = b.where(b.compare("lt", nearest, small), b.binary("add", nearest, one), nearest)
    elif mode == "trunc":
        overshot = b.compare("gt", b.unary("abs", nearest), b.unary("abs", small))
        toward_zero = b.where(negative, one, const(-1.0))
        nearest = b.where(overshot, b.binary("add", nearest, toward_zero), nearest)
    zero = b.compare("eq", nearest, const(0.0))
    nearest = b.where(zero, b.binary("mul", small, const(0.0)), nearest)  # zero keeps x's sign
    return b.where(inside, nearest, x)


def _rounding(mode: str, x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{mode}: expected a Tensor, got {type(x).__name__}")
    if x.dtype == bool_:
        raise TypeError(f"{mode}: bool tensors are not supported, as in PyTorch")
    if x.dtype not in FLOAT_DTYPES:
        return clone(x)  # an integer is its own rounding, as in PyTorch
    return Rounding(mode)(x)


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x, elementwise, as `torch.floor` (zero gradient)."""
    return _rounding("floor", x)


def ceil(x: Tensor) -> Tensor:
    """The smallest integer >= x, elementwise, as `torch.ceil` (zero gradient)."""
    return _rounding("ceil", x)


def trunc(x: Tensor) -> Tensor:
    """x rounded towards zero, elementwise, as `torch.trunc` (zero gradient)."""
    return _rounding("trunc", x)


def round(x: Tensor, decimals: int = 0) -> Tensor:
    """x rounded to `decimals` decimal places, halves to even, as `torch.round`: with
    decimals the nearest integer of x * 10**decimals divided back (of x / 10**-decimals
    multiplied back when negative), in x's dtype, as PyTorch computes it (zero gradient)."""
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    if decimals == 0:
        return _rounding("round", x)
    if not isinstance(x, Tensor) or x.dtype not in FLOAT_DTYPES:
        got = f"a {x.dtype} tensor" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"round: decimals needs a float32 or float64 tensor, got {got}")
    scale = float(10 ** abs(int(decimals)))
    if decimals > 0:
        return Rounding("round")(x * scale) / scale
    return Rounding("round")(x / scale) * scale


def frac(x: Tensor) -> Tensor:
    """The fractional part x - trunc(x), with x's sign, as `torch.frac` (gradient one)."""
    if not isinstance(x, Tensor) or x.dtype not in FLOAT_DTYPES:
        got = f"a {x.dtype} tensor" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"frac: expected a float32 or float64 tensor, got {got}")
    return x - Rounding("trunc")(x.detach())
