"""Data movement as Numba-CUDA kernels: strided copies (permute, broadcast, slicing, joins,
assignment), integer-array indexing, indexed assignment and the atomic-add gradient of
indexing, gather/scatter-add along an axis, and the im2col/col2im patch transforms of
convolution.

Every result is a new C-contiguous array: one strided-copy kernel reads any view (permuted,
broadcast, sliced) of a contiguous source and writes any view of a contiguous destination.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from .numba_elementwise import full
from .numba_launch import (
    at_least_1d,
    broadcast_strides,
    contiguous_strides,
    empty,
    flat,
    launch,
    size_of,
    strided_offset,
    strided_offsets,
)


@cuda.jit
def _strided_copy(src, src_offset, src_strides, dst, dst_offset, dst_strides, shape, size):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        s, d = strided_offsets(i, shape, src_strides, dst_strides)
        dst[dst_offset + d] = src[src_offset + s]


def copy_into(src, src_offset: int, src_strides, dst, dst_offset: int, dst_strides, shape) -> None:
    """Copies the `shape` view of `src` (offset and element strides) onto that view of `dst`."""
    size = size_of(tuple(shape))
    dims, src_strides, dst_strides = at_least_1d(tuple(shape), src_strides, dst_strides)
    launch(
        _strided_copy,
        size,
        flat(src),
        src_offset,
        src_strides,
        flat(dst),
        dst_offset,
        dst_strides,
        dims,
        size,
    )


# -- the contract's primitives of these names (backprop.backend.base) ----------------------


def copy(x):
    out = empty(x.shape, x.dtype)
    copy_into(x, 0, (1,), out, 0, (1,), (x.size,))
    return out


def assign(target, value) -> None:
    shape = tuple(target.shape)
    strides = contiguous_strides(shape)
    copy_into(value, 0, broadcast_strides(tuple(value.shape), shape), target, 0, strides, shape)


def permute(x, axes: tuple[int, ...]):
    strides = contiguous_strides(tuple(x.shape))
    shape = tuple(x.shape[a] for a in axes)
    out = empty(shape, x.dtype)
    copy_into(x, 0, tuple(strides[a] for a in axes), out, 0, contiguous_strides(shape), shape)
    return out


def broadcast_to(x, shape: tuple[int, ...]):
    out = empty(shape, x.dtype)
    copy_into(
        x, 0, broadcast_strides(tuple(x.shape), shape), out, 0, contiguous_strides(shape), shape
    )
    return out


def concatenate(arrays: list, axis: int):
    shape = list(arrays[0].shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    out = empty(tuple(shape), arrays[0].dtype)
    strides = contiguous_strides(tuple(shape))
    start = 0
    for array in arrays:
        part = tuple(array.shape)
        copy_into(array, 0, contiguous_strides(part), out, start * strides[axis], strides, part)
        start += array.shape[axis]
    return out


def stack(arrays: list, axis: int):
    part = tuple(arrays[0].shape)
    shape = part[:axis] + (len(arrays),) + part[axis:]
    out = empty(shape, arrays[0].dtype)
    strides = contiguous_strides(shape)
    into = strides[:axis] + strides[axis + 1 :]
    for i, array in enumerate(arrays):
        copy_into(array, 0, contiguous_strides(part), out, i * strides[axis], into, part)
    return out


# -- NumPy indexing ------------------------------------------------------------------------


def _expand_ellipsis(index: tuple, ndim: int) -> list:
    """The index with its Ellipsis (or the missing trailing axes) spelled as full slices."""
    items = list(index)
    ellipses = [i for i, item in enumerate(items) if item is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(item is not None and item is not Ellipsis for item in items)
    if consumed > ndim:
        raise IndexError(
            f"too many indices: array is {ndim}-dimensional, but {consumed} were indexed"
        )
    fill = [slice(None)] * (ndim - consumed)
    if ellipses:
        items[ellipses[0] : ellipses[0] + 1] = fill
    else:
        items += fill
    return items


class IndexPlan:
    """Where each element of `x[index]` is read from: an offset, a stride per output axis, and
    integer index arrays whose broadcast shape fills their own output axes (NumPy's rules:
    together where the advanced indices are adjacent, else first)."""

    def __init__(self, shape: tuple[int, ...], index: tuple, is_array):
        items = _expand_ellipsis(index, len(shape))
        has_arrays = any(is_array(item) for item in items)
        strides = contiguous_strides(shape)
        self.offset = 0
        basic: list[tuple[int, int]] = []
        self.arrays: list[tuple[Any, int, int]] = []
        advanced_items: list[int] = []
        insert_at = 0
        axis = 0
        for position, item in enumerate(items):
            if item is None:
                basic.append((1, 0))
                continue
            size, stride = shape[axis], strides[axis]
            axis += 1
            if isinstance(item, slice):
                start, stop, step = item.indices(size)
                basic.append((len(range(start, stop, step)), step * stride))
                self.offset += start * stride
                continue
            if is_array(item):
                self.arrays.append((item, stride, size))
            else:
                item = int(item)
                if not -size <= item < size:
                    raise IndexError(
                        f"index {item} is out of bounds for axis {axis - 1} with size {size}"
                    )
                self.offset += (item % size) * stride
                if not has_arrays:
                    continue
            if not advanced_items:
                insert_at = len(basic)
            advanced_items.append(position)
        if advanced_items and advanced_items[-1] - advanced_items[0] >= len(advanced_items):
            insert_at = 0
        array_shapes = [tuple(array.shape) for array, _, _ in self.arrays]
        self.index_shape = tuple(np.broadcast_shapes(*array_shapes)) if array_shapes else ()
        index_strides = contiguous_strides(self.index_shape)
        before, after = basic[:insert_at], basic[insert_at:]
        self.shape = tuple(s for s, _ in before) + self.index_shape + tuple(s for s, _ in after)
        self.strides = (
            tuple(s for _, s in before) + (0,) * len(self.index_shape) + tuple(s for _, s in after)
        )
        self.index_strides = (0,) * len(before) + index_strides + (0,) * len(after)

    def stacked_indices(self):
        """The index arrays broadcast to one shape and stacked as int64: one kernel argument."""
        count = size_of(self.index_shape)
        if len(self.arrays) == 1:
            array = self.arrays[0][0]
            if array.dtype == np.int64 and tuple(array.shape) == self.index_shape:
                return array
        stacked = empty((len(self.arrays), count), np.int64)
        strides = contiguous_strides(self.index_shape)
        for k, (array, _, _) in enumerate(self.arrays):
            src_strides = broadcast_strides(tuple(array.shape), self.index_shape)
            copy_into(array, 0, src_strides, stacked, k * count, strides, self.index_shape)
        return stacked


@cuda.jit(device=True)
def _indexed_offset(i, offset, shape, strides, index_strides, indices, count, steps, sizes):
    position = strided_offset(i, shape, index_strides)
    for k in range(len(steps)):
        value = indices[k * count + position]
        if value < 0:
            value += sizes[k]
        offset += value * steps[k]
    return offset + strided_offset(i, shape, strides)


@cuda.jit
def _index_gather(src, out, offset, shape, strides, index_strides, indices, count, steps, sizes):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        at = _indexed_offset(i, offset, shape, strides, index_strides, indices, count, steps, sizes)
        out[i] = src[at]


@cuda.jit
def _index_scatter_add(
    values, out, offset, shape, strides, index_strides, indices, count, steps, sizes
):
    for i in range(cuda.grid(1), values.size, cuda.gridsize(1)):
        at = _indexed_offset(i, offset, shape, strides, index_strides, indices, count, steps, sizes)
        cuda.atomic.add(out, at, values[i])


def _indexed_args(plan: IndexPlan):
    dims, strides, index_strides = at_least_1d(plan.shape, plan.strides, plan.index_strides)
    steps = tuple(stride for _, stride, _ in plan.arrays)
    sizes = tuple(size for _, _, size in plan.arrays)
    indices = plan.stacked_indices()
    count = size_of(plan.index_shape)
    return (plan.offset, dims, strides, index_strides, flat(indices), count, steps, sizes)


def getitem(x, index: tuple, is_array):
    plan = IndexPlan(tuple(x.shape), index, is_array)
    out = empty(plan.shape, x.dtype)
    if not plan.arrays:
        copy_into(x, plan.offset, plan.strides, out, 0, contiguous_strides(plan.shape), plan.shape)
        return out
    if out.size:
        launch(_index_gather, out.size, flat(x), flat(out), *_indexed_args(plan))
    return out


@cuda.jit
def _index_scatter(
    values,
    values_strides,
    out,
    size,
    offset,
    shape,
    strides,
    index_strides,
    indices,
    count,
    steps,
    sizes,
):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        at = _indexed_offset(i, offset, shape, strides, index_strides, indices, count, steps, sizes)
        out[at] = values[strided_offset(i, shape, values_strides)]


def setitem(x, index: tuple, value, is_array) -> None:
    """Writes `value`, broadcast to the shape of `x[index]`, at those positions of `x`: a
    strided copy for basic indices, a scatter kernel for integer arrays (where an index repeats
    a position, one of its values lands there)."""
    plan = IndexPlan(tuple(x.shape), index, is_array)
    value = _drop_leading_ones(value, len(plan.shape))
    value_shape = tuple(value.shape)
    if not _broadcasts_to(value_shape, plan.shape):
        raise ValueError(
            f"could not broadcast input array from shape {value_shape} into shape {plan.shape}"
        )
    value_strides = broadcast_strides(value_shape, plan.shape)
    if not plan.arrays:
        copy_into(value, 0, value_strides, x, plan.offset, plan.strides, plan.shape)
        return
    size = size_of(plan.shape)
    _, value_strides = at_least_1d(plan.shape, value_strides)
    launch(_index_scatter, size, flat(value), value_strides, flat(x), size, *_indexed_args(plan))


def _drop_leading_ones(value, ndim: int):
    """`value` without the leading size-1 axes beyond `ndim`, which NumPy's assignment ignores."""
    shape = tuple(value.shape)
    extra = len(shape) - ndim
    if extra > 0 and all(size == 1 for size in shape[:extra]):
        return value.reshape(shape[extra:])
    return value


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    trailing = zip(reversed(shape), reversed(target))
    return len(shape) <= len(target) and all(size in (1, want) for size, want in trailing)


