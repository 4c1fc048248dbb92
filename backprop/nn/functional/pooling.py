"""Pooling: max, average and adaptive pools in 1-D and 2-D, max_unpool2d, and the window
geometry they share. Each takes a batch, (N, C, H, W) or (N, C, L), or one unbatched sample,
(C, H, W) or (C, L), as PyTorch's do."""

from __future__ import annotations

from collections.abc import Sequence

from backprop import ops
from backprop.creation import arange, ones, zeros
from backprop.nn.functional._checks import IntPair, _batched, _tensor_argument, _unbatched
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
    input, added = _batched("max_pool2d", input, "(N, C, H, W)")
    geometry = _pool_geometry("max_pool2d", kernel_size, stride, padding, dilation)
    return _unbatched(_max_pool("max_pool2d", input, *geometry, ceil_mode, return_indices), added)


def max_pool1d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """`max_pool2d` along the last axis of (N, C, L) or (C, L), on the (N, C, 1, L) view; the
    indices are positions along L."""
    input, added = _batched("max_pool1d", input, "(N, C, L)")
    geometry = _pool1d_geometry("max_pool1d", input, kernel_size, stride, padding, dilation)
    n, c, length = input.shape
    out = _max_pool(
        "max_pool1d", input.reshape(n, c, 1, length), *geometry, ceil_mode, return_indices
    )
    if return_indices:
        return _unbatched((_drop_row_axis(out[0]), _drop_row_axis(out[1])), added)
    return _unbatched(_drop_row_axis(out), added)


