"""PyTorch's everyday conveniences composed of the existing ops: narrow, movedim, t, diff,
count_nonzero, addcmul/addcdiv, index_add/index_fill/scatter (out of place), the closeness
tests isclose/allclose/equal, and std_mean/var_mean. Each is differentiable where PyTorch's is,
through the ops it is made of."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backprop.ops.arithmetic import abs as magnitude
from backprop.ops.arithmetic import add, compare, div, mul, sign, sub, where
from backprop.ops.common import (
    NUMBER_TYPES,
    broadcast_shape,
    normalize_axes,
    normalize_axis,
    require_tensor,
    result_type,
)
from backprop.ops.logic import all as all_true
from backprop.ops.logic import isfinite, isnan, logical_and, logical_or, ne
from backprop.ops.movement import (
    IndexAdd,
    ScatterAdd,
    _check_index,
    astype,
    concatenate,
    getitem,
    permute,
    reshape,
    transpose,
)
from backprop.ops.reduction import _variance_options, reduce, std, var
from backprop.tensor import Tensor, bool_, common_device, float64, int64, torch_names


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_number(op: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, NUMBER_TYPES):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")


# -- shape -----------------------------------------------------------------------------------------


def t(x: Tensor) -> Tensor:
    """A matrix transposed, a 0-d or 1-d tensor as it is, as `torch.t`."""
    require_tensor("t", x)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape {x.shape}")
    return transpose(x, 0, 1) if x.ndim == 2 else x


@torch_names(dim="axis")
def narrow(x: Tensor, axis: int, start: int, length: int) -> Tensor:
    """The `length` entries of `axis` from `start` (negative counts from the end), as
    `torch.narrow`: `x[..., start:start + length, ...]`."""
    require_tensor("narrow", x)
    if x.ndim == 0:
        raise ValueError("narrow: a 0-d tensor has no axis to narrow")
    axis = normalize_axis("narrow", axis, x.ndim)
    if not _is_int(start) or not _is_int(length):
        raise TypeError(f"narrow: start and length must be ints, got {start!r} and {length!r}")
    size = x.shape[axis]
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range [-{size}, {size}] of axis {axis}")
    if length < 0:
        raise ValueError(f"narrow: length must be non-negative, got {length}")
    start = start % size if start < 0 else start
    if start + length > size:
        raise ValueError(
            f"narrow: start ({start}) + length ({length}) exceeds the size {size} of axis {axis}"
        )
    return getitem(x, (slice(None),) * axis + (slice(start, start + length),))


def movedim(x: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """`x` with the axes `source` moved to positions `destination` and the others kept in
    order, as `torch.movedim` (and NumPy's `moveaxis`)."""
    require_tensor("movedim", x)
    sources = _axes("movedim", "source", source, x.ndim)
    destinations = _axes("movedim", "destination", destination, x.ndim)
    if len(sources) != len(destinations):
        raise ValueError(
            f"movedim: source {source!r} and destination {destination!r} must name as many axes"
        )
    order = [axis for axis in range(x.ndim) if axis not in sources]
    for target, axis in sorted(zip(destinations, sources)):
        order.insert(target, axis)
    return permute(x, order)


def _axes(op: str, name: str, axes: int | Sequence[int], ndim: int) -> list[int]:
    """`axes` (an int or a sequence of ints) normalised, with no axis named twice."""
    items = [axes] if _is_int(axes) else axes
    if not isinstance(items, Sequence) or not all(_is_int(a) for a in items):
        raise TypeError(f"{op}: {name} must be an int or a sequence of ints, got {axes!r}")
    result = [normalize_axis(op, int(a), ndim) for a in items]
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {name} {axes!r}")
    return result


def reshape_as(x: Tensor, other: Tensor) -> Tensor:
    """`x` reshaped to `other`'s shape, as `torch.Tensor.reshape_as`."""
    require_tensor("reshape_as", x)
    if not isinstance(other, Tensor):
        raise TypeError(f"reshape_as: other must be a Tensor, got {type(other).__name__}")
    if x.numel() != other.numel():
        raise ValueError(
            f"reshape_as: cannot reshape a tensor of shape {x.shape} ({x.numel()} elements) "
            f"into shape {other.shape} ({other.numel()} elements)"
        )
    return reshape(x, other.shape)


# -- elementwise -----------------------------------------------------------------------------------


def positive(x: Tensor) -> Tensor:
    """`+x`: `x` itself, as `torch.positive` (which refuses a bool tensor)."""
    require_tensor("positive", x)
    if x.dtype == bool_:
        raise TypeError("positive: the unary + of a bool tensor is not supported, as in PyTorch")
    return x


def sgn(x: Tensor) -> Tensor:
    """The sign of each entry (-1, 0 or 1), as `torch.sgn` of a real tensor."""
    return sign(require_tensor("sgn", x))


def addcmul(x: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """`x + value * tensor1 * tensor2`, broadcast, as `torch.addcmul`."""
    _check_pointwise("addcmul", x, tensor1, tensor2, value)
    product = mul(tensor1, tensor2)
    return add(x, product if value == 1 else mul(product, value))


def addcdiv(x: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """`x + value * tensor1 / tensor2`, broadcast, as `torch.addcdiv`; integer `tensor1` and
    `tensor2` are refused, as in PyTorch."""
    _check_pointwise("addcdiv", x, tensor1, tensor2, value)
    if tensor1.dtype.kind != "f" and tensor2.dtype.kind != "f":
        raise TypeError(
            f"addcdiv: tensor1 and tensor2 must not both be integer or bool tensors, got "
            f"{tensor1.dtype} and {tensor2.dtype} (PyTorch no longer divides integers here); "
            "convert one with .float()"
        )
    quotient = div(tensor1, tensor2)
    return add(x, quotient if value == 1 else mul(quotient, value))


def _check_pointwise(op: str, x: Tensor, tensor1: Tensor, tensor2: Tensor, value: Any) -> None:
    for name, operand in (("input", x), ("tensor1", tensor1), ("tensor2", tensor2)):
        if not isinstance(operand, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(operand).__name__}")
    common_device(op, (x, tensor1, tensor2))
    _check_number(op, "value", value)
    if result_type(op, x, tensor1, tensor2).kind != "f" and isinstance(value, float):
        raise TypeError(f"{op}: value must not be a float for integer tensors, got {value!r}")
    broadcast_shape(op, x.shape, tensor1.shape, tensor2.shape)


@torch_names(dim="axis")
def diff(
    x: Tensor,
    n: int = 1,
    axis: int = -1,
    prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:
    """The `n`-th forward difference along `axis`, `out[i] = x[i + 1] - x[i]` applied `n`
    times, after joining `prepend` and `append` on that axis, as `torch.diff`; a bool tensor
    gives `x[i + 1] != x[i]`."""
    require_tensor("diff", x)
    if x.ndim == 0:
        raise ValueError("diff: expects a tensor of at least one dimension, got a 0-d one")
    if not _is_int(n) or n < 0:
        raise ValueError(f"diff: n (the order) must be a non-negative int, got {n!r}")
    axis = normalize_axis("diff", axis, x.ndim)
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is not None and (not isinstance(extra, Tensor) or extra.ndim != x.ndim):
            got = extra.shape if isinstance(extra, Tensor) else type(extra).__name__
            raise ValueError(
                f"diff: {name} must be a Tensor of the input's {x.ndim} dimensions, got {got}"
            )
    pieces = [piece for piece in (prepend, x, append) if piece is not None]
    x = concatenate(pieces, axis) if len(pieces) > 1 else x
    for _ in range(n):
        size = x.shape[axis]
        if size == 0:
            break
        later, earlier = narrow(x, axis, 1, size - 1), narrow(x, axis, 0, size - 1)
        x = ne(later, earlier) if x.dtype == bool_ else sub(later, earlier)
    return x


@torch_names(dim="axis")
def count_nonzero(x: Tensor, axis: int | Sequence[int] | None = None) -> Tensor:
    """How many entries over `axis` (every axis when None) are not zero, as an int64 tensor,
    as `torch.count_nonzero`."""
    axes = normalize_axes("count_nonzero", axis, require_tensor("count_nonzero", x).ndim)
    return reduce("sum", compare("ne", x, 0), axes, False)


# -- indexed updates, out of place -----------------------------------------------------------------


def _vector_index(op: str, x: Tensor, axis: int, index: Tensor) -> int:
    """Checks the 0-d or 1-d integer `index` of positions along `axis`; the axis, normalised."""
    require_tensor(op, x)
    if x.ndim == 0:
        raise ValueError(f"{op}: a 0-d tensor has no axis to index")
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        got = f"{index.dtype} Tensor" if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"{op}: index must be an integer Tensor, got {got}")
    if index.ndim > 1:
        raise ValueError(f"{op}: index must be 0-d or 1-d, got shape {index.shape}")
    common_device(op, (x, index))
    return normalize_axis(op, axis, x.ndim)


def _positions(x: Tensor, axis: int, index: Tensor) -> tuple:
    """The backend index that picks the positions `index` along `axis`."""
    return (slice(None),) * axis + (reshape(index, (-1,)).data,)


@torch_names(dim="axis")
def index_add(x: Tensor, axis: int, index: Tensor, source: Tensor, *, alpha: float = 1) -> Tensor:
    """`x` with `alpha * source[..., i, ...]` added at position `index[i]` of `axis`, repeated
    positions summed, as `torch.index_add`; `source` is `x`'s shape with `len(index)` on
    `axis`, in `x`'s dtype."""
    axis = _vector_index("index_add", x, axis, index)
    if not isinstance(source, Tensor):
        raise TypeError(f"index_add: source must be a Tensor, got {type(source).__name__}")
    common_device("index_add", (x, source))
    expected = x.shape[:axis] + (index.numel(),) + x.shape[axis + 1 :]
    if source.shape != expected:
        raise ValueError(
            f"index_add: source must have shape {expected} (the input's {x.shape} with "
            f"{index.numel()} indices on axis {axis}), got {source.shape}"
        )
    if source.dtype != x.dtype:
        raise TypeError(
            f"index_add: source dtype {source.dtype} differs from the input's {x.dtype}"
        )
    _check_number("index_add", "alpha", alpha)
    if alpha != 1:
        source = mul(source, alpha)
    return add(x, IndexAdd(x.shape, _positions(x, axis, index))(source))


@torch_names(dim="axis")
def index_fill(x: Tensor, axis: int, index: Tensor, value: Tensor | float) -> Tensor:
    """`x` with every entry at positions `index` of `axis` set to `value` (a number or a 0-d
    Tensor, which gets its gradient), as `torch.index_fill`."""
    axis = _vector_index("index_fill", x, axis, index)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"index_fill: value must be a number or a 0-d Tensor, got {value.shape}"
            )
    else:
        _check_number("index_fill", "value", value)
    size = x.shape[axis]
    hits = Tensor._make(x.backend.ones((index.numel(),), int64), x.device)
    chosen = IndexAdd((size,), (reshape(index, (-1,)).data,))(hits)
    selected = reshape(compare("gt", chosen, 0), (size,) + (1,) * (x.ndim - axis - 1))
    return astype(where(selected, value, x), x.dtype)


@torch_names(dim="axis")
def scatter(
    x: Tensor,
    axis: int,
    index: Tensor,
    src: Tensor | float | None = None,
    *,
    value: float | None = None,
) -> Tensor:
    """`x` with `src[i][j]` written at `[i][index[i][j]]` (for axis 1), or the number `value`
    there, as `torch.scatter`; `src` may be larger than `index`, whose shape decides what is
    written. Out of place and differentiable: `x` gets the gradient where nothing is
    written, `src` the gradient gathered at `index`, as in PyTorch. Where `index` repeats a
    position the values written there are summed (PyTorch keeps an unspecified one of them):
    keep the positions unique."""
    require_tensor("scatter", x)
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a Tensor or a number) and value")
    src = value if src is None else src
    axis = normalize_axis("scatter", axis, x.ndim)
    _check_index("scatter", x, index)
    if any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != axis):
        raise ValueError(
            f"scatter: index of shape {index.shape} must be no larger than the input {x.shape} "
            f"on every axis but {axis}"
        )
    ones = Tensor._make(x.backend.ones(index.shape, int64), x.device)
    written = compare("gt", ScatterAdd(x.shape, axis, index.data)(ones), 0)
    if not isinstance(src, Tensor):
        _check_number("scatter", "value", src)
        return astype(where(written, src, x), x.dtype)
    common_device("scatter", (x, src))
    if src.ndim != x.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ValueError(
            f"scatter: src of shape {src.shape} must be at least as large as index "
            f"{index.shape} on every axis"
        )
    if src.dtype != x.dtype:
        raise TypeError(f"scatter: src dtype {src.dtype} differs from the input's {x.dtype}")
    src = getitem(src, tuple(slice(0, size) for size in index.shape))
    return where(written, ScatterAdd(x.shape, axis, index.data)(src), x)


