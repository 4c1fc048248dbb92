"""`import backprop.nn.functional as F`: everything in `backprop.functional` plus the functions
behind the layers (convolution, pooling, normalisation, embedding), with PyTorch's names and
arguments. All of them are compositions of differentiable Tensor ops, so they run on every
backend and can be differentiated to any order."""

from __future__ import annotations

from collections.abc import Sequence

from backprop import ops
from backprop.autograd import no_grad
from backprop.creation import full, ones
from backprop.functional import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    elu,
    gelu,
    l1_loss,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from backprop.ops.common import require_float
from backprop.ops.conv import col2im, grid_size, im2col, pair
from backprop.tensor import Tensor

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "fold",
    "gelu",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    "unfold",
]

IntPair = int | Sequence[int]

unfold = im2col
fold = col2im


def _image(op: str, x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4:
        got = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{op}: expected an (N, C, H, W) input, got {got}")
    require_float(op, x)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) with weight (O, C, kh, kw): im2col, then one
    matrix product with the weight as an (O, C * kh * kw) matrix."""
    _image("conv2d", input)
    if not isinstance(weight, Tensor) or weight.ndim != 4 or weight.shape[1] != input.shape[1]:
        got = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(
            f"conv2d: weight must be (out_channels, {input.shape[1]}, kh, kw) for an input with "
            f"{input.shape[1]} channels, got {got}"
        )
    out_channels, _, kh, kw = weight.shape
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"conv2d: bias must have shape ({out_channels},), got {bias.shape}")
    geometry = (
        (kh, kw),
        pair("conv2d", "stride", stride, 1),
        pair("conv2d", "padding", padding, 0),
        pair("conv2d", "dilation", dilation, 1),
    )
    height, width = grid_size("conv2d", input.shape[2:], *geometry)
    cols = im2col(input, *geometry)
    out = ops.matmul(weight.reshape(out_channels, -1), cols)
    if bias is not None:
        out = out + bias.reshape(out_channels, 1)
    return out.reshape(input.shape[0], out_channels, height, width)


def _pool_geometry(op: str, kernel_size, stride, padding, dilation) -> tuple:
    """(kernel, stride, padding, dilation) of a pool; stride defaults to the kernel size."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    geometry = (
        kernel,
        pair(op, "stride", kernel if stride is None else stride, 1),
        pair(op, "padding", padding, 0),
        pair(op, "dilation", dilation, 1),
    )
    if any(2 * p > k for p, k in zip(geometry[2], kernel)):
        raise ValueError(f"{op}: padding {geometry[2]} must be at most half the kernel {kernel}")
    return geometry


def _windows(x: Tensor, kernel, stride, padding, dilation) -> Tensor:
    """Every window of every channel of (N, C, H, W) as a column: (N * C, kh * kw, OH * OW)."""
    n, c, h, w = x.shape
    return im2col(x.reshape(n * c, 1, h, w), kernel, stride, padding, dilation)


def max_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """The largest value of each window; padding never wins (it is -inf, as in PyTorch)."""
    _image("max_pool2d", input)
    kernel, stride, padding, dilation = _pool_geometry(
        "max_pool2d", kernel_size, stride, padding, dilation
    )
    n, c, h, w = input.shape
    height, width = grid_size("max_pool2d", (h, w), kernel, stride, padding, dilation)
    cols = _windows(_pad(input, padding, float("-inf")), kernel, stride, 0, dilation)
    return cols.max(axis=1).reshape(n, c, height, width)


def avg_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window; zero padding counts towards it unless `count_include_pad`
    is False."""
    _image("avg_pool2d", input)
    geometry = _pool_geometry("avg_pool2d", kernel_size, stride, padding, 1)
    n, c, h, w = input.shape
    height, width = grid_size("avg_pool2d", (h, w), *geometry)
    cols = _windows(input, *geometry)
    if count_include_pad:
        pooled = cols.mean(axis=1)
    else:
        inside = ones(1, 1, h, w, dtype=input.dtype, device=input.device)
        pooled = cols.sum(axis=1) / _windows(inside, *geometry).sum(axis=1)
    return pooled.reshape(n, c, height, width)


def _pad(x: Tensor, padding: tuple[int, int], value: float) -> Tensor:
    """`x` with `padding` rows and columns of `value` on each side of its last two axes."""
    ph, pw = padding
    n, c, h, w = x.shape
    if ph:
        band = full((n, c, ph, w), value, dtype=x.dtype, device=x.device)
        x = ops.concatenate([band, x, band], axis=2)
    if pw:
        band = full((n, c, h + 2 * ph, pw), value, dtype=x.dtype, device=x.device)
        x = ops.concatenate([band, x, band], axis=3)
    return x


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


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalises each channel (axis 1) of an (N, C, ...) input. In training, or without
    running statistics, with the batch's mean and variance, and then updates the running
    statistics in place (`(1 - momentum) * running + momentum * batch`, the unbiased variance);
    otherwise with the running statistics."""
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


def _blend(running: Tensor, batch: Tensor, momentum: float) -> None:
    """`running = (1 - momentum) * running + momentum * batch`, in place."""
    updated = running * (1 - momentum) + batch.detach().to(dtype=running.dtype) * momentum
    running.backend.assign(running.data, updated.data)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by the integer `input`: output shape
    `input.shape + (dim,)`. The gradient adds into the picked rows, except `padding_idx`'s."""
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"embedding: input must be an integer Tensor of indices, got {got}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, dim), got {weight.shape}")
    out = weight[input]
    if padding_idx is not None:
        padding = (input == padding_idx).reshape(*input.shape, 1)
        out = ops.where(padding, out.detach(), out)
    return out
