"""Normalisation: layer_norm, group_norm, batch_norm and instance_norm (with their in-place
update of the running statistics) and local_response_norm."""

from __future__ import annotations

import math
from collections.abc import Sequence

from backprop.autograd import no_grad
from backprop.nn.functional._checks import _cells, _float_input, _tensor_argument
from backprop.nn.functional.padding import pad
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
    _float_input("layer_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or input.shape[input.ndim - len(shape) :] != shape:
        raise ValueError(
            f"layer_norm: normalized_shape {shape} must be the trailing axes of the input "
            f"{input.shape}"
        )
    _check_per_feature("layer_norm", input, shape, weight=weight, bias=bias)
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
    _float_input("group_norm", input)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an (N, C, *) input, got {input.shape}")
    n, channels = input.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if channels % num_groups:
        raise ValueError(
            f"group_norm: the input's {channels} channels must be divisible by num_groups "
            f"({num_groups})"
        )
    _check_per_feature("group_norm", input, (channels,), weight=weight, bias=bias)
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
    _float_input("batch_norm", input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an (N, C, ...) input, got {input.shape}")
    channels = input.shape[1]
    _check_per_feature(
        "batch_norm",
        input,
        (channels,),
        running_mean=running_mean,
        running_var=running_var,
        weight=weight,
        bias=bias,
    )
    axes = (0, *range(2, input.ndim))
    per_channel = (1, channels) + (1,) * (input.ndim - 2)
    if training or running_mean is None or running_var is None:
        count = math.prod(input.shape[axis] for axis in axes)
        if count == 1 and training:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input {input.shape}"
            )
        if count == 0:  # an empty batch: an empty result; the running statistics stay
            return _scale_and_shift(input, weight, bias, per_channel)
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
    return _scale_and_shift((input - mean) / (var + eps).sqrt(), weight, bias, per_channel)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalises each channel of each sample of an (N, C, ...) input over its positions. With
    `use_input_stats` it uses each instance's mean and variance and, where running statistics
    are given, blends into them in place the batch average of the instances' mean and unbiased
    variance (`(1 - momentum) * running + momentum * average`), as PyTorch; otherwise it uses
    the running statistics. Then scales and shifts each channel by `weight` and `bias`."""
    _float_input("instance_norm", input)
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expected an (N, C, *) input with positions, got {input.shape}"
        )
    n, channels = input.shape[:2]
    _check_per_feature(
        "instance_norm",
        input,
        (channels,),
        running_mean=running_mean,
        running_var=running_var,
        weight=weight,
        bias=bias,
    )
    per_channel = (1, channels) + (1,) * (input.ndim - 2)
    if use_input_stats:
        count = math.prod(input.shape[2:])
        if count == 1:
            raise ValueError(
                f"instance_norm: expected more than 1 position per instance when using the "
                f"input's statistics, got input {input.shape}"
            )
        axes = tuple(range(2, input.ndim))
        mean = input.mean(axis=axes, keepdims=True)
        var = input.var(axis=axes, keepdims=True, correction=0)
        if running_mean is not None and running_var is not None:
            with no_grad():
                unbiased = var * (count / max(count - 1, 1))
                _blend(running_mean, mean.reshape(n, channels).mean(axis=0), momentum)
                _blend(running_var, unbiased.reshape(n, channels).mean(axis=0), momentum)
    elif running_mean is None or running_var is None:
        raise ValueError(
            "instance_norm: running_mean and running_var must be given when use_input_stats "
            "is False"
        )
    else:
        mean = running_mean.reshape(per_channel)
        var = running_var.reshape(per_channel)
    return _scale_and_shift((input - mean) / (var + eps).sqrt(), weight, bias, per_channel)


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """Divides each entry of an (N, C, ...) input by (k + alpha * mean of the squares of the
    `size` channels around it) ** beta, the window zero-padded at the edges, as
    `torch.nn.functional.local_response_norm` (AlexNet's normalisation across channels)."""
    _float_input("local_response_norm", input)
    if input.ndim < 3:
        raise ValueError(
            f"local_response_norm: expected an input of 3 or more dimensions (N, C, *), got "
            f"{input.shape}"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    if input.numel() == 0:
        return input
    channels = input.shape[1]
    widths = (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2)
    squares = pad(input * input, widths)
    window = _cells(squares, 1, 0, channels)
    for shift in range(1, size):
        window = window + _cells(squares, 1, shift, shift + channels)
    return input / (window * (alpha / size) + k) ** beta


def _scale_and_shift(
    x: Tensor, weight: Tensor | None, bias: Tensor | None, per_channel: tuple[int, ...]
) -> Tensor:
    """`x * weight + bias` with each of them, where given, one value per channel."""
    if weight is not None:
        x = x * weight.reshape(per_channel)
    if bias is not None:
        x = x + bias.reshape(per_channel)
    return x


def _check_per_feature(op: str, input: Tensor, shape: tuple, **tensors: Tensor | None) -> None:
    """Each of the optional per-feature `tensors` (weight and bias, or the running statistics),
    where given, must be a Tensor of `shape`."""
    for name, tensor in tensors.items():
        if tensor is None:
            continue
        _tensor_argument(op, name, tensor)
        if tensor.shape != shape:
            raise ValueError(
                f"{op}: {name} must have shape {shape} for an input of {input.shape}, "
                f"got {tensor.shape}"
            )


def _blend(running: Tensor, batch: Tensor, momentum: float | Tensor) -> None:
    """`running = (1 - momentum) * running + momentum * batch`, in place."""
    updated = running * (1 - momentum) + batch.detach().to(dtype=running.dtype) * momentum
    running.backend.assign(running.data, updated.data)