def _drop_row_axis(x: Tensor) -> Tensor:
    """(N, C, 1, L) as (N, C, L), with the sizes spelled out (no -1: N may be 0)."""
    n, c, _, length = x.shape
    return x.reshape(n, c, length)


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
    picks = winners.reshape(winners.shape[0], count) * count + arange(count, device=input.device)
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
    each the whole. Indices are not bounds-checked (that would read the device). An unbatched
    (C, H, W) input takes (C, H, W) indices."""
    input, added = _batched("max_unpool2d", input, "(N, C, H, W)")
    _tensor_argument("max_unpool2d", "indices", indices)
    if added:
        indices = indices.reshape(1, *indices.shape)
    if indices.dtype != int64 or indices.shape != input.shape:
        raise ValueError(
            f"max_unpool2d: indices must be an int64 Tensor shaped like the input "
            f"{input.shape}, got {indices.dtype} {indices.shape}"
        )
    common_device("max_unpool2d", (input, indices))
    kernel = pair("max_unpool2d", "kernel_size", kernel_size, 1)
    stride = pair("max_unpool2d", "stride", kernel if stride is None else stride, 1)
    padding = pair("max_unpool2d", "padding", padding, 0)
    height, width = _unpool_size(input.shape[2:], kernel, stride, padding, output_size)
    n, c, h, w = input.shape
    values = input.reshape(n * c, h * w)
    where = indices.reshape(n * c, h * w)
    empty = zeros(n * c, height * width, dtype=input.dtype, device=input.device)
    sums = ops.scatter_add(empty, 1, where, values)
    counts = ops.scatter_add(
        empty, 1, where, ones(values.shape, dtype=input.dtype, device=input.device)
    )
    return _unbatched((sums / counts.maximum(1.0)).reshape(n, c, height, width), added)


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
    input, added = _batched("avg_pool2d", input, "(N, C, H, W)")
    kernel, stride, padding, _ = _pool_geometry("avg_pool2d", kernel_size, stride, padding, 1)
    out = _avg_pool(
        "avg_pool2d",
        input,
        kernel,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )
    return _unbatched(out, added)


def avg_pool1d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """`avg_pool2d` along the last axis of (N, C, L) or (C, L), on the (N, C, 1, L) view."""
    input, added = _batched("avg_pool1d", input, "(N, C, L)")
    kernel, stride, padding, _ = _pool1d_geometry(
        "avg_pool1d", input, kernel_size, stride, padding, 1
    )
    n, c, length = input.shape
    view = input.reshape(n, c, 1, length)
    out = _avg_pool("avg_pool1d", view, kernel, stride, padding, ceil_mode, count_include_pad, None)
    return _unbatched(_drop_row_axis(out), added)


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
    input, added = _batched("adaptive_avg_pool2d", input, "(N, C, H, W)")
    sizes = _adaptive_sizes("adaptive_avg_pool2d", input, output_size)
    for axis, size in zip((2, 3), sizes):
        input = _adaptive_mean(input, axis, size)
    return _unbatched(input, added)


def adaptive_avg_pool1d(input: Tensor, output_size: int | Sequence[int]) -> Tensor:
    """`adaptive_avg_pool2d` along the last axis of (N, C, L) or (C, L): `output_size`
    windows."""
    input, added = _batched("adaptive_avg_pool1d", input, "(N, C, L)")
    size = single("adaptive_avg_pool1d", "output_size", output_size, 1)
    return _unbatched(_adaptive_mean(input, 2, size), added)


def adaptive_max_pool2d(
    input: Tensor, output_size: int | Sequence[int | None], return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """The largest value of each of `output_size` (oh, ow) windows, placed as
    `adaptive_avg_pool2d` places them. Each row's first largest cell is found in every column
    window, then the first row whose largest is the window's: the first largest cell in
    row-major order, which gets the gradient, as in PyTorch. `return_indices` also returns its
    flat index into the (H * W) plane, int64. A fixed number of ops whatever the sizes."""
    input, added = _batched("adaptive_max_pool2d", input, "(N, C, H, W)")
    out_height, out_width = _adaptive_sizes("adaptive_max_pool2d", input, output_size)
    width = input.shape[3]
    row_max, column = _adaptive_first_max(input, 3, out_width)
    out, row = _adaptive_first_max(row_max, 2, out_height)
    if not return_indices:
        return _unbatched(out, added)
    return _unbatched((out, row * width + ops.gather(column, 2, row)), added)


def _adaptive_first_max(x: Tensor, axis: int, size: int) -> tuple[Tensor, Tensor]:
    """`x` with axis `axis` reduced to the largest value of each of `size` adaptive windows,
    and where along `axis` it lies (int64): the first largest cell, the one `gather` passes
    the gradient to. A shorter window's extra places repeat its last cell, which cannot move
    the first largest."""
    cells, start, _ = _adaptive_cells(x.shape[axis], size, x.device)
    windows = _window_axis(x.index_select(axis, cells.reshape(-1)), axis, cells.shape)
    first = windows.argmax(axis=axis + 1, keepdims=True)
    largest = ops.gather(windows, axis + 1, first)
    reduced = x.shape[:axis] + (size,) + x.shape[axis + 1 :]
    trailing = (1,) * (x.ndim - axis - 1)
    position = first.reshape(reduced) + start.to(dtype=int64).reshape(size, *trailing)
    return largest.reshape(reduced), position


def _window_axis(x: Tensor, axis: int, grid: tuple[int, int]) -> Tensor:
    """`x`, whose axis `axis` holds (windows * places) cells, with that axis split in two."""
    return x.reshape(x.shape[:axis] + grid + x.shape[axis + 1 :])


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


def _adaptive_cells(length: int, size: int, device) -> tuple[Tensor, Tensor, Tensor]:
    """PyTorch's `size` adaptive windows over `length` cells, window i spanning
    [floor(i * length / size), ceil((i + 1) * length / size)): a (size, places) grid of their
    cells (int64; `places` is the longest window's length, and a shorter window's extra places
    repeat its last cell), and each window's first cell and length (float64, (size, 1)). Worked
    out on the device from `arange`, so no index is copied from the host."""
    window = arange(size, dtype=float64, device=device).reshape(size, 1)
    start = (window * length / size).to(dtype=int64).to(dtype=float64)
    stop = (((window + 1) * length + size - 1) / size).to(dtype=int64).to(dtype=float64)
    places = max(-(-(i + 1) * length // size) - i * length // size for i in range(size))
    place = arange(places, dtype=float64, device=device)
    cells = ops.minimum(start + place, stop - 1).to(dtype=int64)
    return cells, start, stop - start


def _adaptive_mean(x: Tensor, axis: int, size: int) -> Tensor:
    """`x` with axis `axis` reduced to `size` window means (rectangular windows are separable,
    so pooling rows and then columns gives each 2-D window's mean). Windows that tile the axis
    are a reshape; overlapping ones are gathered on a grid whose repeated places are masked."""
    length = x.shape[axis]
    if length % size == 0:
        split = x.shape[:axis] + (size, length // size) + x.shape[axis + 1 :]
        return x.reshape(split).mean(axis=axis + 1)
    cells, _, counts = _adaptive_cells(length, size, x.device)
    windows = _window_axis(x.index_select(axis, cells.reshape(-1)), axis, cells.shape)
    place = arange(cells.shape[1], dtype=float64, device=x.device)
    weights = ops.where(ops.compare("lt", place, counts), 1.0 / counts, 0.0).to(dtype=x.dtype)
    trailing = (1,) * (x.ndim - axis - 1)
    return (windows * weights.reshape(*cells.shape, *trailing)).sum(axis=axis + 1)


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
