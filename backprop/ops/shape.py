"""PyTorch's rearranging ops built from slices, reshapes and joins: flip, roll, repeat, tile,
split, chunk, index_select and clone. None needs a backend primitive of its own, and each is
differentiable to any order."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.autograd import Function
from backprop.ops.common import normalize_axes, normalize_axis, require_tensor
from backprop.ops.movement import Concatenate, broadcast_to, concatenate, getitem, reshape
from backprop.tensor import Tensor, common_device, torch_names


class Flip(Function):
    """The input read backwards along some axes (a view with negative strides); flipping the
    gradient the same way is its backward."""

    def __init__(self, index: tuple[slice, ...]):
        self.index = index

    def forward(self, x):
        return self.backend.getitem(x, self.index)

    def backward(self, gy):
        return Flip(self.index)(gy)


class Split(Function):
    """Consecutive pieces of one axis, one output each (views). Its backward concatenates the
    pieces' gradients in one op, where slicing one piece at a time would give each piece a
    backward that builds a zero array as large as the whole input."""

    def __init__(self, axis: int, sizes: tuple[int, ...]):
        self.axis, self.sizes = axis, sizes

    def forward(self, x):
        prefix, start, pieces = (slice(None),) * self.axis, 0, []
        for size in self.sizes:
            pieces.append(self.backend.getitem(x, prefix + (slice(start, start + size),)))
            start += size
        return tuple(pieces)

    def backward(self, *grads):
        return Concatenate(self.axis)(*grads)


class Clone(Function):
    """A copy of the input in memory of its own; the gradient passes through unchanged."""

    def forward(self, x):
        return self.backend.copy(x)

    def backward(self, gy):
        return gy


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _int_tuple(op: str, name: str, values: int | Sequence[int]) -> tuple[int, ...]:
    """`values` (an int or a sequence of ints) as a tuple of Python ints."""
    items = (values,) if _is_int(values) else values
    if not isinstance(items, Sequence) or not all(_is_int(v) for v in items):
        raise TypeError(f"{op}: {name} must be an int or a sequence of ints, got {values!r}")
    return tuple(int(v) for v in items)


@torch_names(dims="axes")
def flip(x: Tensor, axes: int | Sequence[int]) -> Tensor:
    """`x` with the order of its entries reversed along `axes`, as `torch.flip`."""
    require_tensor("flip", x)
    axes = normalize_axes("flip", _int_tuple("flip", "axes", axes), x.ndim)
    if not axes:
        return x
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    return Flip(index)(x)


@torch_names(dims="axis")
def roll(x: Tensor, shifts: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Tensor:
    """`x` with its entries moved `shifts` places along `axis`, those pushed off the end coming
    back at the start, as `torch.roll`; with no axis the flattened tensor is rolled."""
    require_tensor("roll", x)
    shifts = _int_tuple("roll", "shifts", shifts)
    if axis is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: without axis, shifts must be one int, got {shifts}")
        return reshape(roll(reshape(x, (-1,)), shifts, 0), x.shape)
    axes = _int_tuple("roll", "axis", axis)
    if len(shifts) != len(axes):
        raise ValueError(
            f"roll: shifts and axis must have the same length, got shifts={shifts} and axis={axes}"
        )
    axes = tuple(normalize_axis("roll", rolled, x.ndim) for rolled in axes)
    if x.ndim == 0:
        return x
    for shift, rolled in zip(shifts, axes):
        x = _roll_axis(x, shift, rolled)
    return x


def _roll_axis(x: Tensor, shift: int, axis: int) -> Tensor:
    """`x` rolled `shift` places along one axis: its last cells, then the rest."""
    size = x.shape[axis]
    cut = size - shift % size if size else 0
    if cut in (0, size):
        return x
    prefix = (slice(None),) * axis
    return concatenate([x[prefix + (slice(cut, None),)], x[prefix + (slice(None, cut),)]], axis)


def repeat(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """`x` tiled `sizes[i]` times along axis i, as `Tensor.repeat`; extra leading sizes add
    leading axes. A broadcast between interleaved axes, then one reshape."""
    return _repeat("repeat", x, sizes)


def tile(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """`torch.tile`: as `repeat`, but fewer sizes than axes repeat the last axes only."""
    require_tensor("tile", x)
    sizes = _int_tuple("tile", "sizes", sizes)
    return _repeat("tile", x, (1,) * (x.ndim - len(sizes)) + sizes)


def _repeat(op: str, x: Tensor, sizes: Sequence[int]) -> Tensor:
    require_tensor(op, x)
    sizes = _int_tuple(op, "sizes", sizes)
    if len(sizes) < x.ndim:
        raise ValueError(
            f"{op}: got {len(sizes)} sizes {sizes} for a tensor of {x.ndim} dimensions "
            f"{x.shape}; give at least one per dimension"
        )
    if any(s < 0 for s in sizes):
        raise ValueError(f"{op}: sizes must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved = tuple(d for s in shape for d in (1, s))
    widened = tuple(d for r, s in zip(sizes, shape) for d in (r, s))
    tiled = broadcast_to(reshape(x, interleaved), widened)
    return reshape(tiled, tuple(r * s for r, s in zip(sizes, shape)))


@torch_names(dim="axis")
def split(
    x: Tensor, split_size_or_sections: int | Sequence[int], axis: int = 0
) -> tuple[Tensor, ...]:
    """Views of consecutive pieces of `x` along `axis`, as `torch.split`: pieces of one size
    (the last one shorter when the size does not divide the axis), or of each listed size."""
    axis = _split_axis("split", x, axis)
    length = x.shape[axis]
    if _is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and length > 0):
            raise ValueError(
                f"split: split_size must be positive (or 0 for an empty axis), got {size} for "
                f"axis {axis} of size {length}"
            )
        if length == 0:
            return Split(axis, (0,))(x)
        sizes = (size,) * (length // size) + ((length % size,) if length % size else ())
        return Split(axis, sizes)(x)
    sizes = _int_tuple("split", "split_size_or_sections", split_size_or_sections)
    if any(s < 0 for s in sizes) or sum(sizes) != length:
        raise ValueError(
            f"split: sections must be non-negative and add up to the size {length} of axis "
            f"{axis} (tensor of shape {x.shape}), got {sizes}"
        )
    return Split(axis, sizes)(x)


@torch_names(dim="axis")
def chunk(x: Tensor, chunks: int, axis: int = 0) -> tuple[Tensor, ...]:
    """`x` split into `chunks` views of equal size along `axis`, as `torch.chunk`: the size is
    rounded up, so the last is smaller and there may be fewer than `chunks`."""
    axis = _split_axis("chunk", x, axis)
    if not _is_int(chunks) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    length = x.shape[axis]
    if length == 0:
        return Split(axis, (0,) * int(chunks))(x)
    return split(x, math.ceil(length / chunks), axis)


def _split_axis(op: str, x: Tensor, axis: int) -> int:
    require_tensor(op, x)
    if x.ndim == 0:
        raise ValueError(f"{op}: a 0-d tensor has no axis to split")
    return normalize_axis(op, axis, x.ndim)


@torch_names(dim="axis")
def index_select(x: Tensor, axis: int, index: Tensor) -> Tensor:
    """The entries of `x` at the positions in the 1-d integer tensor `index` along `axis`, as
    `torch.index_select`; repeated positions get their gradients summed. On the CPU a
    position outside [0, size) raises IndexError. A GPU does not check the positions, since
    reading them would wait for the device: there a negative one counts from the end and one
    past the end reads undefined memory."""
    require_tensor("index_select", x)
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        got = f"{index.dtype} Tensor" if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"index_select: index must be an integer Tensor, got {got}")
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be 0-d or 1-d, got shape {index.shape}")
    if x.ndim == 0:
        raise ValueError("index_select: a 0-d tensor has no axis to select from")
    common_device("index_select", (x, index))
    axis = normalize_axis("index_select", axis, x.ndim)
    if index.device.type == "cpu":
        _check_positions(x, axis, index)
    return getitem(x, (slice(None),) * axis + (reshape(index, (-1,)),))


def _check_positions(x: Tensor, axis: int, index: Tensor) -> None:
    """Raises IndexError for a position of the CPU tensor `index` outside [0, size) of `axis`,
    where NumPy would wrap a negative one (PyTorch refuses it)."""
    size, positions = x.shape[axis], np.asarray(index.data)
    wrong = positions[(positions < 0) | (positions >= size)]
    if wrong.size:
        raise IndexError(
            f"index_select: index {int(wrong[0])} is out of range for axis {axis} of size {size} "
            f"(tensor of shape {x.shape}); positions must be in [0, {size})"
        )


def clone(x: Tensor) -> Tensor:
    """A copy of `x` that shares no memory with it and stays in the graph, as `Tensor.clone`."""
    require_tensor("clone", x)
    return Clone()(x)
