"""Pooling: max, average and adaptive pools in 1-D and 2-D, max_unpool2d, and the window
geometry they share."""

from __future__ import annotations

from collections.abc import Sequence

from backprop import ops
from backprop.creation import arange, ones, zeros
from backprop.nn.functional._checks import IntPair, _check_input, _image
from backprop.nn.functional.padding import pad
from backprop.ops.conv import grid_size, im2col, pair, single
from backprop.tensor import Tensor, common_device, float64, int64


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
