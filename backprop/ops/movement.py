"""Shape and movement ops: reshape, permute, broadcasting, indexing, gather/scatter, joins,
dtype and device changes. Each gradient is the opposite movement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.autograd import Function
from backprop.device import Device
from backprop.ops.common import broadcast_shape, normalize_axis, require_tensor, result_type
from backprop.tensor import Tensor, common_device, torch_names


class Reshape(Function):
    reads_input_values = False

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x):
        return self.backend.reshape(x, self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


class Permute(Function):
    reads_input_values = False

    def __init__(self, axes: tuple[int, ...]):
        self.axes = axes

    def forward(self, x):
        return self.backend.permute(x, self.axes)

    def backward(self, gy):
        return permute(gy, tuple(int(a) for a in np.argsort(self.axes)))


class BroadcastTo(Function):
    reads_input_values = False

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x):
        return self.backend.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """Sums a broadcast result back down to `shape`: the gradient of broadcasting."""

    reads_input_values = False

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x):
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, size in enumerate(self.shape) if size == 1 and x.shape[lead + i] != 1
        )
        result = self.backend.reduce("sum", x, axes, True) if axes else x
        return self.backend.reshape(result, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class GetItem(Function):
    reads_input_values = False

    def __init__(self, index: tuple):
        self.index = index

    def forward(self, x):
        try:
            return self.backend.getitem(x, self.index)
        except IndexError as error:
            raise IndexError(f"getitem: {error} (tensor of shape {tuple(x.shape)})") from None

    def backward(self, gy):
        return IndexAdd(self.inputs[0].shape, self.index)(gy)


class IndexAdd(Function):
    """Zeros of `shape` with the input added at `index`: the gradient of indexing."""

    def __init__(self, shape: tuple[int, ...], index: tuple):
        self.shape, self.index = shape, index

    def forward(self, values):
        return self.backend.index_add(self.shape, self.index, values)

    def backward(self, gy):
        return GetItem(self.index)(gy)


class Gather(Function):
    reads_input_values = False

    def __init__(self, axis: int, index: Any):
        self.axis, self.index = axis, index

    def forward(self, x):
        try:
            return self.backend.gather(x, self.axis, self.index)
        except IndexError as error:
            raise IndexError(f"gather: {error} (tensor of shape {tuple(x.shape)})") from None

    def backward(self, gy):
        return ScatterAdd(self.inputs[0].shape, self.axis, self.index)(gy)


class ScatterAdd(Function):
    """Zeros of `shape` with the input added along `axis` at `index`: the gradient of gather."""

    def __init__(self, shape: tuple[int, ...], axis: int, index: Any):
        self.shape, self.axis, self.index = shape, axis, index

    def forward(self, values):
        return self.backend.scatter_add(self.shape, self.axis, self.index, values)

    def backward(self, gy):
        return Gather(self.axis, self.index)(gy)


class Concatenate(Function):
    reads_input_values = False

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, *arrays):
        return self.backend.concatenate(list(arrays), self.axis)

    def backward(self, gy):
        grads, start = [], 0
        for tensor in self.inputs:
            stop = start + tensor.shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, stop),)
            grads.append(GetItem(index)(gy))
            start = stop
        return tuple(grads)


class Stack(Function):
    reads_input_values = False

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, *arrays):
        return self.backend.stack(list(arrays), self.axis)

    def backward(self, gy):
        prefix = (slice(None),) * self.axis
        return tuple(GetItem(prefix + (i,))(gy) for i in range(len(self.inputs)))


class Unbind(Function):
    """The slices of one axis, one output each: the reverse of Stack. Its backward stacks the
    slices' gradients in one op, where slicing one at a time would give each slice a backward
    that builds a zero array as large as the whole input."""

    reads_input_values = False

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        prefix = (slice(None),) * self.axis
        return tuple(self.backend.getitem(x, prefix + (i,)) for i in range(x.shape[self.axis]))

    def backward(self, *grads):
        return Stack(self.axis)(*grads)


class AsType(Function):
    reads_input_values = False

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype

    def forward(self, x):
        return self.backend.astype(x, self.dtype)

    def backward(self, gy):
        return astype(gy, self.inputs[0].dtype)


class ToDevice(Function):
    """A copy on `target`; the gradient goes back to the source device."""

    reads_input_values = False

    def __init__(self, target: Device):
        self.output_device = target

    def forward(self, x):
        return self.output_device.backend.from_host(self.backend.to_host(x))

    def backward(self, gy):
        return to_device(gy, self.inputs[0].device)


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """`x` with a new shape of as many elements (one axis may be -1: the rest); `x` itself
    when the shape does not change, so a no-op reshape adds nothing to the graph."""
    require_tensor("reshape", x)
    shape = tuple(int(s) for s in shape)
    if shape == x.shape:
        return x
    known = math.prod(s for s in shape if s != -1)
    valid = shape.count(-1) <= 1 and all(s >= -1 for s in shape)
    fits = known == x.numel() if -1 not in shape else known > 0 and x.numel() % known == 0
    if not (valid and fits):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}")
    if -1 in shape:
        shape = tuple(x.numel() // known if s == -1 else s for s in shape)
        if shape == x.shape:
            return x
    return Reshape(shape)(x)


@torch_names(start_dim="start_axis", end_dim="end_axis")
def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    require_tensor("flatten", x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis("flatten", start_axis, x.ndim)
    end = normalize_axis("flatten", end_axis, x.ndim)
    if start > end:
        raise ValueError(
            f"flatten: start_axis {start_axis} comes after end_axis {end_axis} "
            f"for a tensor of shape {x.shape}"
        )
    shape = x.shape[:start] + (math.prod(x.shape[start : end + 1]),) + x.shape[end + 1 :]
    return reshape(x, shape)


@torch_names(dim="axis")
def squeeze(x: Tensor, axis: int | None = None) -> Tensor:
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axis = normalize_axis("squeeze", axis, x.ndim)
    if x.ndim == 0 or x.shape[axis] != 1:
        return x
    return reshape(x, x.shape[:axis] + x.shape[axis + 1 :])


@torch_names(dim="axis")
def unsqueeze(x: Tensor, axis: int) -> Tensor:
    require_tensor("unsqueeze", x)
    axis = normalize_axis("unsqueeze", axis, x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


@torch_names(dims="axes")
def permute(x: Tensor, axes: Sequence[int]) -> Tensor:
    normalized = tuple(normalize_axis("permute", int(a), x.ndim) for a in axes)
    if sorted(normalized) != list(range(x.ndim)):
        raise ValueError(
            f"permute: axes {tuple(axes)} are not a permutation of a {x.ndim}-d tensor's axes"
        )
    if normalized == tuple(range(x.ndim)):
        return x
    return Permute(normalized)(x)


@torch_names(dim0="axis0", dim1="axis1")
def transpose(x: Tensor, axis0: int, axis1: int) -> Tensor:
    require_tensor("transpose", x)
    a = normalize_axis("transpose", axis0, x.ndim)
    b = normalize_axis("transpose", axis1, x.ndim)
    if x.ndim == 0:
        return x
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, axes)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    require_tensor("broadcast_to", x)
    shape = tuple(int(s) for s in shape)
    if shape == x.shape:
        return x
    if broadcast_shape("broadcast_to", x.shape, shape) != shape:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return BroadcastTo(shape)(x)


def sum_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sums `x` down to `shape`, undoing the broadcasting that made it."""
    if x.shape == tuple(shape):
        return x
    return SumTo(tuple(shape))(x)


