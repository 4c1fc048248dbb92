"""Reductions over axes: sum, mean, max, min (differentiable) and argmax (an index, no grad)."""

from __future__ import annotations

from collections.abc import Sequence

from backprop.autograd import Function
from backprop.ops.arithmetic import compare, mask
from backprop.ops.common import normalize_axes, normalize_axis, require_float
from backprop.ops.movement import broadcast_to, reshape
from backprop.tensor import Tensor


class Reduce(Function):
    """sum / mean / max / min over `axes`; max and min share the gradient among ties."""

    def __init__(self, op: str, axes: tuple[int, ...], keepdims: bool):
        self.op, self.axes, self.keepdims = op, axes, keepdims

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


def reduce(
    op: str, x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False
) -> Tensor:
    axes = normalize_axes(op, axis, x.ndim)
    if op == "mean" or x.requires_grad:
        require_float(op, x)
    if op in ("max", "min") and x.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape}")
    return Reduce(op, axes, keepdims)(x)


def var(
    x: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False, correction: int = 1
) -> Tensor:
    """Variance over `axis` with `correction` (1: unbiased, 0: population), as PyTorch."""
    axes = normalize_axes("var", axis, x.ndim)
    count = _count(x.shape, axes)
    centred = x - reduce("mean", x, axes, True)
    return reduce("sum", centred * centred, axes, keepdims) / max(count - correction, 0)


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor when axis is None)."""
    if axis is not None:
        axis = normalize_axis("argmax", axis, x.ndim)
    if x.size == 0:
        raise ValueError(f"argmax: cannot reduce an empty tensor of shape {x.shape}")
    return Tensor._make(x.backend.argmax(x.data, axis, keepdims), x.device)
