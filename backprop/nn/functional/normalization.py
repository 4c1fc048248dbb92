"""Normalisation: layer_norm, group_norm and batch_norm (with its in-place update of the
running statistics)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from backprop.autograd import no_grad
from backprop.ops.common import require_float
from backprop.tensor import Tensor


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalises over the trailing `normalized_shape` axes to zero mean and unit variance,
    then scales by `weight` and shifts by `bias` (both of `normalized_shape`)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or input.shape[input.ndim - len(shape) :] != shape:
        raise ValueError(
            f"layer_norm: normalized_shape {shape} must be the trailing axes of the input "
            f"{input.shape}"
        )
    require_float("layer_norm", input)
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    mean = input.mean(axis=axes, keepdims=True)
    var = input.var(axis=axes, keepdims=True, correction=0)
    out = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Splits the channels (axis 1) of an (N, C, ...) input into `num_groups` groups and
    normalises each sample's group, over its channels and every position, to zero mean and unit
    variance; then scales and shifts each channel by `weight` and `bias` (both of shape (C,))."""
    if not isinstance(input, Tensor) or input.ndim < 2:
        got = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"group_norm: expected an (N, C, *) input, got {got}")
    require_float("group_norm", input)
    n, channels = input.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if channels % num_groups:
        raise ValueError(
            f"group_norm: the input's {channels} channels must be divisible by num_groups "
            f"({num_groups})"
        )
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.shape != (channels,):
            raise ValueError(
                f"group_norm: {name} must have shape ({channels},) for an input of "
                f"{input.shape}, got {tensor.shape}"
            )
    per_group = channels // num_groups * math.prod(input.shape[2:])  # no -1: n may be 0
    grouped = input.reshape(n, num_groups, per_group)
    mean = grouped.mean(axis=2, keepdims=True)
    var = grouped.var(axis=2, keepdims=True, correction=0)
    out = ((grouped - mean) / (var + eps).sqrt()).reshape(input.shape)
    per_channel = (1, channels) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | Tensor = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalises each channel (axis 1) of an (N, C, ...) input. In training, or without
    running statistics, with the batch's mean and variance, and then updates the running
    statistics in place (`(1 - momentum) * running + momentum * batch`, the unbiased variance;
    `momentum` may be a 0-d tensor on the device); otherwise with the running statistics."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an (N, C, ...) input, got {input.shape}")
    require_float("batch_norm", input)
    channels = input.shape[1]
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var)):
        if tensor is not None and tensor.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},) for an input of "
                f"{input.shape}, got {tensor.shape}"
            )
    axes = (0, *range(2, input.ndim))
    per_channel = (1, channels) + (1,) * (input.ndim - 2)
    if training or running_mean is None or running_var is None:
        count = input.size // channels
        if count < 2 and training:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input {input.shape}"
            )
        mean = input.mean(axis=axes, keepdims=True)
        var = input.var(axis=axes, keepdims=True, correction=0)
        if training and running_mean is not None and running_var is not None:
            with no_grad():
                unbiased = var.reshape(channels) * (count / max(count - 1, 1))
                _blend(running_mean, mean.reshape(channels), momentum)
                _blend(running_var, unbiased, momentum)
    else:
        mean = running_mean.reshape(per_channel)
        var = running_var.reshape(per_channel)
    out = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


def _blend(running: Tensor, batch: Tensor, momentum: float | Tensor) -> None:
    """`running = (1 - momentum) * running + momentum * batch`, in place."""
    updated = running * (1 - momentum) + batch.detach().to(dtype=running.dtype) * momentum
    running.backend.assign(running.data, updated.data)