# -- closeness -------------------------------------------------------------------------------------


def isclose(
    x: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Where `|x - other| <= atol + rtol * |other|` (equal entries, infinities too, always;
    NaNs only with `equal_nan`), as a bool tensor, as `torch.isclose`; both tensors of one
    dtype, broadcast."""
    _check_comparable("isclose", x, other)
    for name, tolerance in (("rtol", rtol), ("atol", atol)):
        _check_number("isclose", name, tolerance)
        if tolerance < 0:
            raise ValueError(f"isclose: {name} must be non-negative, got {tolerance}")
    close = compare("eq", x, other)
    if equal_nan and x.dtype.kind == "f":
        close = logical_or(close, logical_and(isnan(x), isnan(other)))
    if rtol == 0 and atol == 0:
        return close
    if x.dtype.kind != "f":
        x, other = astype(x, float64), astype(other, float64)
    # equal entries (infinities too) are close already: zeroed, inf - inf is not computed
    x, other = where(close, 0.0, x), where(close, 0.0, other)
    error = magnitude(sub(x, other))
    allowed = add(magnitude(mul(other, rtol)), atol)
    return logical_or(close, logical_and(isfinite(error), compare("le", error, allowed)))


def allclose(
    x: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether every entry `isclose`, as a Python bool, as `torch.allclose` (reads the
    device)."""
    return bool(all_true(isclose(x, other, rtol, atol, equal_nan)).item())


def equal(x: Tensor, other: Tensor) -> bool:
    """Whether both tensors have one shape and equal entries, as a Python bool, as
    `torch.equal` (reads the device; dtypes are promoted, NaN is never equal)."""
    _check_tensor_pair("equal", x, other)
    if x.shape != other.shape:
        return False
    return bool(all_true(compare("eq", x, other)).item())


def _check_tensor_pair(op: str, x: Tensor, other: Tensor) -> None:
    """Both operands are Tensors on one device."""
    for name, operand in (("input", x), ("other", other)):
        if not isinstance(operand, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(operand).__name__}")
    common_device(op, (x, other))


def _check_comparable(op: str, x: Tensor, other: Tensor) -> None:
    """Both operands are Tensors on one device, of one dtype, whose shapes broadcast."""
    _check_tensor_pair(op, x, other)
    if x.dtype != other.dtype:
        raise TypeError(
            f"{op}: both tensors must have one dtype, got {x.dtype} and {other.dtype}; "
            "convert one with .to(dtype)"
        )
    broadcast_shape(op, x.shape, other.shape)


# -- statistics ------------------------------------------------------------------------------------


@torch_names(dim="axis", keepdim="keepdims")
def var_mean(
    x: Tensor,
    axis: int | Sequence[int] | bool | None = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    *,
    correction: int | None = None,
) -> tuple[Tensor, Tensor]:
    """(variance, mean) over `axis`, with `var`'s options, as `torch.var_mean`."""
    return _spread_and_mean("var_mean", var, x, axis, unbiased, keepdims, correction)


@torch_names(dim="axis", keepdim="keepdims")
def std_mean(
    x: Tensor,
    axis: int | Sequence[int] | bool | None = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    *,
    correction: int | None = None,
) -> tuple[Tensor, Tensor]:
    """(standard deviation, mean) over `axis`, with `std`'s options, as `torch.std_mean`."""
    return _spread_and_mean("std_mean", std, x, axis, unbiased, keepdims, correction)


def _spread_and_mean(
    op: str,
    spread: Callable[..., Tensor],
    x: Tensor,
    axis: Any,
    unbiased: bool | None,
    keepdims: bool,
    correction: int | None,
) -> tuple[Tensor, Tensor]:
    """`spread` (var or std) and the mean over the same axes, the options read once."""
    require_tensor(op, x)
    axis, correction = _variance_options(op, axis, unbiased, correction)
    deviation = spread(x, axis, None, keepdims, correction=correction)
    return deviation, reduce("mean", x, axis, keepdims)
