"""Reductions over axes: sum, mean, max, min and those built on them (var, std, norm,
logsumexp, prod), all differentiable, and argmax and argmin (indices, no grad)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.autograd import Function
from backprop.ops.arithmetic import abs, compare, exp, log, mask, sqrt, where
from backprop.ops.common import NUMBER_TYPES, normalize_axes, require_float
from backprop.ops.movement import astype, broadcast_to, concatenate, permute, reshape
from backprop.tensor import Tensor, torch_names


class Reduce(Function):
    """sum / mean / max / min over `axes`; max and min share the gradient among ties."""

    def __init__(self, op: str, axes: tuple[int, ...], keepdims: bool):
        self.op, self.axes, self.keepdims = op, axes, keepdims
        self.reads_input_values = op in ("max", "min")  # a sum's gradient needs the shape only

    @property
    def name(self) -> str:
        return self.op

    def forward(self, x):
        result = self.backend.reduce(self.op, x, self.axes, self.keepdims)
        if self.op in ("max", "min"):
            self.result = result
        return result

    def backward(self, gy):
        x = self.inputs[0]
        kept = tuple(1 if i in self.axes else s for i, s in enumerate(x.shape))
        spread = broadcast_to(reshape(gy, kept), x.shape)
        if self.op == "sum":
            return spread
        if self.op == "mean":
            return spread * (1.0 / max(_count(x.shape, self.axes), 1))
        extreme = reshape(Tensor._make(self.result, gy.device), kept)
        hits = mask(compare("eq", x.detach(), extreme), x.dtype)
        return spread * hits / Reduce("sum", self.axes, True)(hits)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count


@torch_names(dim="axis", keepdim="keepdims")
def reduce(
    op: str, x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False
) -> Tensor:
    axes = normalize_axes(op, axis, x.ndim)
    if op == "mean" or x.requires_grad:
        require_float(op, x)
    if op in ("max", "min"):
        _check_reduced_axes(op, x, axes)
    return Reduce(op, axes, keepdims)(x)


def _check_reduced_axes(op: str, x: Tensor, axes: tuple[int, ...]) -> None:
    """A max, min, argmax or argmin has no value over an empty axis; an empty tensor reduced
    over non-empty axes gives an empty result, as in PyTorch."""
    if _count(x.shape, axes) == 0:
        raise ValueError(
            f"{op}: cannot reduce an empty tensor of shape {x.shape} over axes {axes}, "
            "which have no entries"
        )


@torch_names(dim="axis", keepdim="keepdims")
def var(
    x: Tensor,
    axis: int | Sequence[int] | bool | None = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    *,
    correction: int | None = None,
) -> Tensor:
    """Variance over `axis`, as `torch.var`: `correction` 1 (the default, unbiased) or 0
    (population), or PyTorch's older positional `unbiased`, so `var(x, 0, False)` and
    `var(x, False)` are population variances there and here alike."""
    axis, correction = _variance_options("var", axis, unbiased, correction)
    axes = normalize_axes("var", axis, x.ndim)
    count = _count(x.shape, axes)
    centred = x - reduce("mean", x, axes, True)
    return reduce("sum", centred * centred, axes, keepdims) / max(count - correction, 0)


def _variance_options(
    op: str, axis: Any, unbiased: bool | None, correction: int | None
) -> tuple[Any, int]:
    """The axes and the correction of a var or std from PyTorch's two spellings: `correction`,
    or the older `unbiased` (a bool given where the axis goes is `unbiased`, as in PyTorch)."""
    if isinstance(axis, bool):
        if unbiased is not None:
            raise TypeError(f"{op}: dim must be an int or a sequence of ints, got {axis!r}")
        axis, unbiased = None, axis
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}: give either unbiased or correction, not both")
    if unbiased is not None and not isinstance(unbiased, (bool, np.bool_)):
        raise TypeError(f"{op}: unbiased must be a bool, got {unbiased!r}")
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    if isinstance(correction, bool) or not isinstance(correction, (int, np.integer)):
        raise TypeError(f"{op}: correction must be an int, got {correction!r}")
    if correction < 0:
        raise ValueError(f"{op}: correction must be non-negative, got {correction}")
    return axis, int(correction)


@torch_names(dim="axis", keepdim="keepdims")
def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor when axis is None)."""
    axis = _index_axis("argmax", x, axis)
    return Tensor._make(x.backend.argmax(x.data, axis, keepdims), x.device)


def _index_axis(op: str, x: Tensor, axis: int | None) -> int | None:
    """The axis of an argmax or argmin made non-negative (None, the flattened tensor, stays
    None), once the entries it reduces are checked to exist."""
    axes = normalize_axes(op, axis, x.ndim)
    _check_reduced_axes(op, x, axes)
    if axis is None:
        return None
    return axes[0] if axes else 0  # a 0-d tensor's axis 0 or -1 reduces nothing