def getitem(x: Tensor, index: Any) -> Tensor:
    """NumPy indexing: ints, slices, None, Ellipsis, integer and bool arrays or Tensors."""
    return GetItem(_backend_index(x, index))(x)


def _backend_index(x: Tensor, index: Any) -> tuple:
    items = index if isinstance(index, tuple) else (index,)
    result: list[Any] = []
    axis: int | None = 0  # the tensor axis the next item indexes; None once past an Ellipsis
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, (slice, int, np.integer)):
            result.append(int(item) if isinstance(item, np.integer) else item)
            if axis is not None and item is not None and not isinstance(item, bool):
                axis = None if item is Ellipsis else axis + 1  # None and True add an axis
            continue
        if isinstance(item, Tensor):
            if item.device != x.device:
                raise RuntimeError(
                    f"getitem: index is on {item.device} but the tensor is on {x.device}"
                )
            array = item.backend.to_host(item.data) if item.dtype == bool else item.data
        else:
            array = np.asarray(item)
        if array.dtype == bool:
            covered = x.shape[axis : axis + array.ndim] if axis is not None else array.shape
            if covered != array.shape:
                raise IndexError(
                    f"getitem: bool index of shape {array.shape} does not match the tensor's "
                    f"axes {covered} from axis {axis} (tensor of shape {x.shape})"
                )
            axis = axis + array.ndim if axis is not None else None
            result.extend(x.backend.from_host(i.astype(np.int64)) for i in np.nonzero(array))
        elif np.dtype(array.dtype).kind in "iu":
            axis = axis + 1 if axis is not None else None
            result.append(array if x.backend.is_array(array) else x.backend.from_host(array))
        else:
            raise IndexError(
                f"getitem: indices must be ints, slices, None, Ellipsis or integer/bool arrays, "
                f"got {type(item).__name__} of dtype {array.dtype}"
            )
    return tuple(result)


