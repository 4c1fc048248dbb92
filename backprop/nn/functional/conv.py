"""Convolution: conv1d, conv2d and conv_transpose2d, unfold / fold (PyTorch's faces of the
im2col / col2im they are built on), and their argument checks."""

from __future__ import annotations

from collections.abc import Sequence

from backprop import ops
from backprop.nn.functional._checks import (
    IntPair,
    _check_input,
    _float_input,
    _image,
    _tensor_argument,
)
from backprop.nn.functional.padding import pad
from backprop.ops.conv import (
    col2im,
    conv1d_padding,
    conv_padding,
    grid_size,
    im2col,
    pair,
    single,
)
from backprop.tensor import Tensor


def unfold(
    input: Tensor,
    kernel_size: IntPair,
    dilation: IntPair = 1,
    padding: IntPair = 0,
    stride: IntPair = 1,
) -> Tensor:
    """`torch.nn.functional.unfold`, with its argument order: every sliding window of an
    (N, C, H, W) or unbatched (C, H, W) input as a column of (N, C * kh * kw, L), channel-major
    then kernel row then kernel column, L windows in row-major order (im2col)."""
    _float_input("unfold", input)
    if input.ndim not in (3, 4):
        raise ValueError(
            f"unfold: expected an (N, C, H, W) or unbatched (C, H, W) input, got {input.shape}"
        )
    geometry = _fold_geometry("unfold", kernel_size, dilation, padding, stride)
    grid_size("unfold", input.shape[-2:], *geometry)
    if input.ndim == 3:
        cols = im2col(input.reshape(1, *input.shape), *geometry)
        return cols.reshape(cols.shape[1:])
    return im2col(input, *geometry)


def fold(
    input: Tensor,
    output_size: IntPair,
    kernel_size: IntPair,
    dilation: IntPair = 1,
    padding: IntPair = 0,
    stride: IntPair = 1,
) -> Tensor:
    """`torch.nn.functional.fold`, with its argument order: the inverse layout of `unfold`,
    summing (N, C * kh * kw, L) or unbatched (C * kh * kw, L) columns into an (N, C, H, W) or
    (C, H, W) image of height and width `output_size`, overlapping windows added (col2im)."""
    _float_input("fold", input)
    if input.ndim not in (2, 3):
        raise ValueError(
            f"fold: expected an (N, C * kh * kw, L) or unbatched (C * kh * kw, L) input, got "
            f"{input.shape}"
        )
    geometry = _fold_geometry("fold", kernel_size, dilation, padding, stride)
    size = pair("fold", "output_size", output_size, 1)
    (kh, kw), windows = geometry[0], grid_size("fold", size, *geometry)
    rows, count = input.shape[-2:]
    if rows % (kh * kw) or count != windows[0] * windows[1]:
        raise ValueError(
            f"fold: an input of shape {input.shape} does not fit kernel {(kh, kw)} over an "
            f"image of {size}: it needs C * {kh * kw} rows and {windows[0] * windows[1]} columns"
        )
    if input.ndim == 2:
        image = col2im(input.reshape(1, rows, count), size, *geometry)
        return image.reshape(image.shape[1:])
    return col2im(input, size, *geometry)


def _fold_geometry(op: str, kernel_size, dilation, padding, stride) -> tuple:
    """(kernel, stride, padding, dilation), each a checked pair, as im2col / col2im take them."""
    return (
        pair(op, "kernel_size", kernel_size, 1),
        pair(op, "stride", stride, 1),
        pair(op, "padding", padding, 0),
        pair(op, "dilation", dilation, 1),
    )


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
    cols = im2col(input, *geometry)
    cols = cols.reshape(n, groups, cols.shape[1] // groups, height * width)
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
    _tensor_argument(op, "weight", weight)
    per_group = input.shape[1] // groups
    if weight.ndim != input.ndim or weight.shape[1] != per_group or weight.shape[0] % groups:
        kernel = "k" if input.ndim == 3 else "kh, kw"
        raise ValueError(
            f"{op}: weight must be (out_channels, {per_group}, {kernel}) with out_channels "
            f"divisible by groups ({groups}) for an input with {input.shape[1]} channels, "
            f"got {weight.shape}"
        )


def _check_bias(op: str, bias: Tensor | None, out_channels: int) -> None:
    """The bias, when given, must hold one value per output channel."""
    if bias is None:
        return
    _tensor_argument(op, "bias", bias)
    if bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {bias.shape}")


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
    _tensor_argument("conv_transpose2d", "weight", weight)
    if weight.ndim != 4 or weight.shape[0] != channels:
        raise ValueError(
            f"conv_transpose2d: weight must be ({channels}, out_channels / groups, kh, kw) for "
            f"an input with {channels} channels, got {weight.shape}"
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
