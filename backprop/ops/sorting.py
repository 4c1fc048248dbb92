"""Sorting and selection along a dim (sort, argsort, msort, topk, kthvalue, median, and max and
min with a dim, which give indices too), and the ops whose output's shape depends on the data
(nonzero, masked_select, unique, repeat_interleave).

Every sort is the backend's stable `argsort` followed by a `gather`, all on the device: values
are differentiable (the gradient goes back to the positions they were picked from, to any
order) and indices are int64 without a gradient. NaN sorts as the largest value, as in PyTorch.
Ties keep their order (`stable` is accepted and always holds; PyTorch leaves the order of ties
unspecified when it is False). The data-dependent ops read the device (`to_host`) to learn the
size of their output, as PyTorch synchronises for them, so they cannot be captured into a CUDA
graph.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from backprop.autograd import Function
from backprop.ops.arithmetic import maximum, minimum, where
from backprop.ops.common import broadcast_shape, normalize_axis, require_tensor
from backprop.ops.logic import eq, gt, isnan, logical_and, logical_or
from backprop.ops.movement import astype, broadcast_to, gather, getitem, reshape
from backprop.ops.reduction import _check_reduced_axes, argmax, argmin, reduce
from backprop.tensor import Tensor, common_device, int64, torch_names


class ValuesIndices(NamedTuple):
    """What sort, topk, kthvalue and median along a dim return, as PyTorch's return types:
    the values (differentiable) and their int64 indices along the dim."""

    values: Tensor
    indices: Tensor


class MedianOfAll(Function):
    """The median of all entries, as found by sorting (`value`, a 0-d array). Its gradient is
    shared evenly among the entries equal to it (every NaN when it is NaN), as PyTorch's is."""

    def __init__(self, value: Any):
        self.value = value

    def forward(self, x):
        return self.value

    def backward(self, gy):
        x = self.inputs[0].detach()
        value = Tensor._make(self.value, gy.device)
        hits = logical_or(eq(x, value), logical_and(isnan(x), isnan(value)))
        share = astype(hits, gy.dtype)
        return gy * share / reduce("sum", share)


# -- sorting along a dim ---------------------------------------------------------------------


@torch_names(dim="axis")
def sort(
    x: Tensor, axis: int = -1, descending: bool = False, stable: bool = False
) -> ValuesIndices:
    """`x` sorted along `dim` (default: the last), as `torch.sort`: the values and the indices
    they came from. The sort is always stable; NaN is the largest value."""
    require_tensor("sort", x)
    dim = _dim("sort", x, axis)
    descending = _flag("sort", "descending", descending)
    _flag("sort", "stable", stable)
    rows = _at_least_1d(x)
    indices = _sorted_indices(rows, dim, descending)
    return ValuesIndices(reshape(gather(rows, dim, indices), x.shape), reshape(indices, x.shape))