@torch_names(dim="axis")
def gather(x: Tensor, axis: int, index: Tensor) -> Tensor:
    """`out[i][j] = x[i][index[i][j]]` for axis 1, as `torch.gather`."""
    axis = normalize_axis("gather", axis, require_tensor("gather", x).ndim)
    _check_index("gather", x, index)
    return Gather(axis, index.data)(x)


@torch_names(dim="axis")
def scatter_add(x: Tensor, axis: int, index: Tensor, src: Tensor) -> Tensor:
    """`x` plus `src` added along `axis` at `index`, as `torch.scatter_add`."""
    axis = normalize_axis("scatter_add", axis, x.ndim)
    _check_index("scatter_add", x, index)
    if src.shape != index.shape:
        raise ValueError(f"scatter_add: src shape {src.shape} differs from index {index.shape}")
    return x + ScatterAdd(x.shape, axis, index.data)(src)


def _check_index(op: str, x: Tensor, index: Tensor) -> None:
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer Tensor")
    if index.ndim != x.ndim:
        raise ValueError(
            f"{op}: index has {index.ndim} dimensions but the input {x.shape} has {x.ndim}"
        )
    common_device(op, (x, index))


@torch_names(dim="axis")
def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """The tensors joined along `axis`, in their promoted dtype, as `torch.cat`."""
    tensors = _tensor_list("concatenate", tensors)
    if tensors[0].ndim == 0:
        raise ValueError("concatenate: 0-d tensors have no axis to join along; use stack")
    axis = normalize_axis("concatenate", axis, tensors[0].ndim)
    return Concatenate(axis)(*_joinable("concatenate", tensors, axis))


@torch_names(dim="axis")
def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """The tensors stacked along a new `axis`, in their promoted dtype, as `torch.stack`."""
    tensors = _tensor_list("stack", tensors)
    axis = normalize_axis("stack", axis, tensors[0].ndim + 1)
    return Stack(axis)(*_joinable("stack", tensors, None))


@torch_names(dim="axis")
def unbind(x: Tensor, axis: int = 0) -> tuple[Tensor, ...]:
    """The slices of `x` along `axis`, each without that axis, as `torch.unbind`; stacking
    them gives `x` back."""
    if not isinstance(x, Tensor):
        raise TypeError(f"unbind: expected a Tensor, got {type(x).__name__}")
    if x.ndim == 0:
        raise ValueError("unbind: a 0-d tensor has no axis to split")
    return Unbind(normalize_axis("unbind", axis, x.ndim))(x)


def _tensor_list(op: str, tensors: Sequence[Tensor]) -> list[Tensor]:
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected at least one tensor")
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{op}: expected a sequence of Tensors, got a {type(tensor).__name__}")
    return tensors


def _joinable(op: str, tensors: list[Tensor], axis: int | None) -> list[Tensor]:
    """The tensors cast to their promoted dtype (`result_type`, as torch.cat promotes), once
    their shapes are checked to match (but along `axis`)."""

    def key(t: Tensor) -> tuple:
        return (t.ndim, t.shape if axis is None else t.shape[:axis] + t.shape[axis + 1 :])

    if len({key(t) for t in tensors}) > 1:
        listed = ", ".join(f"{t.dtype} {t.shape}" for t in tensors)
        raise ValueError(f"{op}: tensors must match in shape (but the axis): {listed}")
    dtype = result_type(op, *tensors)
    return [astype(t, dtype) for t in tensors]


def astype(x: Tensor, dtype: np.dtype) -> Tensor:
    if dtype == x.dtype:
        return x
    if x.requires_grad and dtype.kind != "f":
        return Tensor._make(x.backend.astype(x.data, dtype), x.device)
    return AsType(dtype)(x)


def to_device(x: Tensor, target: Device) -> Tensor:
    if target == x.device:
        return x
    return ToDevice(target)(x)