@torch_names(dim="axis", keepdim="keepdims")
def amax(x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
    """The largest entry over `axis`, as `torch.amax`: ties share the gradient evenly."""
    return reduce("max", x, axis, keepdims)


@torch_names(dim="axis", keepdim="keepdims")
def amin(x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
    """The smallest entry over `axis`, as `torch.amin`: ties share the gradient evenly."""
    return reduce("min", x, axis, keepdims)


@torch_names(dim="axis", keepdim="keepdims")
def argmin(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest element (of the flattened tensor when axis is None): the argmax
    of an order-reversed copy: -x for floats, and for integers -x - 1, the bitwise not of x,
    which reverses their order. That relies on two's-complement wrap-around: for the most
    negative int and for unsigned ints -x - 1 overflows, and the wrapped result is still ~x."""
    if x.dtype == bool:
        raise TypeError("argmin: bool tensors are not supported, as in PyTorch")
    axis = _index_axis("argmin", x, axis)
    reversed_order = -x.detach() if x.dtype.kind == "f" else -x - 1
    return Tensor._make(x.backend.argmax(reversed_order.data, axis, keepdims), x.device)


@torch_names(dim="axis", keepdim="keepdims")
def std(
    x: Tensor,
    axis: int | Sequence[int] | bool | None = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    *,
    correction: int | None = None,
) -> Tensor:
    """Standard deviation over `axis`, with `var`'s options, as `torch.std`; its gradient is
    0, not NaN, where the entries are all equal."""
    require_float("std", x)
    axis, correction = _variance_options("std", axis, unbiased, correction)
    return _sqrt_zero_grad_at_zero(var(x, axis, None, keepdims, correction=correction))


def _sqrt_zero_grad_at_zero(x: Tensor) -> Tensor:
    """sqrt(x) with gradient 0 where x = 0, as PyTorch gives for std and the 2-norm, where
    sqrt's own gradient is infinite. The zeros go to a branch whose gradient `where` drops."""
    zero = compare("eq", x, 0.0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, x)))


def _pow_zero_grad_at_zero(x: Tensor, p: float) -> Tensor:
    """x ** p for x >= 0, with gradient 0 where x = 0 (PyTorch's, where x ** p can have an
    infinite one)."""
    zero = compare("eq", x, 0.0)
    return where(zero, 0.0, where(zero, 1.0, x) ** p)


@torch_names(dim="axis", keepdim="keepdims")
def norm(
    x: Tensor,
    p: float | str = 2,
    axis: int | Sequence[int] | None = None,
    keepdims: bool = False,
) -> Tensor:
    """The p-norm over `axis` (all of `x` when None), as `Tensor.norm`: p = 2 ('fro'), 1, inf
    (the largest magnitude), -inf (the smallest) or any other positive number. The gradient
    is 0 where the norm is 0 and, for p other than ±inf, at zero entries, as in PyTorch."""
    require_float("norm", x)
    p = 2 if isinstance(p, str) and p == "fro" else p
    valid = isinstance(p, NUMBER_TYPES) and not isinstance(p, bool) and (p > 0 or p == -math.inf)
    if not valid:
        raise ValueError(f"norm: p must be a positive number, inf, -inf or 'fro', got {p!r}")
    axes = normalize_axes("norm", axis, x.ndim)
    magnitude = abs(x)
    if p in (math.inf, -math.inf):
        if _count(x.shape, axes) == 0:
            raise ValueError(
                f"norm: the {p} norm over an empty axis (tensor of shape {x.shape}) is not "
                "defined, as a maximum or minimum of nothing"
            )
        return reduce("max" if p > 0 else "min", magnitude, axes, keepdims)
    if p == 1:
        return reduce("sum", magnitude, axes, keepdims)
    if p == 2:
        return _sqrt_zero_grad_at_zero(reduce("sum", x * x, axes, keepdims))
    total = reduce("sum", _pow_zero_grad_at_zero(magnitude, p), axes, keepdims)
    return _pow_zero_grad_at_zero(total, 1.0 / p)


@torch_names(dim="axis", keepdim="keepdims")
def logsumexp(x: Tensor, axis: int | Sequence[int] | None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis`, as `torch.logsumexp`: shifted by the maximum so that
    nothing overflows; a slice of all -inf gives -inf and one holding inf gives inf."""
    require_float("logsumexp", x)
    axes = normalize_axes("logsumexp", axis, x.ndim)
    if x.numel() == 0:
        return log(reduce("sum", exp(x), axes, keepdims))
    peak = reduce("max", x.detach(), axes, True)
    peak = where(compare("lt", abs(peak), math.inf), peak, 0.0)
    total = reduce("sum", exp(x - peak), axes, keepdims)
    return log(total) + reshape(peak, total.shape)


@torch_names(dim="axis", keepdim="keepdims")
def prod(x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
    """The product over `axis`, as `torch.prod`; int64 for bool and integer tensors. It
    multiplies the two halves of the reduced entries together until one is left, so the
    gradient (each entry's product of the others) comes from the multiplications themselves:
    exact where entries are 0, and with no division or host read."""
    axes = normalize_axes("prod", axis, x.ndim)
    if x.requires_grad:
        require_float("prod", x)
    if x.dtype.kind in "biu":
        x = astype(x, np.dtype(np.int64))  # as PyTorch, and as `sum` gives
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    kept_shape = tuple(x.shape[i] for i in kept)
    rows = reshape(permute(x, kept + axes), kept_shape + (_count(x.shape, axes),))
    if rows.shape[-1] == 0:
        result = reduce("sum", rows, -1) + 1  # the empty product
    else:
        while rows.shape[-1] > 1:
            rows = _multiply_halves(rows)
        result = reshape(rows, kept_shape)
    if keepdims:
        return reshape(result, tuple(1 if i in axes else s for i, s in enumerate(x.shape)))
    return result


def _multiply_halves(rows: Tensor) -> Tensor:
    """The first half of the last axis times the second; an odd last entry is carried over."""
    length = rows.shape[-1]
    half = length // 2
    paired = rows[..., :half] * rows[..., half : 2 * half]
    return concatenate([paired, rows[..., 2 * half :]], -1) if length % 2 else paired