def index_add(shape: tuple[int, ...], index: tuple, values, is_array):
    plan = IndexPlan(tuple(shape), index, is_array)
    out = full(shape, 0, values.dtype)
    if not plan.arrays:
        values_strides = broadcast_strides(tuple(values.shape), plan.shape)
        copy_into(values, 0, values_strides, out, plan.offset, plan.strides, plan.shape)
        return out
    if size_of(plan.shape):
        values = broadcast_to(values, plan.shape) if tuple(values.shape) != plan.shape else values
        launch(_index_scatter_add, values.size, flat(values), flat(out), *_indexed_args(plan))
    return out


# -- gather / scatter-add along one axis ---------------------------------------------------


@cuda.jit(device=True)
def _along_axis_offset(i, shape, strides, axis, value, axis_size):
    if value < 0:
        value += axis_size
    offset = 0
    for d in range(len(shape) - 1, -1, -1):
        coordinate = i % shape[d]
        i //= shape[d]
        offset += (value if d == axis else coordinate) * strides[d]
    return offset


@cuda.jit
def _gather(x, index, out, shape, strides, axis, axis_size):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = x[_along_axis_offset(i, shape, strides, axis, index[i], axis_size)]


@cuda.jit
def _scatter_add(values, index, out, shape, strides, axis, axis_size):
    for i in range(cuda.grid(1), values.size, cuda.gridsize(1)):
        at = _along_axis_offset(i, shape, strides, axis, index[i], axis_size)
        cuda.atomic.add(out, at, values[i])


