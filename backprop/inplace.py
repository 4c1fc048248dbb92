"""In-place Tensor operations (`x[mask] = 0`, `w.add_(g, alpha=-lr)`, `t.fill_(1)`, `x += 1`)
with PyTorch's rules for autograd: version counters, but no in-place ops recorded in the graph.

Each op writes into the tensor's own backend array (`backend.assign`, `backend.setitem`) and
returns the tensor, so every alias of that array sees the change, as in PyTorch: `detach()`
and `view`/`reshape` alias on every backend, and on NumPy `permute` and basic slicing do too
(the Numba backend copies those).

A write is allowed when autograd cannot need the old value: grad mode is off (`with
backprop.no_grad():`, the way to update a parameter), or neither the tensor nor the value
written requires grad. Otherwise it is refused with a RuntimeError: a leaf that requires grad
(PyTorch refuses it too), and a tensor made by a recorded op or a value that requires grad
(PyTorch records such writes in the graph; backprop does not, so use the out-of-place form:
`x = x.masked_fill(mask, v)`, `backprop.where(mask, v, x)`, `x = x + y`).

Every write counts in the tensor's `_version` (an optimizer step counts too). A recorded op
notes its inputs' versions, and backward refuses to run one whose inputs were written since
(`x` in `y = x * w`, or a parameter stepped between two backward passes of one graph), as
PyTorch's version counters do. Ops whose gradient needs their inputs' shapes only (add, reshape,
indexing, sum) are not checked, as in PyTorch; the others check every input, where PyTorch
checks the ones it saved, so a few backward passes PyTorch runs are refused here (`ones @ w`,
`w` written in between), never the reverse. A write through another alias of the memory
(`detach()`, a view) is not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from backprop import autograd, ops
from backprop.nn import init
from backprop.ops.common import NUMBER_TYPES, broadcast_shape
from backprop.ops.movement import _backend_index
from backprop.tensor import Scalar, Tensor, common_device

OUT_OF_PLACE = {
    "setitem": "x = backprop.where(mask, value, x)",
    "add_": "x = x + alpha * other",
    "sub_": "x = x - alpha * other",
    "mul_": "x = x * other",
    "div_": "x = x / other",
    "pow_": "x = x ** exponent",
    "fill_": "x = backprop.full_like(x, value)",
    "zero_": "x = backprop.zeros_like(x)",
    "copy_": "x = src.expand(x.shape)",
    "clamp_": "x = x.clamp(min, max)",
    "masked_fill_": "x = x.masked_fill(mask, value)",
    "normal_": "x = backprop.randn_like(x) * std + mean",
    "uniform_": "x = a + (b - a) * backprop.rand(*x.shape)",
    "relu_": "x = x.relu()",
    "sigmoid_": "x = x.sigmoid()",
    "tanh_": "x = x.tanh()",
    "exp_": "x = x.exp()",
    "log_": "x = x.log()",
    "sqrt_": "x = x.sqrt()",
    "abs_": "x = x.abs()",
    "neg_": "x = -x",
    "clamp_min_": "x = x.clamp(min=min)",
    "clamp_max_": "x = x.clamp(max=max)",
}
"""What to write instead of each in-place op where autograd needs the old value."""

_KIND_RANK = {"b": 0, "i": 1, "u": 1, "f": 2}
"""bool < integer < float: a value may be written in place into a tensor of its kind or higher."""


def check_writable(op: str, tensor: Tensor, value: Any = None) -> None:
    """Raises RuntimeError when writing `value` into `tensor` in place would hide from autograd
    a value it needs (see the module docstring); returns quietly otherwise."""
    if not autograd.is_grad_enabled():
        return
    instead = OUT_OF_PLACE[op]
    if tensor.requires_grad and tensor.is_leaf:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {tensor.shape}) cannot be changed in "
            "place while grad mode is on, as in PyTorch; change it inside "
            f"`with backprop.no_grad():`, or use the out-of-place form `{instead}`"
        )
    if tensor.requires_grad:
        raise RuntimeError(
            f"{op}: this tensor (shape {tensor.shape}) was made by {tensor._creator.name}, an op "
            "recorded for backward; backprop does not record in-place changes to tensors of the "
            f"graph (PyTorch does), so use the out-of-place form `{instead}`"
        )
    if isinstance(value, Tensor) and value.requires_grad:
        raise RuntimeError(
            f"{op}: the value written (shape {value.shape}) requires grad; backprop does not "
            f"record in-place writes in the graph (PyTorch does), so use the out-of-place form "
            f"`{instead}`, or write value.detach()"
        )


# -- arithmetic: add_, sub_, mul_, div_, pow_ and the augmented assignments -----------------------


def add_(tensor: Tensor, other: Tensor | Scalar, alpha: Scalar = 1) -> Tensor:
    """`tensor += alpha * other`, in place."""
    if alpha != 1:
        _check_number("add_", "alpha", tensor, alpha, "a number")
    return _arithmetic("add_", tensor, other, lambda x, y: x + (y * alpha if alpha != 1 else y))


def sub_(tensor: Tensor, other: Tensor | Scalar, alpha: Scalar = 1) -> Tensor:
    """`tensor -= alpha * other`, in place."""
    if alpha != 1:
        _check_number("sub_", "alpha", tensor, alpha, "a number")
    return _arithmetic("sub_", tensor, other, lambda x, y: x - (y * alpha if alpha != 1 else y))


def mul_(tensor: Tensor, other: Tensor | Scalar) -> Tensor:
    """`tensor *= other`, in place."""
    return _arithmetic("mul_", tensor, other, ops.mul)


def div_(tensor: Tensor, other: Tensor | Scalar) -> Tensor:
    """`tensor /= other`, in place (true division: a float tensor only, as in PyTorch)."""
    return _arithmetic("div_", tensor, other, ops.div)


def pow_(tensor: Tensor, exponent: Tensor | Scalar) -> Tensor:
    """`tensor **= exponent`, in place."""
    return _arithmetic("pow_", tensor, exponent, ops.pow)


AUGMENTED = {
    "add_": (add_, ops.add),
    "sub_": (sub_, ops.sub),
    "mul_": (mul_, ops.mul),
    "div_": (div_, ops.div),
}
"""The in-place op behind `+=`, `-=`, `*=`, `/=`, and its out-of-place counterpart."""


def augmented(op: str, tensor: Tensor, other: Tensor | Scalar) -> Tensor:
    """`x += other` and friends: written into x where `add_` would be allowed. Where autograd
    is involved (x is a tensor of the graph, or `other` requires grad) the result is the
    out-of-place one and the name is rebound, so PyTorch code such as `out += identity` in a
    forward computes the same values and gradients (only other references to the old `out`
    do not see the change, as they would in PyTorch). A leaf that requires grad is refused."""
    in_place, out_of_place = AUGMENTED[op]
    recorded = tensor.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
    leaf_that_learns = tensor.is_leaf and tensor.requires_grad
    if autograd.is_grad_enabled() and recorded and not leaf_that_learns:
        return out_of_place(tensor, other)
    return in_place(tensor, other)


def _arithmetic(
    op: str, tensor: Tensor, other: Tensor | Scalar, compute: Callable[[Tensor, Any], Tensor]
) -> Tensor:
    """Writes `compute(tensor, other)` into `tensor`; `other` is a number, or a Tensor on the
    same device (cast to the tensor's dtype) that broadcasts to the tensor's shape."""
    check_writable(op, tensor, other)
    if isinstance(other, Tensor):
        common_device(op, (tensor, other))
        _check_castable(op, tensor, other.dtype.kind, f"a {other.dtype} operand")
        other = ops.astype(other.detach(), tensor.dtype)
    else:
        _check_number(op, "other", tensor, other, "a number or a Tensor")
    return _write_result(op, tensor, lambda x: compute(x, other))


def _write_result(op: str, tensor: Tensor, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """Writes `compute(tensor)`, worked out outside the graph, into `tensor`: its result must
    have the tensor's shape, and a dtype the tensor can hold."""
    with autograd.no_grad():
        result = compute(tensor.detach())
    _check_castable(op, tensor, result.dtype.kind, f"a {result.dtype} result")
    if result.shape != tensor.shape:
        raise ValueError(
            f"{op}: the result has shape {result.shape} but the tensor has shape {tensor.shape}; "
            "an in-place op cannot broadcast the tensor itself"
        )
    _write(op, tensor, result.data)
    return tensor


def _check_number(op: str, name: str, tensor: Tensor, value: Any, expected: str) -> None:
    if isinstance(value, Tensor) or not isinstance(value, NUMBER_TYPES):
        raise TypeError(f"{op}: {name} must be {expected}, got {type(value).__name__}")
    kind = np.dtype(type(value)).kind
    _check_castable(op, tensor, kind, f"the {type(value).__name__} {name}={value!r}")


def _check_castable(op: str, tensor: Tensor, kind: str, what: str) -> None:
    """PyTorch's rule for in-place arithmetic: no float written into an integer tensor, no
    integer into a bool one (a wider float into a narrower one is fine)."""
    if _KIND_RANK[kind] > _KIND_RANK[tensor.dtype.kind]:
        raise RuntimeError(
            f"{op}: {what} cannot be written in place into a tensor of dtype {tensor.dtype}; "
            "convert the tensor first with x = x.to(dtype)"
        )


# -- filling: fill_, zero_, copy_, clamp_, masked_fill_, normal_, uniform_ ------------------------


def fill_(tensor: Tensor, value: Tensor | Scalar) -> Tensor:
    """Sets every element to `value` (a number or a 0-d Tensor, cast to the tensor's dtype)."""
    return _fill("fill_", tensor, value)


def zero_(tensor: Tensor) -> Tensor:
    """Sets every element to zero."""
    return _fill("zero_", tensor, 0)


def _fill(op: str, tensor: Tensor, value: Tensor | Scalar) -> Tensor:
    check_writable(op, tensor, value)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"{op}: value must be a number or a 0-d Tensor, got shape {value.shape}"
            )
        _write(op, tensor, value.detach().to(tensor.device, tensor.dtype).data)
    elif isinstance(value, NUMBER_TYPES):
        _write(op, tensor, value)
    else:
        raise TypeError(f"{op}: value must be a number or a 0-d Tensor, got {type(value).__name__}")
    return tensor


