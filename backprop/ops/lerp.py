"""Linear interpolation between two tensors, as `torch.lerp`."""

from __future__ import annotations

from backprop.ops.arithmetic import abs as magnitude
from backprop.ops.arithmetic import compare, where
from backprop.ops.common import NUMBER_TYPES, broadcast_shape, require_float
from backprop.ops.movement import astype
from backprop.tensor import Tensor, common_device


def lerp(start: Tensor, end: Tensor, weight: Tensor | float) -> Tensor:
    """start + weight * (end - start), broadcasting all three, as `torch.lerp`: where
    |weight| >= 0.5 it is computed as end - (end - start) * (1 - weight), PyTorch's form,
    which gives `end` exactly at weight 1. Differentiable in all three.

    As in PyTorch there is no type promotion but for a scalar weight: `end` and a weight
    tensor with dimensions must have start's dtype; a 0-d weight tensor is cast to it."""
    require_float("lerp", start, end)
    if end.dtype != start.dtype:
        raise TypeError(
            f"lerp: end must have the dtype {start.dtype} of start, got {end.dtype}; "
            "convert it with .to(dtype)"
        )
    common_device("lerp", (start, end))
    broadcast_shape("lerp", start.shape, end.shape)
    if isinstance(weight, NUMBER_TYPES):
        weight = float(weight)
        if abs(weight) < 0.5:
            return start + weight * (end - start)
        return end - (end - start) * (1 - weight)
    if not isinstance(weight, Tensor):
        raise TypeError(f"lerp: weight must be a number or a Tensor, got {type(weight).__name__}")
    if weight.ndim == 0:
        weight = astype(weight, start.dtype)
    if weight.dtype != start.dtype:
        raise TypeError(
            f"lerp: weight must have the dtype {start.dtype} of start and end (or be 0-d), got "
            f"{weight.dtype}; convert it with .to(dtype)"
        )
    common_device("lerp", (start, end, weight))
    broadcast_shape("lerp", start.shape, end.shape, weight.shape)
    small = compare("lt", magnitude(weight.detach()), 0.5)
    near_start = start + weight * (end - start)
    near_end = end - (end - start) * (1 - weight)
    return where(small, near_start, near_end)