@torch_names(dim="axis")
def argsort(x: Tensor, axis: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The int64 indices that sort `x` along `dim` (default: the last), as `torch.argsort`;
    always stable, NaN largest."""
    require_tensor("argsort", x)
    dim = _dim("argsort", x, axis)
    descending = _flag("argsort", "descending", descending)
    _flag("argsort", "stable", stable)
    return reshape(_sorted_indices(_at_least_1d(x), dim, descending), x.shape)


def msort(x: Tensor) -> Tensor:
    """`x` sorted along its first dim, as `torch.msort`; differentiable."""
    require_tensor("msort", x)
    return sort(x, 0).values


@torch_names(dim="axis")
def topk(
    x: Tensor, k: int, axis: int = -1, largest: bool = True, sorted: bool = True
) -> ValuesIndices:
    """The `k` largest (or smallest, `largest=False`) entries along `dim` (default: the last)
    and their indices, as `torch.topk`. They always come sorted, largest first (smallest
    first when `largest=False`), so `sorted=False` gives the same; NaN counts as largest. A
    0-d tensor gives itself for k of 0 or 1, as in PyTorch."""
    require_tensor("topk", x)
    dim = _dim("topk", x, axis)
    largest = _flag("topk", "largest", largest)
    _flag("topk", "sorted", sorted)
    length = _length(x, dim)
    k = _count_arg("topk", "k", k)
    if not 0 <= k <= length:
        raise ValueError(
            f"topk: k={k} is out of range for dim {dim} of size {length} (tensor of shape "
            f"{x.shape}); it needs 0 <= k <= {length}"
        )
    rows = _at_least_1d(x)
    picked = _slice(_sorted_indices(rows, dim, largest), dim, 0, k if x.ndim else 1)
    values = gather(rows, dim, picked)
    if x.ndim == 0:
        return ValuesIndices(reshape(values, ()), reshape(picked, ()))
    return ValuesIndices(values, picked)


@torch_names(dim="axis", keepdim="keepdims")
def kthvalue(x: Tensor, k: int, axis: int = -1, keepdims: bool = False) -> ValuesIndices:
    """The `k`-th smallest entry (k counts from 1) along `dim` (default: the last) and its
    index, as `torch.kthvalue`; NaN counts as largest."""
    require_tensor("kthvalue", x)
    dim = _dim("kthvalue", x, axis)
    keepdim = _flag("kthvalue", "keepdim", keepdims)
    length = _length(x, dim)
    k = _count_arg("kthvalue", "k", k)
    if not 1 <= k <= length:
        raise ValueError(
            f"kthvalue: k={k} is out of range for dim {dim} of size {length} (tensor of shape "
            f"{x.shape}); it needs 1 <= k <= {length}"
        )
    rows = _at_least_1d(x)
    picked = _slice(_sorted_indices(rows, dim, False), dim, k - 1, k)
    return _pick(x, rows, dim, picked, keepdim)


@torch_names(dim="axis", keepdim="keepdims")
def median(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor | ValuesIndices:
    """The lower median, as `torch.median`: of all entries (a 0-d tensor; NaN for an empty
    float tensor) when no dim is given, its gradient shared among the entries equal to it, as
    PyTorch's; else along `dim` with its indices, the gradient going to them. A slice holding
    a NaN has median NaN, at the index of its first NaN."""
    require_tensor("median", x)
    keepdim = _flag("median", "keepdim", keepdims)
    if axis is None:
        if keepdim:
            raise ValueError("median: keepdim needs a dim; the median of all entries is 0-d")
        if x.numel() == 0:
            if x.dtype.kind != "f":
                raise ValueError(f"median: an empty {x.dtype} tensor has no median")
            return Tensor._make(x.backend.full((), np.nan, x.dtype), x.device)
        value = median(reshape(x.detach(), (x.numel(),)), 0).values
        return MedianOfAll(value.data)(x)
    dim = _dim("median", x, axis)
    length = _length(x, dim)
    if length == 0:
        raise ValueError(
            f"median: dim {dim} of the tensor of shape {x.shape} is empty; there is no median"
        )
    rows = _at_least_1d(x)
    order = _sorted_indices(rows, dim, False)
    position = _median_position(rows, dim, length)
    return _pick(x, rows, dim, gather(order, dim, position), keepdim)


@torch_names(dim="axis", keepdim="keepdims")
def max(x: Tensor, axis: int | Tensor | None = None, keepdims: bool = False) -> Any:
    """As `torch.max`: the largest entry (0-d; tied entries share the gradient) with no dim;
    along an int dim the values and int64 indices of the first largest entries, the gradient
    going to those; with a Tensor, the elementwise `maximum`. `amax` reduces several dims."""
    return _extreme("max", x, axis, keepdims)


@torch_names(dim="axis", keepdim="keepdims")
def min(x: Tensor, axis: int | Tensor | None = None, keepdims: bool = False) -> Any:
    """As `torch.min`: `max`'s rules for the smallest entries (`amin` reduces several dims)."""
    return _extreme("min", x, axis, keepdims)


def _extreme(op: str, x: Tensor, axis: Any, keepdims: bool) -> Tensor | ValuesIndices:
    require_tensor(op, x)
    if isinstance(axis, Tensor):
        return (maximum if op == "max" else minimum)(x, axis)
    keepdims = _flag(op, "keepdim", keepdims)
    if axis is None:
        if keepdims:
            raise TypeError(f"{op}: keepdim needs a dim; the {op} of all entries is 0-d")
        return reduce(op, x, None, False)
    dim = _dim(op, x, axis)
    rows = _at_least_1d(x)
    _check_reduced_axes(op, rows, (dim,))
    picked = (argmax if op == "max" else argmin)(rows, dim, True)
    return _pick(x, rows, dim, picked, keepdims)


# -- ops whose output's shape depends on the data ------------------------------------------


def nonzero(x: Tensor, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the non-zero entries, as `torch.nonzero`: an int64 tensor of shape
    (count, ndim), or with `as_tuple` one 1-d tensor per dim (a 0-d tensor counts as 1-d).
    Reads the device to count them (not capturable into a CUDA graph)."""
    require_tensor("nonzero", x)
    as_tuple = _flag("nonzero", "as_tuple", as_tuple)
    host = x.backend.to_host(x.data)
    if as_tuple:
        return tuple(_from_host(x, i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(host)))
    return _from_host(x, np.argwhere(host).astype(np.int64))


def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    """The entries of `x` where the bool `mask` holds, as a 1-d tensor, both broadcast to
    one shape, as `torch.masked_select`; differentiable in `x`. Reads the mask from the
    device (not capturable into a CUDA graph)."""
    require_tensor("masked_select", x)
    if not isinstance(mask, Tensor) or mask.dtype != np.bool_:
        got = f"{mask.dtype} tensor" if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"masked_select: mask must be a bool tensor, got a {got}")
    common_device("masked_select", (x, mask))
    shape = broadcast_shape("masked_select", x.shape, mask.shape)
    size = int(np.prod(shape))
    flat_mask = reshape(broadcast_to(mask, shape), (size,))
    return getitem(reshape(broadcast_to(x, shape), (size,)), flat_mask)


def unique(
    x: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """The distinct entries of `x`, sorted, as `torch.unique` (each NaN is distinct, as in
    PyTorch); with `return_inverse` also where each entry of `x` went (an int64 tensor of
    `x`'s shape) and with `return_counts` how often each occurs. `sorted=False` sorts too.
    Not differentiable. Reads the device (not capturable into a CUDA graph)."""
    require_tensor("unique", x)
    _flag("unique", "sorted", sorted)
    return_inverse = _flag("unique", "return_inverse", return_inverse)
    return_counts = _flag("unique", "return_counts", return_counts)
    if dim is not None:
        raise ValueError(
            f"unique: only dim=None (the distinct entries of the flattened tensor) is "
            f"supported, got dim={dim!r}"
        )
    host = np.asarray(x.backend.to_host(x.data)).reshape(-1)
    values, inverse, counts = np.unique(
        host, return_inverse=True, return_counts=True, equal_nan=False
    )
    result = [_from_host(x, values.astype(x.dtype))]
    if return_inverse:
        result.append(_from_host(x, inverse.reshape(x.shape).astype(np.int64)))
    if return_counts:
        result.append(_from_host(x, counts.astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)


@torch_names(dim="axis")
def repeat_interleave(x: Tensor, repeats: int | Tensor, axis: int | None = None) -> Tensor:
    """Each entry (each slice along `dim`) of `x` repeated `repeats` times in place, as
    `torch.repeat_interleave`: `repeats` is an int, or an integer tensor of one count per
    slice (or a single count); with no dim, `x` is flattened first. Differentiable in `x`.
    A tensor of repeats is read from the device (not capturable into a CUDA graph)."""
    require_tensor("repeat_interleave", x)
    if axis is None:
        x, dim = reshape(x, (x.numel(),)), 0
    else:
        x = _at_least_1d(x)
        dim = _dim("repeat_interleave", x, axis)
    counts = _repeat_counts(x, repeats, dim)
    index = np.repeat(np.arange(x.shape[dim], dtype=np.int64), counts)
    return getitem(x, (slice(None),) * dim + (index,))


def _repeat_counts(x: Tensor, repeats: int | Tensor, dim: int) -> np.ndarray:
    """How often each slice of `x` along `dim` repeats, checked, on the host."""
    length = x.shape[dim]
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu":
            raise TypeError(
                f"repeat_interleave: repeats must be an int or an integer tensor, got a "
                f"{repeats.dtype} tensor"
            )
        if repeats.ndim > 1:
            raise ValueError(
                f"repeat_interleave: repeats must be a 0-d or 1-d tensor, got shape {repeats.shape}"
            )
        counts = np.asarray(repeats.backend.to_host(repeats.data)).reshape(-1).astype(np.int64)
        if counts.size not in (1, length):
            raise ValueError(
                f"repeat_interleave: repeats has {counts.size} counts but dim {dim} of the "
                f"tensor of shape {x.shape} has size {length}; give one count or {length}"
            )
    else:
        counts = np.array([_count_arg("repeat_interleave", "repeats", repeats)])
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must not be negative, got {counts.min()}")
    return np.broadcast_to(counts, (length,))


# -- shared pieces -------------------------------------------------------------------------


def _dim(op: str, x: Tensor, dim: Any) -> int:
    """`dim` (PyTorch's name; `axis` is ours), checked to be an int and made non-negative."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return normalize_axis(op, int(dim), x.ndim)


def _flag(op: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


def _count_arg(op: str, name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _length(x: Tensor, dim: int) -> int:
    """The size of `dim`: 1 for a 0-d tensor, which sorts as one entry."""
    return x.shape[dim] if x.ndim else 1


def _at_least_1d(x: Tensor) -> Tensor:
    return reshape(x, (1,)) if x.ndim == 0 else x


def _sorted_indices(x: Tensor, dim: int, descending: bool) -> Tensor:
    """int64 indices of the stable sort of `x` (at least 1-d) along `dim`, on the device."""
    return Tensor._make(x.backend.argsort(x.data, dim, descending), x.device)


def _slice(x: Tensor, dim: int, start: int, stop: int) -> Tensor:
    return x[(slice(None),) * dim + (slice(start, stop),)]


def _median_position(rows: Tensor, dim: int, length: int) -> Tensor:
    """Where each slice's median sits in its ascending order, keeping `dim` (size 1): the
    lower middle, or for a slice holding NaN its first NaN (NaNs sort last)."""
    middle = (length - 1) // 2
    shape = tuple(1 if i == dim else s for i, s in enumerate(rows.shape))
    if rows.dtype.kind != "f":
        return Tensor._make(rows.backend.full(shape, middle, int64), rows.device)
    nans = reduce("sum", astype(isnan(rows), int64), dim, True)
    return where(gt(nans, 0), length - nans, middle)


def _pick(x: Tensor, rows: Tensor, dim: int, picked: Tensor, keepdim: bool) -> ValuesIndices:
    """The values of `rows` at the indices `picked` (`dim` of size 1), with `dim` dropped
    unless `keepdim`; a 0-d `x` gives 0-d results."""
    values = gather(rows, dim, picked)
    if keepdim and x.ndim:
        return ValuesIndices(values, picked)
    shape = tuple(s for i, s in enumerate(rows.shape) if i != dim) if x.ndim else ()
    return ValuesIndices(reshape(values, shape), reshape(picked, shape))


def _from_host(like: Tensor, array: np.ndarray) -> Tensor:
    """A host result of a data-dependent op as a tensor on `like`'s device."""
    return Tensor._make(like.backend.from_host(array), like.device)
