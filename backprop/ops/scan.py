"""Cumulative sums, products and log-sum-exps along an axis, as log-step scans (Hillis and
Steele): step k combines every entry with the one 2**k places before it, so after
ceil(log2(n)) steps each entry holds its whole prefix. A step is two slices, one elementwise op
and a concatenate (the first 2**k entries are already done and are carried over as they are),
so a scan is O(log n) differentiable ops with no backend primitive of its own, differentiable
to any order; cumprod's gradient comes from the multiplications alone, exact where entries are
0 (no division)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from backprop.ops.arithmetic import abs, add, compare, exp, log, maximum, mul, where
from backprop.ops.common import normalize_axis, require_float
from backprop.ops.movement import astype, concatenate
from backprop.tensor import Tensor, int64, torch_names


@torch_names(dim="axis")
def cumsum(x: Tensor, axis: int) -> Tensor:
    """The running sum along `axis`, as `torch.cumsum`; bool and integer tensors give int64."""
    x, axis = _scan_input("cumsum", x, axis)
    return _scan(x, axis, add)


@torch_names(dim="axis")
def cumprod(x: Tensor, axis: int) -> Tensor:
    """The running product along `axis`, as `torch.cumprod`; bool and integer tensors give
    int64. Its gradient is exact where entries are 0."""
    x, axis = _scan_input("cumprod", x, axis)
    return _scan(x, axis, mul)


@torch_names(dim="axis")
def logcumsumexp(x: Tensor, axis: int) -> Tensor:
    """log(cumsum(exp(x))) along `axis`, as `torch.logcumsumexp`, each step shifted by the
    larger of its two terms so that nothing overflows or underflows to -inf early."""
    x, axis = _scan_input("logcumsumexp", x, axis)
    require_float("logcumsumexp", x)
    return _scan(x, axis, _log_add_exp)


def _scan_input(op: str, x: Tensor, axis: int) -> tuple[Tensor, int]:
    """The tensor to scan (bool and integers widened to int64, as PyTorch) and the axis."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    axis = normalize_axis(op, int(axis), x.ndim)
    if x.dtype.kind in "biu":
        x = astype(x, int64)
    return x, axis


def _scan(x: Tensor, axis: int, combine: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """The inclusive prefix scan of `x` along `axis` with the associative `combine`."""
    if x.ndim == 0:
        return x
    length, prefix, shift = x.shape[axis], (slice(None),) * axis, 1
    while shift < length:
        earlier = x[prefix + (slice(None, length - shift),)]
        later = x[prefix + (slice(shift, None),)]
        x = concatenate([x[prefix + (slice(None, shift),)], combine(earlier, later)], axis)
        shift *= 2
    return x


def _log_add_exp(a: Tensor, b: Tensor) -> Tensor:
    """log(exp(a) + exp(b)), shifted by the larger term. The shift is held constant (the
    result does not depend on it), so the gradient is exact; two -inf give -inf."""
    peak = maximum(a.detach(), b.detach())
    peak = where(compare("lt", abs(peak), math.inf), peak, 0.0)
    return log(exp(a - peak) + exp(b - peak)) + peak