def gather(x, axis: int, index):
    out = empty(index.shape, x.dtype)
    strides = contiguous_strides(tuple(x.shape))
    args = (tuple(index.shape), strides, axis, x.shape[axis])
    launch(_gather, out.size, flat(x), flat(index), flat(out), *args)
    return out


def scatter_add(shape: tuple[int, ...], axis: int, index, values):
    out = full(shape, 0, values.dtype)
    args = (tuple(index.shape), contiguous_strides(tuple(shape)), axis, shape[axis])
    launch(_scatter_add, values.size, flat(values), flat(index), flat(out), *args)
    return out


# -- convolution patches -------------------------------------------------------------------


@cuda.jit
def _im2col(x, out, geometry):
    channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geometry
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        col = i % ow
        rest = i // ow
        row = rest % oh
        rest //= oh
        kj = rest % kw
        rest //= kw
        ki = rest % kh
        rest //= kh
        h = row * sh - ph + ki * dh
        w = col * sw - pw + kj * dw
        if 0 <= h < height and 0 <= w < width:
            out[i] = x[(rest * height + h) * width + w]
        else:
            out[i] = 0


@cuda.jit
def _col2im(cols, out, geometry):
    channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geometry
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        w = i % width
        rest = i // width
        h = rest % height
        rest //= height
        total = 0.0
        for ki in range(kh):
            hp = h + ph - ki * dh
            if hp < 0 or hp % sh != 0 or hp // sh >= oh:
                continue
            for kj in range(kw):
                wp = w + pw - kj * dw
                if wp < 0 or wp % sw != 0 or wp // sw >= ow:
                    continue
                total += cols[((rest * kh + ki) * kw + kj) * oh * ow + (hp // sh) * ow + wp // sw]
        out[i] = total


def _geometry(shape, kernel, stride, padding, dilation) -> tuple[tuple[int, ...], int, int]:
    _, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return (c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow), oh, ow


def im2col(x, kernel, stride, padding, dilation):
    n, c = x.shape[:2]
    geometry, oh, ow = _geometry(tuple(x.shape), kernel, stride, padding, dilation)
    out = empty((n, c * kernel[0] * kernel[1], oh * ow), x.dtype)
    launch(_im2col, out.size, flat(x), flat(out), geometry)
    return out


def col2im(cols, shape, kernel, stride, padding, dilation):
    geometry, _, _ = _geometry(tuple(shape), kernel, stride, padding, dilation)
    out = empty(tuple(shape), cols.dtype)
    launch(_col2im, out.size, flat(cols), flat(out), geometry)
    return out
