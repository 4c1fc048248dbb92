"""`import backprop.nn.functional as F`: everything in `backprop.functional` plus the functions
behind the layers (convolution, pooling, normalisation, embedding), with PyTorch's names and
arguments. All of them are compositions of differentiable Tensor ops, so they run on every
backend and can be differentiated to any order."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from backprop import ops
from backprop.autograd import no_grad
from backprop.creation import arange, full, ones, zeros
from backprop.functional import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    elu,
    gelu,
    huber_loss,
    kl_div,
    l1_loss,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    relu,
    sigmoid,
    silu,
    smooth_l1_loss,
    softmax,
    softplus,
    tanh,
)
from backprop.nn.attention import scaled_dot_product_attention
from backprop.ops.common import normalize_axis, require_float
from backprop.ops.conv import (
    col2im,
    conv1d_padding,
    conv_padding,
    grid_size,
    im2col,
    pair,
    single,
)
from backprop.random import default_generator
from backprop.tensor import Tensor, common_device, float64, int64

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "fold",
    "gelu",
    "glu",
    "group_norm",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool1d",
    "max_pool2d",
    "max_unpool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "pad",
    "pixel_shuffle",
    "pixel_unshuffle",
    "prelu",
    "relu",
    "relu6",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
    "tanhshrink",
    "unfold",
]

IntPair = int | Sequence[int]
PAD_MODES = ("constant", "reflect", "replicate", "circular")

unfold = im2col
fold = col2im


def _image(op: str, x: Tensor) -> None:
    _check_input(op, x, "(N, C, H, W)")


def _check_input(op: str, x: Tensor, layout: str) -> None:
    """`x` must be a float tensor with as many axes as `layout` (such as "(N, C, L)") names."""
    if not isinstance(x, Tensor) or x.ndim != layout.count(",") + 1:
        got = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{op}: expected an {layout} input, got {got}")
    require_float(op, x)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) with weight (O, C / groups, kh, kw): im2col, then
    one matrix product per group of channels. `padding` is zeros on both sides (an int or a
    pair), 'valid' (none) or 'same' (the output keeps the input's size; stride 1 only)."""
    _image("conv2d", input)
    _check_groups("conv2d", input, groups)
    _check_conv_weight("conv2d", input, weight, groups)
    n = input.shape[0]
    out_channels, _, kh, kw = weight.shape
    _check_bias("conv2d", bias, out_channels)
    stride = pair("conv2d", "stride", stride, 1)
    dilation = pair("conv2d", "dilation", dilation, 1)
    left, right, top, bottom = conv_padding("conv2d", padding, (kh, kw), stride, dilation)
    if (right, bottom) != (left, top):
        input = pad(input, (0, right - left, 0, bottom - top))
    geometry = ((kh, kw), stride, (top, left), dilation)
    height, width = grid_size("conv2d", input.shape[2:], *geometry)
    cols = im2col(input, *geometry).reshape(n, groups, -1, height * width)
    out = ops.matmul(weight.reshape(groups, out_channels // groups, -1), cols)
    out = out.reshape(n, out_channels, height * width)
    if bias is not None:
        out = out + bias.reshape(out_channels, 1)
    return out.reshape(n, out_channels, height, width)


def _check_groups(op: str, input: Tensor, groups: int) -> None:
    """`groups` must be a positive int that divides the input's channels."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if input.shape[1] % groups:
        raise ValueError(
            f"{op}: the input's {input.shape[1]} channels must be divisible by groups ({groups})"
        )


def _check_conv_weight(op: str, input: Tensor, weight: Tensor, groups: int) -> None:
    """The weight must be (O, C / groups, *kernel) with O divisible by groups, as in PyTorch."""
    per_group = input.shape[1] // groups
    if (
        not isinstance(weight, Tensor)
        or weight.ndim != input.ndim
        or weight.shape[1] != per_group
        or weight.shape[0] % groups
    ):
        got = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        kernel = "k" if input.ndim == 3 else "kh, kw"
        raise ValueError(
            f"{op}: weight must be (out_channels, {per_group}, {kernel}) with out_channels "
            f"divisible by groups ({groups}) for an input with {input.shape[1]} channels, "
            f"got {got}"
        )


def _check_bias(op: str, bias: Tensor | None, out_channels: int) -> None:
    """The bias, when given, must hold one value per output channel."""
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (out_channels,)):
        got = bias.shape if isinstance(bias, Tensor) else type(bias).__name__
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {got}")


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation of (N, C, L) with weight (O, C / groups, k): `conv2d` on the
    (N, C, 1, L) view with a (1, k) kernel, so it runs wherever conv2d does. `padding` is zeros
    at both ends (an int), 'valid' (none) or 'same' (the output keeps the length; stride 1)."""
    _check_input("conv1d", input, "(N, C, L)")
    _check_groups("conv1d", input, groups)
    _check_conv_weight("conv1d", input, weight, groups)
    n, channels, length = input.shape
    out_channels, _, kernel = weight.shape
    _check_bias("conv1d", bias, out_channels)
    stride = single("conv1d", "stride", stride, 1)
    dilation = single("conv1d", "dilation", dilation, 1)
    left, right = conv1d_padding("conv1d", padding, kernel, stride, dilation)
    if length + left + right < dilation * (kernel - 1) + 1:
        raise ValueError(
            f"conv1d: an input of length {length} padded by ({left}, {right}) is shorter than "
            f"the kernel {kernel} dilated by {dilation}"
        )
    out = conv2d(
        input.reshape(n, channels, 1, length),
        weight.reshape(out_channels, channels // groups, 1, kernel),
        bias,
        (1, stride),
        padding if isinstance(padding, str) else (0, left),
        (1, dilation),
        groups,
    )
    return out.reshape(n, out_channels, out.shape[3])


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> Tensor:
    """The adjoint of `conv2d` (its gradient with respect to the input), as PyTorch's
    conv_transpose2d: weight (C, O / groups, kh, kw). Each input pixel's weighted kernel is
    added into the output by col2im; `padding` then crops each border and `output_padding`
    adds rows and columns at the bottom and right, so an axis of size n becomes
    (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""
    _image("conv_transpose2d", input)
    _check_groups("conv_transpose2d", input, groups)
    n, channels, height, width = input.shape
    if not isinstance(weight, Tensor) or weight.ndim != 4 or weight.shape[0] != channels:
        got = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(
            f"conv_transpose2d: weight must be ({channels}, out_channels / groups, kh, kw) for "
            f"an input with {channels} channels, got {got}"
        )
    _, per_group, kh, kw = weight.shape
    _check_bias("conv_transpose2d", bias, per_group * groups)
    stride = pair("conv_transpose2d", "stride", stride, 1)
    padding = pair("conv_transpose2d", "padding", padding, 0)
    output_padding = pair("conv_transpose2d", "output_padding", output_padding, 0)
    dilation = pair("conv_transpose2d", "dilation", dilation, 1)
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"conv_transpose2d: output_padding {output_padding} must be smaller than either "
            f"stride {stride} or dilation {dilation} along each axis"
        )
    full = tuple(
        (i - 1) * s + d * (k - 1) + 1
        for i, s, d, k in zip((height, width), stride, dilation, (kh, kw))
    )
    size = tuple(f - 2 * p + o for f, p, o in zip(full, padding, output_padding))
    if min(size) < 1:
        raise ValueError(
            f"conv_transpose2d: an input of height and width {(height, width)} would give an "
            f"empty output {size}: padding {padding} crops more than the {full} it makes"
        )
    x = input.reshape(n, groups, channels // groups, height * width)
    w = weight.reshape(groups, channels // groups, per_group * kh * kw).transpose(1, 2)
    cols = ops.matmul(w, x).reshape(n, per_group * groups * kh * kw, height * width)
    out = col2im(cols, full, (kh, kw), stride, 0, dilation)
    (top, left), (bottom, right) = padding, output_padding
    out = pad(out, (-left, right - left, -top, bottom - top))
    if bias is not None:
        out = out + bias.reshape(per_group * groups, 1, 1)
    return out


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


def _pool_grid(op: str, size, kernel, stride, padding, dilation, ceil_mode: bool) -> tuple:
    """The (height, width) of a pool's output, and the cells to add past the bottom and right
    padding for it. With `ceil_mode` a partial last window counts as long as it starts inside
    the input or the left padding (PyTorch's rule)."""
    floor = grid_size(op, size, kernel, stride, padding, dilation)
    if not ceil_mode:
        return floor, (0, 0)
    grid, extra = [], []
    for s, k, st, p, d in zip(size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        count = -(-(s + 2 * p - span) // st) + 1
        if (count - 1) * st >= s + p:  # the last window would start in the right padding
            count -= 1
        grid.append(count)
        extra.append(max(0, (count - 1) * st + span - (s + 2 * p)))
    return tuple(grid), tuple(extra)


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
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The largest value of each window; padding never wins (it is -inf, as in PyTorch).
    `ceil_mode` rounds the output size up, keeping partial windows at the bottom and right.
    The gradient goes to the first largest cell of a window, as in PyTorch. `return_indices`
    also returns where each value came from: its flat index into its (H * W) plane, int64,
    as `max_unpool2d` takes it."""
    _image("max_pool2d", input)
    geometry = _pool_geometry("max_pool2d", kernel_size, stride, padding, dilation)
    return _max_pool("max_pool2d", input, *geometry, ceil_mode, return_indices)


def max_pool1d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """`max_pool2d` along the last axis of (N, C, L), on the (N, C, 1, L) view; the indices
    are positions along L."""
    _check_input("max_pool1d", input, "(N, C, L)")
    geometry = _pool1d_geometry("max_pool1d", input, kernel_size, stride, padding, dilation)
    n, c, length = input.shape
    out = _max_pool(
        "max_pool1d", input.reshape(n, c, 1, length), *geometry, ceil_mode, return_indices
    )
    if return_indices:
        return out[0].reshape(n, c, -1), out[1].reshape(n, c, -1)
    return out.reshape(n, c, -1)


def _pool1d_geometry(op: str, input: Tensor, kernel_size, stride, padding, dilation) -> tuple:
    """The 2-D (kernel, stride, padding, dilation) of a 1-D pool over the (N, C, 1, L) view."""
    kernel = single(op, "kernel_size", kernel_size, 1)
    step = single(op, "stride", kernel if stride is None else stride, 1)
    width = single(op, "padding", padding, 0)
    spacing = single(op, "dilation", dilation, 1)
    if 2 * width > kernel:
        raise ValueError(f"{op}: padding {width} must be at most half the kernel {kernel}")
    length = input.shape[2]
    if length + 2 * width < spacing * (kernel - 1) + 1:
        raise ValueError(
            f"{op}: an input of length {length} padded by {width} is shorter than the kernel "
            f"{kernel} dilated by {spacing}"
        )
    return (1, kernel), (1, step), (0, width), (1, spacing)


def _max_pool(
    op: str, input: Tensor, kernel, stride, padding, dilation, ceil_mode: bool, indices: bool
) -> Tensor | tuple[Tensor, Tensor]:
    """max_pool2d with checked geometry: the argmax of each window column picks the value (so
    the gradient flows to that cell alone) and, with `indices`, its position."""
    n, c, h, w = input.shape
    grid, (eh, ew) = _pool_grid(op, (h, w), kernel, stride, padding, dilation, ceil_mode)
    ph, pw = padding
    widths = (pw, pw + ew, ph, ph + eh)
    cols = _windows(pad(input, widths, value=float("-inf")), kernel, stride, 0, dilation)
    if input.size == 0:  # no window to take an argmax of
        values = cols.sum(axis=1).reshape(n, c, *grid)
        return (
            (values, zeros(values.shape, dtype=int64, device=input.device)) if indices else values
        )
    winners = cols.argmax(axis=1, keepdims=True)
    values = ops.gather(cols, 1, winners).reshape(n, c, *grid)
    if not indices:
        return values
    positions = _winner_positions(input, widths, kernel, stride, dilation, winners)
    return values, positions.reshape(n, c, *grid)


def _winner_positions(input: Tensor, widths, kernel, stride, dilation, winners: Tensor) -> Tensor:
    """The flat index into the (H * W) plane of each window's winning cell (`winners`: its place
    in the window column, (N * C, 1, L)): an image of cell numbers goes through the same padding
    and windows, and the winners pick from it. Its padding repeats the edge, so a window of
    -inf points at its first cell inside the input, as in PyTorch. All on the device."""
    h, w = input.shape[2:]
    plane = arange(h * w, dtype=float64, device=input.device).reshape(1, 1, h, w)
    cells = _windows(pad(plane, widths, mode="replicate"), kernel, stride, 0, dilation)
    count = cells.shape[2]
    picks = winners.reshape(-1, count) * count + arange(count, device=input.device)
    return cells.reshape(-1)[picks].to(dtype=int64)


def max_unpool2d(
    input: Tensor,
    indices: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    output_size: Sequence[int] | None = None,
) -> Tensor:
    """The inverse of `max_pool2d(..., return_indices=True)`: zeros with each value put back at
    its flat index into its (H * W) plane. The size is (in - 1) * stride - 2 * padding + kernel
    along each axis, or `output_size` (H, W) (or (N, C, H, W)) within a stride of it. A cell that
    several windows picked (overlapping windows) gets their mean: the pooled value, as PyTorch
    keeps one of them; each then gets its share of that cell's gradient, where PyTorch gives
    each the whole. Indices are not bounds-checked (that would read the device)."""
    _image("max_unpool2d", input)
    if not isinstance(indices, Tensor) or indices.dtype != int64 or indices.shape != input.shape:
        got = f"{indices.dtype} {indices.shape}" if isinstance(indices, Tensor) else indices
        raise ValueError(
            f"max_unpool2d: indices must be an int64 Tensor shaped like the input "
            f"{input.shape}, got {got}"
        )
    common_device("max_unpool2d", (input, indices))
    kernel = pair("max_unpool2d", "kernel_size", kernel_size, 1)
    stride = pair("max_unpool2d", "stride", kernel if stride is None else stride, 1)
    padding = pair("max_unpool2d", "padding", padding, 0)
    height, width = _unpool_size(input.shape[2:], kernel, stride, padding, output_size)
    n, c = input.shape[:2]
    values = input.reshape(n * c, -1)
    where = indices.reshape(n * c, -1)
    empty = zeros(n * c, height * width, dtype=input.dtype, device=input.device)
    sums = ops.scatter_add(empty, 1, where, values)
    counts = ops.scatter_add(
        empty, 1, where, ones(values.shape, dtype=input.dtype, device=input.device)
    )
    return (sums / counts.maximum(1.0)).reshape(n, c, height, width)


def _unpool_size(size, kernel, stride, padding, output_size) -> tuple[int, int]:
    """max_unpool2d's (height, width): the default, or `output_size` checked against it."""
    default = tuple((i - 1) * s + k - 2 * p for i, s, k, p in zip(size, stride, kernel, padding))
    if output_size is None:
        if min(default) < 1:
            raise ValueError(
                f"max_unpool2d: an input of height and width {size} unpools to an empty "
                f"{default} with kernel {kernel}, stride {stride} and padding {padding}"
            )
        return default
    sizes = tuple(output_size) if isinstance(output_size, Sequence) else None
    if sizes is not None and len(sizes) == 4:
        sizes = sizes[2:]
    if sizes is None or len(sizes) != 2 or not all(isinstance(v, int) for v in sizes):
        raise ValueError(
            f"max_unpool2d: output_size must be (H, W) or (N, C, H, W) ints, got {output_size!r}"
        )
    for axis, (wanted, natural, step) in enumerate(zip(sizes, default, stride)):
        if not natural - step < wanted < natural + step or wanted < 1:
            raise ValueError(
                f"max_unpool2d: output_size {tuple(output_size)} is out of range: axis {axis} "
                f"must be between {max(natural - step, 0)} and {natural + step} (exclusive)"
            )
    return sizes


def avg_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window; zero padding counts towards it unless `count_include_pad`
    is False. `ceil_mode` rounds the output size up; the cells a partial window reaches past
    the padding never count, as in PyTorch. `divisor_override` divides every window's sum by
    that number instead."""
    _image("avg_pool2d", input)
    kernel, stride, padding, _ = _pool_geometry("avg_pool2d", kernel_size, stride, padding, 1)
    return _avg_pool(
        "avg_pool2d",
        input,
        kernel,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool1d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """`avg_pool2d` along the last axis of (N, C, L), on the (N, C, 1, L) view."""
    _check_input("avg_pool1d", input, "(N, C, L)")
    kernel, stride, padding, _ = _pool1d_geometry(
        "avg_pool1d", input, kernel_size, stride, padding, 1
    )
    n, c, length = input.shape
    view = input.reshape(n, c, 1, length)
    out = _avg_pool("avg_pool1d", view, kernel, stride, padding, ceil_mode, count_include_pad, None)
    return out.reshape(n, c, -1)


def _avg_pool(
    op: str,
    input: Tensor,
    kernel,
    stride,
    padding,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Tensor:
    """avg_pool2d with checked geometry: each window column's sum over its divisor."""
    if divisor_override is not None and (
        isinstance(divisor_override, bool)
        or not isinstance(divisor_override, int)
        or divisor_override == 0
    ):
        raise ValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
    n, c, h, w = input.shape
    (height, width), extra = _pool_grid(op, (h, w), kernel, stride, padding, (1, 1), ceil_mode)
    cols = _windows(_pad_end(input, extra), kernel, stride, padding, 1)
    if divisor_override is not None:
        pooled = cols.sum(axis=1) / divisor_override
    elif count_include_pad and extra == (0, 0):
        pooled = cols.mean(axis=1)
    else:
        counted = _cells_counted(input, kernel, stride, padding, extra, count_include_pad)
        pooled = cols.sum(axis=1) / counted
    return pooled.reshape(n, c, height, width)


def adaptive_avg_pool2d(input: Tensor, output_size: int | Sequence[int | None]) -> Tensor:
    """The mean of each of `output_size` (oh, ow) windows that tile the image as PyTorch's do:
    window i along an axis of n cells spans [floor(i * n / o), ceil((i + 1) * n / o)), so they
    overlap where o does not divide n. None keeps that axis's size; (1, 1) is global average
    pooling."""
    _image("adaptive_avg_pool2d", input)
    sizes = _adaptive_sizes("adaptive_avg_pool2d", input, output_size)
    for axis, size in zip((2, 3), sizes):
        input = _adaptive_mean(input, axis, size)
    return input


def adaptive_avg_pool1d(input: Tensor, output_size: int | Sequence[int]) -> Tensor:
    """`adaptive_avg_pool2d` along the last axis of (N, C, L): `output_size` windows."""
    _check_input("adaptive_avg_pool1d", input, "(N, C, L)")
    return _adaptive_mean(input, 2, single("adaptive_avg_pool1d", "output_size", output_size, 1))


def adaptive_max_pool2d(
    input: Tensor, output_size: int | Sequence[int | None], return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """The largest value of each of `output_size` (oh, ow) windows, placed as
    `adaptive_avg_pool2d` places them. Each row's first largest cell is found in every column
    window, then the first row whose largest is the window's: the first largest cell in
    row-major order, which gets the gradient, as in PyTorch. `return_indices` also returns its
    flat index into the (H * W) plane, int64."""
    _image("adaptive_max_pool2d", input)
    out_height, out_width = _adaptive_sizes("adaptive_max_pool2d", input, output_size)
    if input.size == 0:  # no cell to take an argmax of
        out = adaptive_avg_pool2d(input, (out_height, out_width))
        return (out, zeros(out.shape, dtype=int64, device=input.device)) if return_indices else out
    width = input.shape[3]
    row_maxima, columns = [], []
    for start, stop in _adaptive_windows(width, out_width):
        window = input[..., start:stop]
        first = window.argmax(axis=3, keepdims=True)
        row_maxima.append(ops.gather(window, 3, first))
        columns.append(first + start)
    row_max, column = ops.concatenate(row_maxima, 3), ops.concatenate(columns, 3)
    maxima, indices = [], []
    for start, stop in _adaptive_windows(input.shape[2], out_height):
        band = row_max[:, :, start:stop]
        first = band.argmax(axis=2, keepdims=True)
        maxima.append(ops.gather(band, 2, first))
        indices.append((first + start) * width + ops.gather(column[:, :, start:stop], 2, first))
    out = ops.concatenate(maxima, 2)
    return (out, ops.concatenate(indices, 2)) if return_indices else out


def _adaptive_sizes(op: str, input: Tensor, output_size) -> tuple[int, int]:
    """An adaptive pool's (oh, ow); None keeps the input's size along that axis."""
    sizes = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2 or not all(
        size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 1)
        for size in sizes
    ):
        raise ValueError(
            f"{op}: output_size must be a positive int or a pair of positive ints "
            f"or None, got {output_size!r}"
        )
    return tuple(input.shape[axis] if size is None else size for axis, size in zip((2, 3), sizes))


def _adaptive_windows(length: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of PyTorch's `size` adaptive windows over `length` cells."""
    return [(i * length // size, -(-(i + 1) * length // size)) for i in range(size)]


def _adaptive_mean(x: Tensor, axis: int, size: int) -> Tensor:
    """`x` with axis `axis` reduced to `size` window means (rectangular windows are separable,
    so pooling rows and then columns gives each 2-D window's mean)."""
    length = x.shape[axis]
    if length % size == 0:
        split = x.shape[:axis] + (size, length // size) + x.shape[axis + 1 :]
        return x.reshape(split).mean(axis=axis + 1)
    before = (slice(None),) * axis
    windows = [
        x[before + (slice(start, stop),)].mean(axis=axis, keepdims=True)
        for start, stop in _adaptive_windows(length, size)
    ]
    return ops.concatenate(windows, axis)


def _cells_counted(
    input: Tensor, kernel, stride, padding, extra, count_include_pad: bool
) -> Tensor:
    """How many cells each avg_pool2d window divides by: the input's it covers, and the
    padding's when `count_include_pad`; never the cells ceil_mode adds past the padding."""
    h, w = input.shape[2:]
    border = padding if count_include_pad else (0, 0)
    inside = ones(
        1, 1, h + 2 * border[0], w + 2 * border[1], dtype=input.dtype, device=input.device
    )
    margin = (0, 0) if count_include_pad else padding
    return _windows(_pad_end(inside, extra), kernel, stride, margin, 1).sum(axis=1)


def _pad_end(x: Tensor, extra: tuple[int, int]) -> Tensor:
    """`x` with `extra` (rows, columns) of zeros after the bottom and the right edge."""
    return pad(x, (0, extra[1], 0, extra[0])) if extra != (0, 0) else x


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """`torch.nn.functional.pad`: `pad` = (left, right, top, bottom, ...) widens the last axis by
    its first pair, the axis before by the next pair, and so on; negative widths crop.
    'constant' fills with `value`, 'reflect' mirrors about the edge without repeating it,
    'replicate' repeats the edge, 'circular' wraps around. Built from slices and concatenation,
    with no index arrays to copy to a device, so it is differentiable to any order and a step
    that pads can be captured into a CUDA graph."""
    for axis, before, after in _pad_widths(input, pad, mode, value):
        if mode == "constant":
            input = _pad_constant(input, axis, before, after, value)
        else:
            input = _pad_copies(input, axis, before, after, mode)
    return input


def _pad_widths(
    input: Tensor, pad: Sequence[int], mode: str, value: float
) -> list[tuple[int, int, int]]:
    """(axis, before, after) for every axis that `pad` changes, after checking the arguments."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected a Tensor, got {type(input).__name__}")
    widths = tuple(pad) if isinstance(pad, Sequence) else None
    if widths is None or not all(isinstance(p, int) and not isinstance(p, bool) for p in widths):
        raise TypeError(f"pad: pad must be a sequence of ints (left, right, top, ...), got {pad!r}")
    if len(widths) % 2:
        raise ValueError(
            f"pad: pad must hold (before, after) pairs, so an even number of ints, got "
            f"{len(widths)}: {widths}"
        )
    if len(widths) // 2 > input.ndim:
        raise ValueError(
            f"pad: pad {widths} widens {len(widths) // 2} axes but the input {input.shape} "
            f"has {input.ndim}"
        )
    if mode not in PAD_MODES:
        raise ValueError(
            f"pad: mode must be one of {', '.join(map(repr, PAD_MODES))}, got {mode!r}"
        )
    if mode != "constant" and value != 0:
        raise ValueError(
            f"pad: value is used by mode='constant' only, got value={value} with {mode=}"
        )
    result = []
    for i in range(len(widths) // 2):
        axis, before, after = input.ndim - 1 - i, widths[2 * i], widths[2 * i + 1]
        _check_pad_axis(input.shape, axis, before, after, mode)
        if (before, after) != (0, 0):
            result.append((axis, before, after))
    return result


def _check_pad_axis(shape: tuple, axis: int, before: int, after: int, mode: str) -> None:
    """Raises a ValueError where `mode` cannot pad axis `axis` of `shape` by (before, after)."""
    size = shape[axis]
    where = f"axis {axis} of size {size} (input {shape})"
    kept = size - max(0, -before) - max(0, -after)
    least = 0 if mode == "constant" else 1
    if kept < least:
        raise ValueError(
            f"pad: padding ({before}, {after}) crops {size - kept} cells of {where}; "
            f"mode={mode!r} needs at least {least} left"
        )
    if mode == "reflect" and max(before, after) >= size:
        raise ValueError(
            f"pad: reflect padding must be smaller than the axis it pads, got ({before}, {after}) "
            f"for {where}"
        )
    if mode == "circular" and max(before, after) > kept:
        raise ValueError(
            f"pad: circular padding can wrap around at most once, so at most {kept} cells, got "
            f"({before}, {after}) for {where}"
        )


def _pad_constant(x: Tensor, axis: int, before: int, after: int, value: float) -> Tensor:
    """`x` cropped by negative widths along `axis`, then widened by bands of `value`."""
    if before < 0 or after < 0:
        x = _cells(x, axis, max(0, -before), x.shape[axis] - max(0, -after))
    parts = [x]
    if before > 0:
        parts.insert(0, _band(x, axis, before, value))
    if after > 0:
        parts.append(_band(x, axis, after, value))
    return ops.concatenate(parts, axis) if len(parts) > 1 else x


def _band(x: Tensor, axis: int, width: int, value: float) -> Tensor:
    """A tensor of `value` shaped like `x` but `width` cells long along `axis`."""
    shape = x.shape[:axis] + (width,) + x.shape[axis + 1 :]
    return full(shape, value, dtype=x.dtype, device=x.device)


def _pad_copies(x: Tensor, axis: int, before: int, after: int, mode: str) -> Tensor:
    """`x` cropped by negative widths along `axis`, then widened by cells copied from the
    uncropped `x` ('reflect', 'replicate' or 'circular')."""
    size = x.shape[axis]
    start, stop = max(0, -before), size - max(0, -after)
    parts = [_cells(x, axis, start, stop)]
    if before > 0:
        parts.insert(0, _pad_head(x, axis, before, stop, mode))
    if after > 0:
        parts.append(_pad_tail(x, axis, after, start, mode))
    return ops.concatenate(parts, axis) if len(parts) > 1 else parts[0]


def _pad_head(x: Tensor, axis: int, width: int, stop: int, mode: str) -> Tensor:
    """The `width` cells padded before the first: copies of it ('replicate'), the cells after
    it in reverse ('reflect'), or the last kept cells, up to `stop` ('circular')."""
    if mode == "replicate":
        return _widened(_cells(x, axis, 0, 1), axis, width)
    if mode == "reflect":
        return _cells(x, axis, width, 0, -1)
    return _cells(x, axis, stop - width, stop)


def _pad_tail(x: Tensor, axis: int, width: int, start: int, mode: str) -> Tensor:
    """The `width` cells padded after the last: copies of it ('replicate'), the cells before
    it in reverse ('reflect'), or the first kept cells, from `start` ('circular')."""
    size = x.shape[axis]
    if mode == "replicate":
        return _widened(_cells(x, axis, size - 1, size), axis, width)
    if mode == "reflect":
        end = size - 2 - width  # exclusive; below 0 the reflection runs through cell 0
        return _cells(x, axis, size - 2, end if end >= 0 else None, -1)
    return _cells(x, axis, start, start + width)


def _cells(x: Tensor, axis: int, first: int, last: int | None, step: int = 1) -> Tensor:
    """`x[first:last:step]` along `axis`."""
    return x[(slice(None),) * axis + (slice(first, last, step),)]


def _widened(edge: Tensor, axis: int, width: int) -> Tensor:
    """`edge`, one cell long along `axis`, repeated `width` times along it."""
    return ops.broadcast_to(edge, edge.shape[:axis] + (width,) + edge.shape[axis + 1 :])


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


# -- activations, channel dropout, pixel shuffle and interpolation -----------------------------
#
# The activations are composed of `where` selections and the existing activations, so the
# gradient at a kink is that of the branch `where` picks there; the comparisons are chosen to
# give PyTorch's gradients at the kinks.

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")
LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}


def _float_input(op: str, input: Tensor) -> None:
    """`input` must be a float Tensor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    require_float(op, input)


def _clip(x: Tensor, low: float, high: float) -> Tensor:
    """`x` limited to [low, high] with gradient 1 strictly inside and 0 at and past the edges
    (PyTorch's hardtanh rule; `clamp` passes the gradient at the edges)."""
    return ops.where(ops.compare("le", x, low), low, ops.where(ops.compare("ge", x, high), high, x))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """`input` limited to [min_val, max_val]; the gradient is 1 strictly between them and 0 at
    them, as in PyTorch."""
    _float_input("hardtanh", input)
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val must not be greater than max_val, got {min_val} > {max_val}"
        )
    return _clip(input, min_val, max_val)


def relu6(input: Tensor) -> Tensor:
    """min(max(x, 0), 6): hardtanh on [0, 6]."""
    _float_input("relu6", input)
    return _clip(input, 0.0, 6.0)


def hardsigmoid(input: Tensor) -> Tensor:
    """A piecewise-linear sigmoid: 0 up to -3, 1 from 3, (x + 3) / 6 in between."""
    _float_input("hardsigmoid", input)
    return _clip(input + 3.0, 0.0, 6.0) / 6.0


def hardswish(input: Tensor) -> Tensor:
    """x * hardsigmoid(x); its gradient is 0 at -3 and 1 at 3, as in PyTorch."""
    _float_input("hardswish", input)
    return input * hardsigmoid(input)


def mish(input: Tensor) -> Tensor:
    """x * tanh(softplus(x))."""
    _float_input("mish", input)
    return input * ops.activation(ops.activation(input, "softplus"), "tanh")


def selu(input: Tensor) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    _float_input("selu", input)
    return SELU_SCALE * ops.activation(input, "elu", SELU_ALPHA)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x / alpha) - 1): alpha * elu(x / alpha)."""
    _float_input("celu", input)
    if not alpha > 0:
        raise ValueError(f"celu: alpha must be positive, got {alpha}")
    return alpha * ops.activation(input / alpha, "elu", 1.0)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    _float_input("softsign", input)
    return input / (1.0 + ops.abs(input))


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    _float_input("tanhshrink", input)
    return input - ops.activation(input, "tanh")


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x|: x - softplus(x) for x < 0, -softplus(-x)
    otherwise, so softplus only ever sees arguments <= 0 and never overflows."""
    _float_input("logsigmoid", input)
    negative = ops.compare("lt", input, 0.0)
    return ops.where(
        negative,
        input - ops.activation(input, "softplus"),
        -ops.activation(-input, "softplus"),
    )


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x; `weight` holds one slope, or one per channel (axis 1)."""
    _float_input("prelu", input)
    if not isinstance(weight, Tensor) or weight.ndim > 1:
        got = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"prelu: weight must be a 0-d or 1-D Tensor, got {got}")
    if weight.dtype != input.dtype:
        raise TypeError(
            f"prelu: weight dtype {weight.dtype} differs from input dtype {input.dtype}; "
            "convert it with .to(dtype)"
        )
    channels = input.shape[1] if input.ndim > 1 else 1
    if weight.size not in (1, channels):
        raise ValueError(
            f"prelu: weight has {weight.size} values but the input {input.shape} has "
            f"{channels} channels (axis 1); give 1 or {channels}"
        )
    slope = (
        weight.reshape(())
        if weight.size == 1
        else weight.reshape((channels,) + (1,) * (input.ndim - 2))
    )
    return ops.where(ops.compare("gt", input, 0.0), input, slope * input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: a * sigmoid(b), where a and b are the halves of `dim`."""
    _float_input("glu", input)
    if input.ndim == 0:
        raise ValueError("glu: a 0-d input has no axis to halve")
    axis = normalize_axis("glu", dim, input.ndim)
    size = input.shape[axis]
    if size % 2:
        raise ValueError(
            f"glu: the halved axis must have an even size, but axis {dim} of {input.shape} has "
            f"{size}"
        )
    first = _cells(input, axis, 0, size // 2)
    second = _cells(input, axis, size // 2, size)
    return first * ops.activation(second, "sigmoid")


def _check_probability(op: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")


def _keep_mask(
    x: Tensor, shape: tuple[int, ...], p: float, generator: np.random.Generator | None
) -> Tensor:
    """A bool mask of `shape` that is True with probability 1 - p, drawn as `dropout` draws
    its mask: uniform noise from `generator` (the global generator by default), kept where it
    is at least p."""
    rng = generator or default_generator()
    noise = x.backend.random_uniform(shape, x.dtype, rng)
    return Tensor._make(x.backend.compare("ge", noise, p), x.device)


def _channel_dropout(
    x: Tensor, p: float, training: bool, generator: np.random.Generator | None, channel_axis: int
) -> Tensor:
    """Zeroes whole channels of `x` (along `channel_axis`) and scales the rest by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    shape = x.shape[: channel_axis + 1] + (1,) * (x.ndim - channel_axis - 1)
    keep = _keep_mask(x, shape, p, generator)
    return ops.where(keep, x * (1.0 / (1.0 - p)), 0.0)


def dropout1d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zeroes each channel of an (N, C, L) or unbatched (C, L) input with probability `p` and
    scales the kept ones by 1 / (1 - p)."""
    _check_probability("dropout1d", p)
    _float_input("dropout1d", input)
    if input.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expected an (N, C, L) or unbatched (C, L) input, got {input.shape}"
        )
    return _channel_dropout(input, p, training, generator, input.ndim - 2)


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zeroes each channel of an (N, C, H, W) input with probability `p` and scales the kept
    ones by 1 / (1 - p). A 3-D input is taken as (N, C, L), as PyTorch takes it today (which
    warns that this will change); for unbatched or 1-D feature maps use dropout1d."""
    _check_probability("dropout2d", p)
    _float_input("dropout2d", input)
    if input.ndim not in (3, 4):
        raise ValueError(
            f"dropout2d: expected an (N, C, H, W) or (N, C, L) input, got {input.shape}; "
            "use dropout for other shapes"
        )
    return _channel_dropout(input, p, training, generator, 1)


def alpha_dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value and
    an affine map keeps the mean and variance of a standard normal input, as in PyTorch."""
    _check_probability("alpha_dropout", p)
    _float_input("alpha_dropout", input)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    saturation = SELU_ALPHA * SELU_SCALE
    scale = 1.0 / math.sqrt((saturation * saturation * p + 1) * (1 - p))
    keep = _keep_mask(input, input.shape, p, generator)
    kept = input * scale + saturation * scale * p
    return ops.where(keep, kept, saturation * scale * (p - 1))


def _check_factor(op: str, name: str, factor: int) -> None:
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {factor!r}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r * r, H, W) to (*, C, H * r, W * r): each group of r * r channels becomes an
    r x r block of pixels (a reshape and a permutation)."""
    op = "pixel_shuffle"
    _check_factor(op, "upscale_factor", upscale_factor)
    if not isinstance(input, Tensor) or input.ndim < 3:
        got = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"{op}: expected an input of shape (*, C, H, W), got {got}")
    r = upscale_factor
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise ValueError(
            f"{op}: the input's {channels} channels (axis -3 of {input.shape}) must be "
            f"divisible by upscale_factor squared ({r * r})"
        )
    lead = len(batch)
    x = input.reshape(*batch, channels // (r * r), r, r, height, width)
    x = x.permute(*range(lead + 1), lead + 3, lead + 1, lead + 4, lead + 2)
    return x.reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) to (*, C * r * r, H, W): the inverse of pixel_shuffle."""
    op = "pixel_unshuffle"
    _check_factor(op, "downscale_factor", downscale_factor)
    if not isinstance(input, Tensor) or input.ndim < 3:
        got = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"{op}: expected an input of shape (*, C, H, W), got {got}")
    r = downscale_factor
    *batch, channels, height, width = input.shape
    if height % r or width % r:
        raise ValueError(
            f"{op}: the input's height and width {(height, width)} must be divisible by "
            f"downscale_factor ({r})"
        )
    lead = len(batch)
    x = input.reshape(*batch, channels, height // r, r, width // r, r)
    x = x.permute(*range(lead + 1), lead + 2, lead + 4, lead + 1, lead + 3)
    return x.reshape(*batch, channels * r * r, height // r, width // r)


def interpolate(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    """Resizes the spatial axes of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to
    `size`, or by `scale_factor`, as `torch.nn.functional.interpolate`: 'nearest' and
    'nearest-exact' pick a cell per output position by PyTorch's source-index rules;
    'linear', 'bilinear' and 'trilinear' blend the two nearest cells along each axis, with
    `align_corners` mapping the corner cells' centres (True) or edges (False) onto each other.

    The source cells are computed on the host from the shapes alone and taken as strided
    slices, broadcasts and at most one concatenation per axis; the linear weights are computed
    on the device from `arange`. No index or weight array is copied from the host, so a step
    that interpolates can be captured into a CUDA graph."""
    op = "interpolate"
    _float_input(op, input)
    if mode not in INTERPOLATE_MODES:
        raise ValueError(
            f"{op}: mode must be one of {', '.join(map(repr, INTERPOLATE_MODES))}, got {mode!r}"
        )
    if input.ndim not in (3, 4, 5):
        raise ValueError(
            f"{op}: expected an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input, got {input.shape}"
        )
    if mode in LINEAR_MODES and input.ndim != LINEAR_MODES[mode]:
        raise ValueError(
            f"{op}: mode {mode!r} needs a {LINEAR_MODES[mode]}-D input, got {input.shape}"
        )
    if mode not in LINEAR_MODES and align_corners is not None:
        raise ValueError(
            f"{op}: align_corners applies to the linear modes only, got "
            f"align_corners={align_corners!r} with mode={mode!r}"
        )
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    for i, (out_size, scale) in enumerate(zip(sizes, scales)):
        axis, in_size = i + 2, input.shape[i + 2]
        if mode in LINEAR_MODES:
            input = _linear_axis(input, axis, out_size, scale, bool(align_corners))
        else:
            input = _take(input, axis, _nearest_sources(in_size, out_size, scale, mode))
    return input


def _output_sizes(
    input: Tensor, size, scale_factor, recompute_scale_factor: bool | None
) -> tuple[list[int], list[float | None]]:
    """The output size of each spatial axis, and the scale PyTorch hands its kernels for it
    (the scale_factor, or None where the kernels derive it from the sizes)."""
    op = "interpolate"
    spatial = input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor needs scale_factor, not size")
        sizes = _per_axis(op, "size", size, len(spatial))
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
            raise ValueError(f"{op}: size must hold positive ints, got {size!r}")
        return list(sizes), [None] * len(spatial)
    factors = _per_axis(op, "scale_factor", scale_factor, len(spatial))
    if not all(isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in factors):
        raise ValueError(f"{op}: scale_factor must hold positive numbers, got {scale_factor!r}")
    sizes = [math.floor(float(n) * f) for n, f in zip(spatial, factors)]
    if min(sizes) < 1:
        raise ValueError(
            f"{op}: scale_factor {scale_factor!r} gives an empty output {tuple(sizes)} for the "
            f"input {input.shape}"
        )
    scales = [None if recompute_scale_factor else float(f) for f in factors]
    return sizes, scales


def _per_axis(op: str, name: str, value, count: int) -> tuple:
    """`value` once per spatial axis: a number repeated, or a sequence of `count` numbers."""
    if isinstance(value, Sequence):
        if len(value) != count:
            raise ValueError(
                f"{op}: {name} must have one value per spatial axis ({count}), got {value!r}"
            )
        return tuple(value)
    return (value,) * count


def _nearest_sources(in_size: int, out_size: int, scale: float | None, mode: str) -> list[int]:
    """The input cell of each output cell by PyTorch's float32 rules: floor(j * s) for
    'nearest' (j itself, or j // 2, where the output is as long or twice as long) and
    floor((j + 0.5) * s) for 'nearest-exact', where s is 1 / scale_factor or
    in_size / out_size."""
    if mode == "nearest" and out_size in (in_size, 2 * in_size):
        return [j * in_size // out_size for j in range(out_size)]
    step = np.float32(1.0 / scale) if scale else np.float32(in_size) / np.float32(out_size)
    cells = np.arange(out_size)
    if mode == "nearest":
        positions = cells.astype(np.float32) * step
    else:
        positions = ((cells + 0.5) * np.float64(step)).astype(np.float32)
    return np.minimum(np.floor(positions).astype(np.int64), in_size - 1).tolist()


def _linear_axis(x: Tensor, axis: int, out_size: int, scale, align_corners: bool) -> Tensor:
    """Linear interpolation along `axis` as PyTorch does it: output cell j reads source
    position s(j) = step * j (align_corners) or step * (j + 0.5) - 0.5, floored at 0, and
    blends cells i = floor(s) and i + 1 (i alone at the last cell) by s - i. The positions
    are computed twice with the same arithmetic in x's dtype: on the host, for the cells to
    slice, and on the device from `arange`, for the weights, so nothing is copied over. An
    axis that keeps its size is left as it is, as PyTorch leaves it, whatever the scale."""
    in_size, dtype = x.shape[axis], x.dtype
    if out_size == in_size:
        return x
    step = _linear_step(in_size, out_size, scale, align_corners, dtype.type)
    host = _source_positions(np.arange(out_size, dtype=dtype), step, align_corners)
    lower = np.minimum(np.floor(host.astype(np.float32)).astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    cells = arange(out_size, dtype=dtype, device=x.device)
    positions = _source_positions(cells, step, align_corners)
    lower_cells = _take(arange(in_size, dtype=dtype, device=x.device), 0, lower.tolist())
    weight = ops.clamp(positions - lower_cells, 0.0, 1.0)
    weight = weight.reshape((out_size,) + (1,) * (x.ndim - axis - 1))
    low, high = _take(x, axis, lower.tolist()), _take(x, axis, upper.tolist())
    return low * (1.0 - weight) + high * weight


def _linear_step(in_size: int, out_size: int, scale, align_corners: bool, real: type):
    """PyTorch's distance between the source positions of neighbouring output cells, in the
    input's precision `real`."""
    if align_corners:
        return real(in_size - 1) / real(out_size - 1) if out_size > 1 else real(0)
    return real(1.0 / scale) if scale else real(in_size) / real(out_size)


def _source_positions(cells, step, align_corners: bool):
    """PyTorch's source position of each output cell (a NumPy array or a Tensor)."""
    if align_corners:
        return cells * step
    positions = (cells + 0.5) * step - 0.5
    if isinstance(positions, Tensor):
        return ops.maximum(positions, 0.0)
    return np.maximum(positions, 0.0)


def _take(x: Tensor, axis: int, sources: list[int]) -> Tensor:
    """The cells `sources` (non-decreasing) of `x` along `axis`, as strided slices repeated
    by broadcasting and joined by one concatenation: integer scale factors take a single
    slice, and no index array is made."""
    if sources == list(range(x.shape[axis])):
        return x
    parts = []
    for start, stride, count, repeat in _runs(sources):
        part = _cells(x, axis, start, start + stride * (count - 1) + 1, stride)
        if repeat > 1:
            part = ops.unsqueeze(part, axis + 1)
            widened = part.shape[: axis + 1] + (repeat,) + part.shape[axis + 2 :]
            part = ops.broadcast_to(part, widened)
            part = part.reshape(x.shape[:axis] + (count * repeat,) + x.shape[axis + 1 :])
        parts.append(part)
    return ops.concatenate(parts, axis) if len(parts) > 1 else parts[0]


def _runs(sources: list[int]) -> list[tuple[int, int, int, int]]:
    """`sources` as runs (start, stride, count, repeat): cells start, start + stride, ...
    (`count` of them), each repeated `repeat` times."""
    groups: list[list[int]] = []
    for source in sources:
        if groups and groups[-1][0] == source:
            groups[-1][1] += 1
        else:
            groups.append([source, 1])
    runs: list[tuple[int, int, int, int]] = []
    for source, repeat in groups:
        if runs:
            start, stride, count, last_repeat = runs[-1]
            last = start + stride * (count - 1)
            if last_repeat == repeat and (count == 1 or source - last == stride):
                runs[-1] = (start, source - last, count + 1, repeat)
                continue
        runs.append((source, 1, 1, repeat))
    return runs
