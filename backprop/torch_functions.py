"""`torch.*` functions whose PyTorch signature differs from the op they spell: torch's argument
names (`dim`, `keepdim`, `dim0`, `start_dim`, ...), `alpha=` of add and sub, `rounding_mode=`
of div and `dtype=` of the reductions and softmax. Each
is a thin wrapper over `backprop.ops`; the math and the gradients live there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop import ops
from backprop.ops.common import NUMBER_TYPES, normalize_axes, require_tensor, result_type
from backprop.tensor import Tensor, as_dtype, common_device, float64

Dims = int | Sequence[int] | None
ROUNDING_MODES = (None, "trunc", "floor")
MESHGRID_INDEXINGS = ("ij", "xy")


def _cast(op: str, input: Tensor, dtype: Any) -> Tensor:
    """`input` in `dtype` (differentiably), as the `dtype=` argument of torch's reductions
    casts before it computes; `input` itself when `dtype` is None."""
    require_tensor(op, input)
    return input if dtype is None else ops.astype(input, as_dtype(dtype, op))


def _number(op: str, name: str, value: Any) -> None:
    """A scalar argument is a number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, NUMBER_TYPES):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")


# -- reductions --------------------------------------------------------------------------------


def sum(input: Tensor, dim: Dims = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The sum over `dim` (every axis when None), as `torch.sum`; bool and integer tensors
    sum to int64, and `dtype` casts the input first."""
    return ops.reduce("sum", _cast("sum", input, dtype), dim, keepdim)


def mean(input: Tensor, dim: Dims = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The mean over `dim` (every axis when None), as `torch.mean`: float tensors only, or an
    integer one with a float `dtype` to cast it to first."""
    return ops.reduce("mean", _cast("mean", input, dtype), dim, keepdim)


# -- arithmetic --------------------------------------------------------------------------------


def _scaled(op: str, input: Any, other: Any, alpha: Any) -> Any:
    """`alpha * other` for add and sub, once `alpha` is checked as PyTorch checks it: a number,
    and not a float when the result is an integer or bool tensor."""
    _number(op, "alpha", alpha)
    if alpha == 1:
        return other
    if result_type(op, input, other).kind != "f" and isinstance(alpha, (float, np.floating)):
        raise TypeError(
            f"{op}: alpha must not be a float for integer or bool operands, got {alpha!r}"
        )
    return ops.mul(other, alpha) if isinstance(other, Tensor) else other * alpha


def add(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    """input + alpha * other, as `torch.add`."""
    return ops.add(input, _scaled("add", input, other, alpha))


def sub(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    """input - alpha * other, as `torch.sub`."""
    return ops.sub(input, _scaled("sub", input, other, alpha))


def div(
    input: Tensor | float, other: Tensor | float, *, rounding_mode: str | None = None
) -> Tensor:
    """input / other, as `torch.div`: true division (float32 for integer operands), or rounded
    towards zero (`rounding_mode="trunc"`) or down (`"floor"`), which keeps integer operands'
    dtype; integers are divided in float64, so exactly up to 2**53."""
    if rounding_mode not in ROUNDING_MODES:
        raise ValueError(
            f"div: rounding_mode must be one of {ROUNDING_MODES}, got {rounding_mode!r}"
        )
    if rounding_mode is None:
        return ops.div(input, other)
    dtype = result_type("div", input, other)
    if dtype.kind == "f":
        quotient = ops.div(input, other)
    else:
        quotient = ops.div(_as_float64(input), _as_float64(other))
    rounded = ops.floor(quotient) if rounding_mode == "floor" else ops.trunc(quotient)
    return ops.astype(rounded, dtype)


def _as_float64(value: Tensor | float) -> Tensor | float:
    return ops.astype(value, float64) if isinstance(value, Tensor) else float(value)


# -- shape -------------------------------------------------------------------------------------


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    """`input` with its axes reordered to `dims`, as `torch.permute`."""
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"permute: dims must be a tuple or list of ints, got {dims!r}")
    return ops.permute(require_tensor("permute", input), dims)


def squeeze(input: Tensor, dim: Dims = None) -> Tensor:
    """`input` without its size-1 axes: every one, or those among `dim` (an int or a tuple),
    as `torch.squeeze`; a named axis of another size stays."""
    require_tensor("squeeze", input)
    if dim is None or isinstance(dim, (int, np.integer)):
        return ops.squeeze(input, dim)
    axes = normalize_axes("squeeze", dim, input.ndim)
    kept = tuple(s for i, s in enumerate(input.shape) if not (i in axes and s == 1))
    return ops.reshape(input, kept)


def meshgrid(*tensors: Tensor | Sequence[Tensor], indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids of 1-d (or 0-d) tensors, as `torch.meshgrid`: output i repeats
    tensors[i] along every other axis; `indexing="xy"` swaps the first two axes (Cartesian,
    as NumPy's default). The outputs are broadcast views, and differentiable."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing not in MESHGRID_INDEXINGS:
        raise ValueError(
            f"meshgrid: indexing must be one of {MESHGRID_INDEXINGS}, got {indexing!r}"
        )
    if not tensors:
        raise ValueError("meshgrid: expected at least one tensor")
    common_device("meshgrid", tensors)
    for tensor in tensors:
        if tensor.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-d or 1-d tensors, got shape {tensor.shape}")
    if len({tensor.dtype for tensor in tensors}) > 1:
        dtypes = ", ".join(str(tensor.dtype) for tensor in tensors)
        raise TypeError(f"meshgrid: expected tensors of one dtype, got {dtypes}")
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for tensor, axis in zip(tensors, axes):
        shape[axis] = tensor.numel()
    grids = []
    for tensor, axis in zip(tensors, axes):
        along = [1] * len(tensors)
        along[axis] = tensor.numel()
        grids.append(ops.broadcast_to(ops.reshape(tensor, along), shape))
    return tuple(grids)


# -- softmax and tensor queries ----------------------------------------------------------------


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """exp(input) normalised to sum to 1 along `dim`, as `torch.softmax`; `dtype` casts the
    input first."""
    return ops.softmax(_cast("softmax", input, dtype), dim)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """log(softmax(input, dim)), computed stably, as `torch.log_softmax`; `dtype` casts the
    input first."""
    return ops.log_softmax(_cast("log_softmax", input, dtype), dim)


def numel(input: Tensor) -> int:
    """The number of elements of `input`, as `torch.numel`."""
    return require_tensor("numel", input).numel()


def is_tensor(obj: Any) -> bool:
    """Whether `obj` is a Tensor, as `torch.is_tensor`."""
    return isinstance(obj, Tensor)
