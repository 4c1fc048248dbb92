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
from backprop.ops.common import require_float
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

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "fold",
    "gelu",
    "group_norm",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
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
) -> Tensor:
    """The largest value of each window; padding never wins (it is -inf, as in PyTorch).
    `ceil_mode` rounds the output size up, keeping partial windows at the bottom and right."""
    _image("max_pool2d", input)
    kernel, stride, padding, dilation = _pool_geometry(
        "max_pool2d", kernel_size, stride, padding, dilation
    )
    n, c, h, w = input.shape
    (height, width), (eh, ew) = _pool_grid(
        "max_pool2d", (h, w), kernel, stride, padding, dilation, ceil_mode
    )
    ph, pw = padding
    padded = pad(input, (pw, pw + ew, ph, ph + eh), value=float("-inf"))
    cols = _windows(padded, kernel, stride, 0, dilation)
    return cols.max(axis=1).reshape(n, c, height, width)


def avg_pool2d(
    input: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window; zero padding counts towards it unless `count_include_pad`
    is False. `ceil_mode` rounds the output size up; the cells a partial window reaches past
    the padding never count, as in PyTorch."""
    _image("avg_pool2d", input)
    kernel, stride, padding, dilation = _pool_geometry(
        "avg_pool2d", kernel_size, stride, padding, 1
    )
    n, c, h, w = input.shape
    (height, width), extra = _pool_grid(
        "avg_pool2d", (h, w), kernel, stride, padding, dilation, ceil_mode
    )
    cols = _windows(_pad_end(input, extra), kernel, stride, padding, dilation)
    if count_include_pad and extra == (0, 0):
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
    sizes = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2 or not all(
        size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 1)
        for size in sizes
    ):
        raise ValueError(
            "adaptive_avg_pool2d: output_size must be a positive int or a pair of positive ints "
            f"or None, got {output_size!r}"
        )
    for axis, size in zip((2, 3), sizes):
        input = _adaptive_mean(input, axis, input.shape[axis] if size is None else size)
    return input


def _adaptive_mean(x: Tensor, axis: int, size: int) -> Tensor:
    """`x` with axis `axis` reduced to `size` window means (rectangular windows are separable,
    so pooling rows and then columns gives each 2-D window's mean)."""
    length = x.shape[axis]
    if length % size == 0:
        split = x.shape[:axis] + (size, length // size) + x.shape[axis + 1 :]
        return x.reshape(split).mean(axis=axis + 1)
    before = (slice(None),) * axis
    windows = [
        x[before + (slice(i * length // size, -(-(i + 1) * length // size)),)].mean(
            axis=axis, keepdims=True
        )
        for i in range(size)
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
    grouped = input.reshape(n, num_groups, -1)
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