def copy_(tensor: Tensor, src: Tensor) -> Tensor:
    """Writes `src` into the tensor: broadcast to its shape, cast to its dtype and copied from
    any device, as `torch.Tensor.copy_`."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_: src must be a Tensor, got {type(src).__name__}")
    check_writable("copy_", tensor, src)
    if broadcast_shape("copy_", src.shape, tensor.shape) != tensor.shape:
        raise ValueError(f"copy_: src of shape {src.shape} cannot be broadcast to {tensor.shape}")
    _write("copy_", tensor, src.detach().to(tensor.device, tensor.dtype).data)
    return tensor


def clamp_(tensor: Tensor, min: Scalar | None = None, max: Scalar | None = None) -> Tensor:
    """Limits every element to [min, max] (numbers; one may be None), in place."""
    check_writable("clamp_", tensor)
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must be given")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None:
            _check_number("clamp_", name, tensor, bound, "a number or None")
    return _write_result("clamp_", tensor, lambda x: ops.clamp(x, min, max))


def masked_fill_(tensor: Tensor, mask: Tensor, value: Tensor | Scalar) -> Tensor:
    """Sets the elements where the bool `mask` (broadcast to the tensor's shape) holds to
    `value` (a number or a 0-d Tensor), on the device: no host read, unlike `x[mask] = value`."""
    check_writable("masked_fill_", tensor, value)
    return _write_result("masked_fill_", tensor, lambda x: ops.masked_fill(x, mask, value))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fills a float tensor with samples of N(mean, std^2) from `generator` (the global one of
    `backprop.random` by default), as `nn.init.normal_`."""
    check_writable("normal_", tensor)
    _check_not_broadcast("normal_", tensor)
    tensor._version += 1
    return init.normal_(tensor, mean, std, generator)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fills a float tensor with samples of U(a, b) from `generator` (the global one of
    `backprop.random` by default), as `nn.init.uniform_`."""
    check_writable("uniform_", tensor)
    _check_not_broadcast("uniform_", tensor)
    tensor._version += 1
    return init.uniform_(tensor, a, b, generator)


def unary_(op: str, tensor: Tensor, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """Writes `compute(tensor)` into `tensor` (`x.exp_()`, `x.relu_()`): the in-place form of
    an elementwise op, refused where `check_writable` refuses, and where the result's dtype
    cannot be held (`exp_` of an integer tensor), as in PyTorch."""
    check_writable(op, tensor)
    return _write_result(op, tensor, compute)


def clamp_bound_(op: str, tensor: Tensor, bound: Scalar) -> Tensor:
    """`clamp_min_(min)` or `clamp_max_(max)`: one bound of `clamp_`, a number."""
    check_writable(op, tensor)
    name = op.removeprefix("clamp_").removesuffix("_")
    _check_number(op, name, tensor, bound, "a number")
    low, high = (bound, None) if name == "min" else (None, bound)
    return _write_result(op, tensor, lambda x: ops.clamp(x, low, high))


# -- PyTorch's inplace= option of the activation and dropout functions and layers ----------------


def check_inplace_flag(op: str, inplace: Any) -> None:
    """`inplace` is a bool."""
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"{op}: inplace must be a bool, got {inplace!r}")


def inplace_result(op: str, input: Tensor, result: Tensor, inplace: bool) -> Tensor:
    """What a function with PyTorch's `inplace=` option returns (`F.relu(x, inplace=True)`).

    `inplace=False`: `result`. `inplace=True`: `result` written into `input`'s own memory and
    `input` returned, where autograd cannot need the old values (grad mode off, or neither
    requires grad), as PyTorch does. Where autograd is involved the write is not made and
    `result`, computed out of place, is returned: backprop does not record in-place ops in
    the graph (see the module docstring), so the option then saves no memory, and code that
    relies on `input` being changed (not on the value returned) does not see the change; the
    values and gradients of the returned tensor are PyTorch's. A leaf that requires grad is
    not refused, unlike in PyTorch."""
    check_inplace_flag(op, inplace)
    if not inplace or result is input:
        return result
    if autograd.is_grad_enabled() and (input.requires_grad or result.requires_grad):
        return result
    _write(op, input, result.data)
    return input


def inplace_repr(extra_repr: str, inplace: bool) -> str:
    """A layer's `extra_repr` with PyTorch's `inplace=True` appended when it is set."""
    if not inplace:
        return extra_repr
    return f"{extra_repr}, inplace=True" if extra_repr else "inplace=True"


# -- indexed assignment ---------------------------------------------------------------------------


def setitem(tensor: Tensor, index: Any, value: Tensor | Scalar) -> None:
    """`tensor[index] = value`: `index` as `getitem` takes it, `value` a number or a Tensor on
    the same device broadcastable to `tensor[index]`'s shape, cast to the tensor's dtype.

    A bool mask over the tensor's leading axes (`x[mask] = v`) with a value that does not
    depend on how many entries it selects (a number, or a Tensor broadcastable to one selected
    element) is written with a `where` on the device. Any other bool index (a value per
    selected element, a mask after other index items) needs the mask's positions, which
    `getitem`'s index conversion finds on the host (a device-to-host copy: not capturable into
    a CUDA graph). `masked_fill_` never reads the host. An integer index that repeats a
    position leaves one of its values there (which one is unspecified, as in PyTorch).
    """
    check_writable("setitem", tensor, value)
    if isinstance(value, Tensor):
        common_device("setitem", (tensor, value))
        array = tensor.backend.astype(value.data, tensor.dtype)
    elif isinstance(value, NUMBER_TYPES):
        array = value
    else:
        raise TypeError(f"setitem: value must be a number or a Tensor, got {type(value).__name__}")
    _check_not_broadcast("setitem", tensor)
    tensor._version += 1
    element_value = _element_value_shape(tensor, index, value)
    if element_value is not None:
        backend = tensor.backend
        if isinstance(value, Tensor):
            array = backend.reshape(array, element_value)
        mask = backend.reshape(index.data, index.shape + (1,) * (tensor.ndim - index.ndim))
        backend.assign(tensor.data, backend.where(mask, array, tensor.data))
        return
    backend_index = _backend_index(tensor, index)
    try:
        tensor.backend.setitem(tensor.data, backend_index, array)
    except (IndexError, ValueError) as error:
        raise type(error)(f"setitem: {error} (tensor of shape {tensor.shape})") from None


def _element_value_shape(tensor: Tensor, index: Any, value: Tensor | Scalar) -> tuple | None:
    """For a bool mask over the tensor's leading axes (a Tensor on its device) and a value that
    broadcasts to `tensor[index]` whatever the number of entries selected (a number, or a
    Tensor broadcastable to one selected element, optionally with a leading axis of size 1):
    the value's shape without that axis, written by a `where`. None otherwise."""
    if not (
        isinstance(index, Tensor)
        and index.dtype == bool
        and index.shape == tensor.shape[: index.ndim]
        and index.device == tensor.device
    ):
        return None
    if not isinstance(value, Tensor):
        return ()
    element = tensor.shape[index.ndim :]
    shape = value.shape
    if len(shape) == len(element) + 1 and shape[0] == 1:
        shape = shape[1:]
    fits = all(size in (1, axis) for size, axis in zip(reversed(shape), reversed(element)))
    return shape if fits and len(shape) <= len(element) else None


# -- writing --------------------------------------------------------------------------------------


def _write(op: str, tensor: Tensor, value: Any) -> None:
    """Writes `value` (a backend array broadcastable to the tensor's shape, or a number) into
    the tensor's own array."""
    _check_not_broadcast(op, tensor)
    tensor.backend.assign(tensor.data, value)
    tensor._version += 1


def _check_not_broadcast(op: str, tensor: Tensor) -> None:
    """NumPy's broadcast views (`expand`, `broadcast_to`) are read-only, their elements sharing
    memory; PyTorch refuses to write into such a tensor too."""
    flags = getattr(tensor.data, "flags", None)
    if getattr(flags, "writeable", True) is False:
        raise RuntimeError(
            f"{op}: the tensor of shape {tensor.shape} is a broadcast view (made by expand or "
            "broadcast_to) whose elements share memory; write into x.clone() instead"
        )
