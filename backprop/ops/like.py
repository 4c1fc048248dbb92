"""Ops that take their dtype or shape from another tensor: type_as, expand_as, view_as."""

from __future__ import annotations

import numpy as np

from backprop.ops.movement import astype, broadcast_to, reshape
from backprop.tensor import Tensor


def _other(op: str, other: object) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
    return other


def type_as(x: Tensor, other: Tensor) -> Tensor:
    """`x` in `other`'s dtype (itself when it already has it), as `torch.Tensor.type_as`;
    differentiable between float dtypes."""
    return astype(x, _other("type_as", other).dtype)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """`x` broadcast to `other`'s shape, as `torch.Tensor.expand_as`."""
    shape = _other("expand_as", other).shape
    try:
        fits = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"expand_as: cannot expand a tensor of shape {x.shape} to {shape}")
    return broadcast_to(x, shape)


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """`x` reshaped to `other`'s shape, as `torch.Tensor.view_as`."""
    shape = _other("view_as", other).shape
    if x.numel() != other.numel():
        raise ValueError(
            f"view_as: cannot view a tensor of shape {x.shape} ({x.numel()} elements) as shape "
            f"{shape} ({other.numel()} elements)"
        )
    return reshape(x, shape)
