"""Tensor: a backend array, the device it lives on, its gradient, and the Function that made it.

Every method here is a thin spelling of an op in `backprop.ops`; the math lives there.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backprop.device import Device
from backprop.device import device as resolve_device

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int64 = np.dtype("int64")
int32 = np.dtype("int32")
bool_ = np.dtype("bool")
FLOAT_DTYPES = (float32, float64)

Scalar = int | float | bool


def as_dtype(dtype: Any, op: str = "tensor") -> np.dtype:
    """Normalises a dtype spelling ("float32", np.float64, backprop.float32) to a NumPy dtype."""
    try:
        result = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype") from None
    if result not in (float32, float64, int64, int32, bool_):
        raise TypeError(
            f"{op}: dtype {result} is not supported; use float32, float64, int64, int32 or bool"
        )
    return result


def torch_names(**renames: str) -> Callable[[Callable], Callable]:
    """Lets an op also take PyTorch's keyword names of its axis arguments, each mapped to ours:
    under `@torch_names(dim="axis", keepdim="keepdims")`, `x.sum(dim=1, keepdim=True)` is
    `x.sum(axis=1, keepdims=True)`. One argument given under both names is a TypeError; a call
    with no keywords goes straight through, so positional calls cost one dict check."""

    def decorate(function: Callable) -> Callable:
        parameters = inspect.signature(function).parameters
        for torch_name, name in renames.items():
            if name not in parameters or torch_name in parameters:
                raise TypeError(
                    f"torch_names: {function.__qualname__} needs a parameter {name!r} and none "
                    f"named {torch_name!r}, got parameters {tuple(parameters)}"
                )
        slots = {name: _positional_slot(parameters, name) for name in renames.values()}
        op = function.__name__

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            if kwargs:
                args = _rename_keywords(op, renames, slots, args, kwargs)
            return function(*args, **kwargs)

        return call

    return decorate


def _positional_slot(parameters: Any, name: str) -> tuple[float, bool]:
    """How many positional arguments come before parameter `name` (infinite for a keyword-only
    one), and whether it is a `*axes` parameter, which takes PyTorch's keyword as one more
    positional argument."""
    kind = parameters[name].kind
    if kind is inspect.Parameter.KEYWORD_ONLY:
        return math.inf, False
    return list(parameters).index(name), kind is inspect.Parameter.VAR_POSITIONAL


def _rename_keywords(
    op: str, renames: dict[str, str], slots: dict, args: tuple, kwargs: dict
) -> tuple:
    """Moves each keyword under PyTorch's name in `kwargs` to ours (onto the end of `args` for a
    `*axes` parameter); the same argument also given by our name or by position is refused."""
    for torch_name, name in renames.items():
        if torch_name not in kwargs:
            continue
        slot, variadic = slots[name]
        if name in kwargs or len(args) > slot:
            raise TypeError(
                f"{op}: got both {torch_name}= (PyTorch's name) and {name} (backprop's name, by "
                "keyword or position) for the same argument; pass it once"
            )
        value = kwargs.pop(torch_name)
        if variadic:
            args = (*args, value)
        else:
            kwargs[name] = value
    return args


class Tensor:
    """An n-dimensional array on one device that records how it was computed.

    Build one with `backprop.tensor(data, dtype=..., device=..., requires_grad=...)` or a
    factory such as `backprop.randn`; ops on tensors that require grad record the graph that
    `backward()` walks.
    """

    __slots__ = (
        "data",
        "device",
        "requires_grad",
        "grad",
        "_creator",
        "_output_index",
        "_retains_grad",
        "_grad_hooks",
        "_post_accumulate_grad_hooks",
        "_version",
        "__weakref__",
    )
    __array_priority__ = 1000
    __array_ufunc__ = None  # numpy defers `ndarray * Tensor` to Tensor.__rmul__

    def __init__(
        self,
        data: Any,
        dtype: Any = None,
        device: Device | str | None = None,
        requires_grad: bool = False,
    ):
        dev = resolve_device(device)
        if isinstance(data, Tensor):
            data = data.detach().to(dev).data
        elif isinstance(data, np.ndarray) or not dev.backend.is_array(data):
            # NumPy arrays too (they are the numpy backend's own arrays): their dtype must be
            # checked and mapped (float16 -> float32, int16 -> int64, strings refused).
            data = dev.backend.from_host(_host_array(data, dtype))
        if dtype is not None and data.dtype != as_dtype(dtype):
            data = dev.backend.astype(data, as_dtype(dtype))
        self._init(data, dev, False)
        self.requires_grad_(requires_grad)

    @classmethod
    def _make(cls, data: Any, device: Device, requires_grad: bool = False) -> Tensor:
        """Wraps a backend array without copying or checking: the ops' fast path."""
        if isinstance(data, np.generic):  # NumPy ops on 0-d arrays return scalars
            data = np.asarray(data)
        tensor = cls.__new__(cls)
        tensor._init(data, device, requires_grad)
        return tensor

    def _init(self, data: Any, device: Device, requires_grad: bool) -> None:
        self.data = data
        self.device = device
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self._creator = None
        self._output_index = 0
        self._retains_grad = False
        self._grad_hooks: list | None = None
        self._post_accumulate_grad_hooks: list | None = None
        self._version = 0  # in-place writes so far; autograd checks it (`Function`)

    # -- properties ----------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return len(self.data.shape)

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or the size of axis `dim`, as `torch.Tensor.size` (`numel()` counts the
        elements)."""
        if dim is None:
            return self.shape
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"size: dim must be an int, got {dim!r}")
        if not -max(self.ndim, 1) <= dim < max(self.ndim, 1) or self.ndim == 0:
            raise IndexError(f"size: dim {dim} is out of range for a tensor of shape {self.shape}")
        return self.shape[dim]

    def numel(self) -> int:
        return math.prod(self.data.shape)

    @property
    def backend(self):
        return self.device.backend

    @property
    def is_leaf(self) -> bool:
        return self._creator is None

    @property
    def T(self) -> Tensor:
        """All axes reversed, as NumPy's `.T`."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped: a batch of matrices transposed."""
        return self.transpose(-2, -1)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = "" if self.device.type == "cpu" else f", device='{self.device}'"
        if self.dtype not in (float32, int64, bool_):
            extras += f", dtype={self.dtype}"
        if self._creator is not None:
            extras += f", grad_fn=<{self._creator.name}>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    # -- autograd ------------------------------------------------------------------------------

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"requires_grad: only float32 and float64 tensors can require gradients, "
                f"got {self.dtype}"
            )
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_: cannot turn off gradients of a non-leaf tensor")
        self.requires_grad = requires_grad
        return self

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulates this tensor's gradient with respect to every leaf into their `.grad`."""
        autograd.backward(self, gradient, retain_graph, create_graph)

    def retain_grad(self) -> None:
        """Keeps `.grad` on this non-leaf tensor after backward."""
        self._retains_grad = True

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Calls `hook(grad)` each time backward (or `grad`) computes the gradient with respect
        to this tensor, before it flows on or into `.grad`; a Tensor it returns replaces the
        gradient. Hooks run in the order registered."""
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        if not self.requires_grad:
            raise RuntimeError(
                f"register_hook: a tensor of shape {self.shape} that does not require grad gets "
                "no gradient to hook"
            )
        if self._grad_hooks is None:
            self._grad_hooks = []
        return RemovableHandle(self._grad_hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Calls `hook(tensor)` after backward has accumulated into this leaf's `.grad`
        (data-parallel training averages gradients across processes from here)."""
        if not self.is_leaf:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors have one")
        if self._post_accumulate_grad_hooks is None:
            self._post_accumulate_grad_hooks = []
        return RemovableHandle(self._post_accumulate_grad_hooks, hook)

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._make(self.data, self.device)

    def clone(self) -> Tensor:
        """A copy in memory of its own that stays in the graph."""
        return ops.clone(self)

    def __deepcopy__(self, memo: dict) -> Tensor:
        """`copy.deepcopy`: a leaf of the same class with data of its own on the same device,
        the same `requires_grad` and a copy of `.grad`, as PyTorch copies a leaf (each backend
        copies its own arrays, so a model on any device can be deep-copied)."""
        if self._creator is not None:
            raise RuntimeError(
                "deepcopy: only leaf tensors (made by the user, not by an op) can be copied, "
                "as in PyTorch; copy x.detach() instead"
            )
        copied = type(self)._make(self.backend.copy(self.data), self.device, self.requires_grad)
        memo[id(self)] = copied
        if self.grad is not None:
            copied.grad = copy.deepcopy(self.grad, memo)
        return copied

    def contiguous(self) -> Tensor:
        """This tensor: every op here takes any memory layout, so PyTorch code that asks for
        a contiguous tensor (before `view`, say) runs unchanged."""
        return self

    # -- in-place operations -------------------------------------------------------------------
    # Each writes into this tensor's own array and returns it; `backprop.inplace` has the rules
    # (refused where autograd would need the old value: a leaf that requires grad outside
    # `no_grad`, or a tensor of the graph, whose in-place change PyTorch records and we do
    # not; use the out-of-place form there, such as `x = x.masked_fill(mask, value)`), and
    # each counts in `_version`, which backward checks.

    def __setitem__(self, index: Any, value: Tensor | Scalar) -> None:
        """`x[index] = value`: index as `x[index]` takes it, value broadcast and cast."""
        inplace.setitem(self, index, value)

    def add_(self, other: Tensor | Scalar, *, alpha: Scalar = 1) -> Tensor:
        """`x += alpha * other`, in place."""
        return inplace.add_(self, other, alpha)

    def sub_(self, other: Tensor | Scalar, *, alpha: Scalar = 1) -> Tensor:
        """`x -= alpha * other`, in place."""
        return inplace.sub_(self, other, alpha)

    def mul_(self, other: Tensor | Scalar) -> Tensor:
        """`x *= other`, in place."""
        return inplace.mul_(self, other)

    def div_(self, other: Tensor | Scalar) -> Tensor:
        """`x /= other`, in place."""
        return inplace.div_(self, other)

    def pow_(self, exponent: Tensor | Scalar) -> Tensor:
        """`x **= exponent`, in place."""
        return inplace.pow_(self, exponent)

    def __iadd__(self, other: Tensor | Scalar) -> Tensor:
        """`x += other`: in place where `add_` is allowed, else out of place (see
        `inplace.augmented`)."""
        return inplace.augmented("add_", self, other)

    def __isub__(self, other: Tensor | Scalar) -> Tensor:
        """`x -= other`: in place where `sub_` is allowed, else out of place (see
        `inplace.augmented`)."""
        return inplace.augmented("sub_", self, other)

    def __imul__(self, other: Tensor | Scalar) -> Tensor:
        """`x *= other`: in place where `mul_` is allowed, else out of place (see
        `inplace.augmented`)."""
        return inplace.augmented("mul_", self, other)

    def __itruediv__(self, other: Tensor | Scalar) -> Tensor:
        """`x /= other`: in place where `div_` is allowed, else out of place (see
        `inplace.augmented`)."""
        return inplace.augmented("div_", self, other)

    def fill_(self, value: Tensor | Scalar) -> Tensor:
        """Sets every element to `value` (a number or a 0-d Tensor), in place."""
        return inplace.fill_(self, value)

    def zero_(self) -> Tensor:
        """Sets every element to zero, in place."""
        return inplace.zero_(self)

    def copy_(self, src: Tensor) -> Tensor:
        """Writes `src` (broadcast, cast, from any device) into this tensor."""
        return inplace.copy_(self, src)

    def clamp_(self, min: Scalar | None = None, max: Scalar | None = None) -> Tensor:
        """Limits every element to [min, max], in place."""
        return inplace.clamp_(self, min, max)

    def clip_(self, min: Scalar | None = None, max: Scalar | None = None) -> Tensor:
        """PyTorch's alias of `clamp_`."""
        return inplace.clamp_(self, min, max)

    def masked_fill_(self, mask: Tensor, value: Tensor | Scalar) -> Tensor:
        """Sets the elements where `mask` holds to `value`, in place, on the device."""
        return inplace.masked_fill_(self, mask, value)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fills this float tensor with samples of N(mean, std^2), in place."""
        return inplace.normal_(self, mean, std, generator)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fills this float tensor with samples of U(a, b), in place."""
        return inplace.uniform_(self, a, b, generator)

    # -- host and device -----------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """A NumPy copy of the data (a host transfer for GPU tensors)."""
        return np.array(self.backend.to_host(self.data), copy=True)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def item(self) -> Scalar:
        """The value of a one-element tensor as a Python number (reads the device)."""
        if self.numel() != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got {self.shape}")
        return self.backend.to_host(self.data).reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def to(self, target: Any = None, dtype: Any = None) -> Tensor:
        """A copy on another device and/or of another dtype: `t.to("cuda")`, `t.to("float64")`.

        Differentiable: the gradient flows back to this tensor's device and dtype.
        """
        if target is not None and not isinstance(target, Device):
            with contextlib.suppress(TypeError):
                dtype, target = as_dtype(target, "to"), None
        result = self
        if target is not None:
            result = ops.to_device(result, resolve_device(target))
        if dtype is not None and as_dtype(dtype, "to") != result.dtype:
            result = ops.astype(result, as_dtype(dtype, "to"))
        return result

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(f"cuda:{index}")

    def float(self) -> Tensor:
        return self.to(dtype=float32)

    def double(self) -> Tensor:
        return self.to(dtype=float64)

    def long(self) -> Tensor:
        return self.to(dtype=int64)

    # -- arithmetic ----------------------------------------------------------------------------

    def __add__(self, other: Tensor | Scalar) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Scalar) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Tensor | Scalar) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Scalar) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Tensor | Scalar) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Scalar) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Tensor | Scalar) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Scalar) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, other: Tensor | Scalar) -> Tensor:
        return ops.pow(self, other)

    def __rpow__(self, other: Scalar) -> Tensor:
        return ops.pow(other, self)

    def __matmul__(self, other: Tensor) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Tensor) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    # Comparisons give bool tensors outside the graph, as in PyTorch.
    def __eq__(self, other: Tensor | Scalar) -> Tensor:  # type: ignore[override]
        return ops.compare("eq", self, other)

    def __ne__(self, other: Tensor | Scalar) -> Tensor:  # type: ignore[override]
        return ops.compare("ne", self, other)

    def __lt__(self, other: Tensor | Scalar) -> Tensor:
        return ops.compare("lt", self, other)

    def __le__(self, other: Tensor | Scalar) -> Tensor:
        return ops.compare("le", self, other)

    def __gt__(self, other: Tensor | Scalar) -> Tensor:
        return ops.compare("gt", self, other)

    def __ge__(self, other: Tensor | Scalar) -> Tensor:
        return ops.compare("ge", self, other)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # -- elementwise math ----------------------------------------------------------------------

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def sin(self) -> Tensor:
        return ops.sin(self)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def sign(self) -> Tensor:
        return ops.sign(self)

    def tan(self) -> Tensor:
        return ops.tan(self)

    def log1p(self) -> Tensor:
        return ops.log1p(self)

    def expm1(self) -> Tensor:
        return ops.expm1(self)

    def rsqrt(self) -> Tensor:
        return ops.rsqrt(self)

    def reciprocal(self) -> Tensor:
        return ops.reciprocal(self)

    def square(self) -> Tensor:
        return ops.square(self)

    def maximum(self, other: Tensor | Scalar) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Tensor | Scalar) -> Tensor:
        return ops.minimum(self, other)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        return ops.clamp(self, min, max)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """PyTorch's alias of `clamp`."""
        return ops.clamp(self, min, max)

    def masked_fill(self, mask: Tensor, value: Tensor | Scalar) -> Tensor:
        return ops.masked_fill(self, mask, value)

    def exp2(self) -> Tensor:
        return ops.exp2(self)

    def log2(self) -> Tensor:
        return ops.log2(self)

    def log10(self) -> Tensor:
        return ops.log10(self)

    def sinh(self) -> Tensor:
        return ops.sinh(self)

    def cosh(self) -> Tensor:
        return ops.cosh(self)

    def asin(self) -> Tensor:
        return ops.asin(self)

    def arcsin(self) -> Tensor:
        return ops.arcsin(self)

    def acos(self) -> Tensor:
        return ops.acos(self)

    def arccos(self) -> Tensor:
        return ops.arccos(self)

    def atan(self) -> Tensor:
        return ops.atan(self)

    def arctan(self) -> Tensor:
        return ops.arctan(self)

    def asinh(self) -> Tensor:
        return ops.asinh(self)

    def arcsinh(self) -> Tensor:
        return ops.arcsinh(self)

    def acosh(self) -> Tensor:
        return ops.acosh(self)

    def arccosh(self) -> Tensor:
        return ops.arccosh(self)

    def atanh(self) -> Tensor:
        return ops.atanh(self)

    def arctanh(self) -> Tensor:
        return ops.arctanh(self)

    def deg2rad(self) -> Tensor:
        return ops.deg2rad(self)

    def rad2deg(self) -> Tensor:
        return ops.rad2deg(self)

    def sinc(self) -> Tensor:
        return ops.sinc(self)

    def erfc(self) -> Tensor:
        return ops.erfc(self)

    def erfinv(self) -> Tensor:
        return ops.erfinv(self)

    def atan2(self, other: Tensor | Scalar) -> Tensor:
        return ops.atan2(self, other)

    def arctan2(self, other: Tensor | Scalar) -> Tensor:
        return ops.arctan2(self, other)

    def hypot(self, other: Tensor | Scalar) -> Tensor:
        return ops.hypot(self, other)

    def logaddexp(self, other: Tensor | Scalar) -> Tensor:
        return ops.logaddexp(self, other)

    def logaddexp2(self, other: Tensor | Scalar) -> Tensor:
        return ops.logaddexp2(self, other)

    def fmod(self, other: Tensor | Scalar) -> Tensor:
        return ops.fmod(self, other)

    def remainder(self, other: Tensor | Scalar) -> Tensor:
        return ops.remainder(self, other)

    def floor_divide(self, other: Tensor | Scalar) -> Tensor:
        return ops.floor_divide(self, other)

    def true_divide(self, other: Tensor | Scalar) -> Tensor:
        return ops.true_divide(self, other)

    def xlogy(self, other: Tensor | Scalar) -> Tensor:
        return ops.xlogy(self, other)

    def copysign(self, other: Tensor | Scalar) -> Tensor:
        return ops.copysign(self, other)

    def heaviside(self, values: Tensor) -> Tensor:
        return ops.heaviside(self, values)

    def logit(self, eps: float | None = None) -> Tensor:
        return ops.logit(self, eps)

    # -- activations ---------------------------------------------------------------------------

    def relu(self) -> Tensor:
        return ops.activation(self, "relu")

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return ops.activation(self, "leaky_relu", negative_slope)

    def sigmoid(self) -> Tensor:
        return ops.activation(self, "sigmoid")

    def tanh(self) -> Tensor:
        return ops.activation(self, "tanh")

    def gelu(self, approximate: str = "none") -> Tensor:
        return ops.gelu(self, approximate)

    def silu(self) -> Tensor:
        return ops.activation(self, "silu")

    def softplus(self, beta: float = 1.0) -> Tensor:
        return ops.activation(self, "softplus", beta)

    def elu(self, alpha: float = 1.0) -> Tensor:
        return ops.activation(self, "elu", alpha)

    @torch_names(dim="axis")
    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis)

    @torch_names(dim="axis")
    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis)

    # -- reductions ----------------------------------------------------------------------------

    @torch_names(dim="axis", keepdim="keepdims")
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.reduce("sum", self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.reduce("mean", self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def max(self, axis: int | Tensor | None = None, keepdims: bool = False) -> Tensor | tuple:
        return ops.max(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def min(self, axis: int | Tensor | None = None, keepdims: bool = False) -> Tensor | tuple:
        return ops.min(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def var(
        self,
        axis: int | Sequence[int] | bool | None = None,
        unbiased: bool | None = None,
        keepdims: bool = False,
        *,
        correction: int | None = None,
    ) -> Tensor:
        return ops.var(self, axis, unbiased, keepdims, correction=correction)

    @torch_names(dim="axis", keepdim="keepdims")
    def std(
        self,
        axis: int | Sequence[int] | bool | None = None,
        unbiased: bool | None = None,
        keepdims: bool = False,
        *,
        correction: int | None = None,
    ) -> Tensor:
        return ops.std(self, axis, unbiased, keepdims, correction=correction)

    @torch_names(dim="axis", keepdim="keepdims")
    def amax(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.amax(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def amin(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.amin(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def prod(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.prod(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def norm(
        self,
        p: float | str = 2,
        axis: int | Sequence[int] | None = None,
        keepdims: bool = False,
    ) -> Tensor:
        return ops.norm(self, p, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def logsumexp(self, axis: int | Sequence[int] | None, keepdims: bool = False) -> Tensor:
        return ops.logsumexp(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return ops.argmax(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return ops.argmin(self, axis, keepdims)

    # -- shape and movement --------------------------------------------------------------------

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.reshape(self, _shape_args(shape))

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.reshape(self, _shape_args(shape))

    @torch_names(start_dim="start_axis", end_dim="end_axis")
    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        return ops.flatten(self, start_axis, end_axis)

    @torch_names(dims="axes")
    def permute(self, *axes: int | Sequence[int]) -> Tensor:
        return ops.permute(self, _shape_args(axes))

    @torch_names(dim0="axis0", dim1="axis1")
    def transpose(self, axis0: int, axis1: int) -> Tensor:
        return ops.transpose(self, axis0, axis1)

    @torch_names(dim="axis")
    def squeeze(self, axis: int | None = None) -> Tensor:
        return ops.squeeze(self, axis)

    @torch_names(dim="axis")
    def unsqueeze(self, axis: int) -> Tensor:
        return ops.unsqueeze(self, axis)

    def broadcast_to(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, _shape_args(shape))

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, _shape_args(shape))

    @torch_names(dim="axis")
    def gather(self, axis: int, index: Tensor) -> Tensor:
        return ops.gather(self, axis, index)

    @torch_names(dim="axis")
    def index_select(self, axis: int, index: Tensor) -> Tensor:
        return ops.index_select(self, axis, index)

    @torch_names(dims="axes")
    def flip(self, *axes: int | Sequence[int]) -> Tensor:
        return ops.flip(self, _shape_args(axes))

    @torch_names(dims="axis")
    def roll(self, shifts: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Tensor:
        return ops.roll(self, shifts, axis)

    def repeat(self, *sizes: int | Sequence[int]) -> Tensor:
        return ops.repeat(self, _shape_args(sizes))

    def tile(self, *sizes: int | Sequence[int]) -> Tensor:
        return ops.tile(self, _shape_args(sizes))

    @torch_names(dim="axis")
    def split(
        self, split_size_or_sections: int | Sequence[int], axis: int = 0
    ) -> tuple[Tensor, ...]:
        return ops.split(self, split_size_or_sections, axis)

    @torch_names(dim="axis")
    def chunk(self, chunks: int, axis: int = 0) -> tuple[Tensor, ...]:
        return ops.chunk(self, chunks, axis)

    def matmul(self, other: Tensor) -> Tensor:
        return ops.matmul(self, other)

    # -- linear algebra and scans --------------------------------------------------------------

    def mm(self, mat2: Tensor) -> Tensor:
        return ops.mm(self, mat2)

    def bmm(self, batch2: Tensor) -> Tensor:
        return ops.bmm(self, batch2)

    def mv(self, vec: Tensor) -> Tensor:
        return ops.mv(self, vec)

    def dot(self, other: Tensor) -> Tensor:
        return ops.dot(self, other)

    def outer(self, vec2: Tensor) -> Tensor:
        return ops.outer(self, vec2)

    def addmm(self, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
        return ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(
        self, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1
    ) -> Tensor:
        return ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def trace(self) -> Tensor:
        return ops.trace(self)

    @torch_names(dim="axis")
    def cumsum(self, axis: int) -> Tensor:
        return ops.cumsum(self, axis)

    @torch_names(dim="axis")
    def cumprod(self, axis: int) -> Tensor:
        return ops.cumprod(self, axis)

    @torch_names(dim="axis")
    def logcumsumexp(self, axis: int) -> Tensor:
        return ops.logcumsumexp(self, axis)

    # -- comparisons, predicates and rounding --------------------------------------------------

    def eq(self, other: Tensor | Scalar) -> Tensor:
        return ops.eq(self, other)

    def ne(self, other: Tensor | Scalar) -> Tensor:
        return ops.ne(self, other)

    def lt(self, other: Tensor | Scalar) -> Tensor:
        return ops.lt(self, other)

    def le(self, other: Tensor | Scalar) -> Tensor:
        return ops.le(self, other)

    def gt(self, other: Tensor | Scalar) -> Tensor:
        return ops.gt(self, other)

    def ge(self, other: Tensor | Scalar) -> Tensor:
        return ops.ge(self, other)

    # PyTorch's longer names of the same comparisons.
    not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge

    def logical_not(self) -> Tensor:
        return ops.logical_not(self)

    def logical_and(self, other: Tensor) -> Tensor:
        return ops.logical_and(self, other)

    def logical_or(self, other: Tensor) -> Tensor:
        return ops.logical_or(self, other)

    def logical_xor(self, other: Tensor) -> Tensor:
        return ops.logical_xor(self, other)

    def bitwise_not(self) -> Tensor:
        return ops.bitwise_not(self)

    def bitwise_and(self, other: Tensor | bool) -> Tensor:
        return ops.bitwise_and(self, other)

    def bitwise_or(self, other: Tensor | bool) -> Tensor:
        return ops.bitwise_or(self, other)

    def bitwise_xor(self, other: Tensor | bool) -> Tensor:
        return ops.bitwise_xor(self, other)

    def __invert__(self) -> Tensor:
        """`~x`: logical not of a bool tensor, bitwise not of an integer tensor."""
        return ops.bitwise_not(self)

    def __and__(self, other: Tensor | bool) -> Tensor:
        """`x & y` of bool tensors."""
        return ops.bitwise_and(self, other)

    def __rand__(self, other: bool) -> Tensor:
        return ops.bitwise_and(other, self)

    def __or__(self, other: Tensor | bool) -> Tensor:
        """`x | y` of bool tensors."""
        return ops.bitwise_or(self, other)

    def __ror__(self, other: bool) -> Tensor:
        return ops.bitwise_or(other, self)

    def __xor__(self, other: Tensor | bool) -> Tensor:
        """`x ^ y` of bool tensors."""
        return ops.bitwise_xor(self, other)

    def __rxor__(self, other: bool) -> Tensor:
        return ops.bitwise_xor(other, self)

    @torch_names(dim="axis", keepdim="keepdims")
    def any(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.any(self, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def all(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.all(self, axis, keepdims)

    def isnan(self) -> Tensor:
        return ops.isnan(self)

    def isinf(self) -> Tensor:
        return ops.isinf(self)

    def isfinite(self) -> Tensor:
        return ops.isfinite(self)

    def isposinf(self) -> Tensor:
        return ops.isposinf(self)

    def isneginf(self) -> Tensor:
        return ops.isneginf(self)

    def nan_to_num(
        self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
    ) -> Tensor:
        return ops.nan_to_num(self, nan, posinf, neginf)

    def floor(self) -> Tensor:
        return ops.floor(self)

    def ceil(self) -> Tensor:
        return ops.ceil(self)

    def round(self, decimals: int = 0) -> Tensor:
        return ops.round(self, decimals)

    def trunc(self) -> Tensor:
        return ops.trunc(self)

    def frac(self) -> Tensor:
        return ops.frac(self)

    def lerp(self, end: Tensor, weight: Tensor | float) -> Tensor:
        return ops.lerp(self, end, weight)

    def erf(self) -> Tensor:
        return ops.erf(self)

    def pow(self, exponent: Tensor | Scalar) -> Tensor:
        return ops.pow(self, exponent)

    def type_as(self, other: Tensor) -> Tensor:
        return ops.type_as(self, other)

    def expand_as(self, other: Tensor) -> Tensor:
        return ops.expand_as(self, other)

    def view_as(self, other: Tensor) -> Tensor:
        return ops.view_as(self, other)

    def tril(self, diagonal: int = 0) -> Tensor:
        return ops.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return ops.triu(self, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        return ops.diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal: int = 0) -> Tensor:
        return ops.diag(self, diagonal)

    # -- PyTorch's everyday conveniences ------------------------------------------------------
    # Spellings of `backprop.torch_functions` (add, sub, div with their options) and of
    # `backprop.ops.extras`, queries of the tensor's metadata, factories of its dtype and
    # device, and the in-place forms of common elementwise ops (under `backprop.inplace`'s
    # rules, as `add_`).

    def add(self, other: Tensor | Scalar, *, alpha: Scalar = 1) -> Tensor:
        """`self + alpha * other`, as `torch.Tensor.add`."""
        return torch_functions.add(self, other, alpha=alpha)

    def sub(self, other: Tensor | Scalar, *, alpha: Scalar = 1) -> Tensor:
        """`self - alpha * other`, as `torch.Tensor.sub`."""
        return torch_functions.sub(self, other, alpha=alpha)

    def mul(self, other: Tensor | Scalar) -> Tensor:
        return ops.mul(self, other)

    def div(self, other: Tensor | Scalar, *, rounding_mode: str | None = None) -> Tensor:
        """`self / other`, true or rounded ("trunc", "floor"), as `torch.Tensor.div`."""
        return torch_functions.div(self, other, rounding_mode=rounding_mode)

    def neg(self) -> Tensor:
        return ops.neg(self)

    def positive(self) -> Tensor:
        return extras.positive(self)

    def sgn(self) -> Tensor:
        return extras.sgn(self)

    def addcmul(self, tensor1: Tensor, tensor2: Tensor, *, value: Scalar = 1) -> Tensor:
        return extras.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1: Tensor, tensor2: Tensor, *, value: Scalar = 1) -> Tensor:
        return extras.addcdiv(self, tensor1, tensor2, value=value)

    def where(self, condition: Tensor, other: Tensor | Scalar) -> Tensor:
        """This tensor where `condition` holds, else `other`: `backprop.where(condition, self,
        other)`."""
        return ops.where(condition, self, other)

    def int(self) -> Tensor:
        return self.to(dtype=int32)

    def bool(self) -> Tensor:
        return self.to(dtype=bool_)

    def dim(self) -> int:
        return self.ndim

    def ndimension(self) -> int:
        return self.ndim

    def nelement(self) -> int:
        return self.numel()

    def element_size(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of all the elements (as if stored contiguously)."""
        return self.numel() * self.dtype.itemsize

    def is_contiguous(self) -> bool:
        """True for every tensor: `contiguous()` returns the tensor itself and every op takes
        any memory layout, so PyTorch code that checks before `view` runs unchanged."""
        return True

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def grad_fn(self) -> Any:
        """The Function that made this tensor in the recorded graph; None for a leaf and for a
        tensor made outside it (grad mode off, or no input requiring grad)."""
        return self._creator

    def new_zeros(
        self,
        *size: int | Sequence[int],
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """Zeros of `size`, of this tensor's dtype and on its device unless given."""
        return self._new(creation.zeros, size, dtype, device, requires_grad)

    def new_ones(
        self,
        *size: int | Sequence[int],
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """Ones of `size`, of this tensor's dtype and on its device unless given."""
        return self._new(creation.ones, size, dtype, device, requires_grad)

    def new_empty(
        self,
        *size: int | Sequence[int],
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """An uninitialised tensor of `size`, of this tensor's dtype and on its device unless
        given."""
        return self._new(creation.empty, size, dtype, device, requires_grad)

    def new_full(
        self,
        size: Sequence[int],
        fill_value: Scalar,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """`fill_value` everywhere in `size`, of this tensor's dtype and on its device unless
        given."""
        dtype, device = self._new_options(dtype, device)
        return creation.full(size, fill_value, dtype, device, requires_grad)

    def new_tensor(
        self, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """A copy of `data` (outside the graph), of this tensor's dtype and on its device unless
        given, as `torch.Tensor.new_tensor`."""
        dtype, device = self._new_options(dtype, device)
        if isinstance(data, Tensor):
            data = data.detach().clone()
        return creation.tensor(data, dtype, device, requires_grad)

    def _new(
        self, factory: Callable, size: tuple, dtype: Any, device: Any, requires_grad: bool
    ) -> Tensor:
        """`factory(*size)` (zeros, ones, empty) for the `new_*` methods."""
        dtype, device = self._new_options(dtype, device)
        return factory(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def _new_options(self, dtype: Any, device: Any) -> tuple[Any, Any]:
        """The dtype and device of a `new_*` tensor: this tensor's unless given."""
        return (self.dtype if dtype is None else dtype), (self.device if device is None else device)

    def t(self) -> Tensor:
        return extras.t(self)

    @torch_names(dim="axis")
    def narrow(self, axis: int, start: int, length: int) -> Tensor:
        return extras.narrow(self, axis, start, length)

    @torch_names(dim="axis")
    def unbind(self, axis: int = 0) -> tuple[Tensor, ...]:
        return ops.unbind(self, axis)

    def movedim(self, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
        return extras.movedim(self, source, destination)

    def moveaxis(self, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
        """PyTorch's alias of `movedim`."""
        return extras.movedim(self, source, destination)

    @torch_names(dim0="axis0", dim1="axis1")
    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        """PyTorch's alias of `transpose`."""
        return ops.transpose(self, axis0, axis1)

    @torch_names(dim0="axis0", dim1="axis1")
    def swapdims(self, axis0: int, axis1: int) -> Tensor:
        """PyTorch's alias of `transpose`."""
        return ops.transpose(self, axis0, axis1)

    def reshape_as(self, other: Tensor) -> Tensor:
        return extras.reshape_as(self, other)

    @torch_names(dim="axis")
    def scatter_add(self, axis: int, index: Tensor, src: Tensor) -> Tensor:
        return ops.scatter_add(self, axis, index, src)

    @torch_names(dim="axis")
    def scatter(
        self, axis: int, index: Tensor, src: Tensor | Scalar | None = None, *, value: Any = None
    ) -> Tensor:
        return extras.scatter(self, axis, index, src, value=value)

    @torch_names(dim="axis")
    def index_add(self, axis: int, index: Tensor, source: Tensor, *, alpha: Scalar = 1) -> Tensor:
        return extras.index_add(self, axis, index, source, alpha=alpha)

    @torch_names(dim="axis")
    def index_fill(self, axis: int, index: Tensor, value: Tensor | Scalar) -> Tensor:
        return extras.index_fill(self, axis, index, value)

    def isclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> Tensor:
        return extras.isclose(self, other, rtol, atol, equal_nan)

    def allclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> bool:
        return extras.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other: Tensor) -> bool:
        return extras.equal(self, other)

    @torch_names(dim="axis")
    def count_nonzero(self, axis: int | Sequence[int] | None = None) -> Tensor:
        return extras.count_nonzero(self, axis)

    @torch_names(dim="axis")
    def diff(
        self,
        n: int = 1,
        axis: int = -1,
        prepend: Tensor | None = None,
        append: Tensor | None = None,
    ) -> Tensor:
        return extras.diff(self, n, axis, prepend, append)

    def relu_(self) -> Tensor:
        return inplace.unary_("relu_", self, lambda x: ops.activation(x, "relu"))

    def sigmoid_(self) -> Tensor:
        return inplace.unary_("sigmoid_", self, lambda x: ops.activation(x, "sigmoid"))

    def tanh_(self) -> Tensor:
        return inplace.unary_("tanh_", self, lambda x: ops.activation(x, "tanh"))

    def exp_(self) -> Tensor:
        return inplace.unary_("exp_", self, ops.exp)

    def log_(self) -> Tensor:
        return inplace.unary_("log_", self, ops.log)

    def sqrt_(self) -> Tensor:
        return inplace.unary_("sqrt_", self, ops.sqrt)

    def abs_(self) -> Tensor:
        return inplace.unary_("abs_", self, ops.abs)

    def neg_(self) -> Tensor:
        return inplace.unary_("neg_", self, ops.neg)

    def clamp_min_(self, min: Scalar) -> Tensor:
        """Raises every element below `min` to it, in place."""
        return inplace.clamp_bound_("clamp_min_", self, min)

    def clamp_max_(self, max: Scalar) -> Tensor:
        """Lowers every element above `max` to it, in place."""
        return inplace.clamp_bound_("clamp_max_", self, max)

    # -- sorting and data-dependent shapes -----------------------------------------------------

    @torch_names(dim="axis")
    def sort(self, axis: int = -1, descending: bool = False, stable: bool = False) -> tuple:
        return ops.sort(self, axis, descending, stable)

    @torch_names(dim="axis")
    def argsort(self, axis: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return ops.argsort(self, axis, descending, stable)

    def msort(self) -> Tensor:
        return ops.msort(self)

    @torch_names(dim="axis")
    def topk(self, k: int, axis: int = -1, largest: bool = True, sorted: bool = True) -> tuple:
        return ops.topk(self, k, axis, largest, sorted)

    @torch_names(dim="axis", keepdim="keepdims")
    def kthvalue(self, k: int, axis: int = -1, keepdims: bool = False) -> tuple:
        return ops.kthvalue(self, k, axis, keepdims)

    @torch_names(dim="axis", keepdim="keepdims")
    def median(self, axis: int | None = None, keepdims: bool = False) -> Tensor | tuple:
        return ops.median(self, axis, keepdims)

    def nonzero(self, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
        return ops.nonzero(self, as_tuple)

    def masked_select(self, mask: Tensor) -> Tensor:
        return ops.masked_select(self, mask)

    def unique(
        self,
        sorted: bool = True,
        return_inverse: bool = False,
        return_counts: bool = False,
        dim: int | None = None,
    ) -> Tensor | tuple[Tensor, ...]:
        return ops.unique(self, sorted, return_inverse, return_counts, dim)

    @torch_names(dim="axis")
    def repeat_interleave(self, repeats: int | Tensor, axis: int | None = None) -> Tensor:
        return ops.repeat_interleave(self, repeats, axis)


class RemovableHandle:
    """What registering a hook returns: `remove()` unregisters it (once is enough)."""

    def __init__(self, hooks: list, hook: Callable):
        hooks.append(hook)
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _shape_args(args: tuple) -> tuple[int, ...]:
    """Accepts both `f(2, 3)` and `f((2, 3))`, as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _host_array(data: Any, dtype: Any) -> np.ndarray:
    """Host data as an array of a supported dtype: floats default to float32, as in PyTorch,
    except NumPy float64 arrays, which keep their precision."""
    if dtype is not None:
        return np.asarray(data, dtype=as_dtype(dtype))
    array = np.asarray(data)
    if array.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        return array.astype(float32)
    if array.dtype.kind == "f" and array.dtype not in FLOAT_DTYPES:
        return array.astype(float32)
    if array.dtype.kind in "iu" and (array.dtype != int32 or not isinstance(data, np.ndarray)):
        return array.astype(int64, copy=False)  # a NumPy int32 array keeps its dtype
    if array.dtype.kind not in "fbi":
        raise TypeError(f"tensor: cannot make a tensor from data of dtype {array.dtype}")
    return array


def common_device(op: str, tensors: Sequence[Tensor]) -> Device:
    """The one device all `tensors` live on; mixing devices is an error, never a silent copy."""
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    first = tensors[0].device
    for tensor in tensors[1:]:
        if tensor.device != first:
            shapes = ", ".join(f"{t.shape} on {t.device}" for t in tensors)
            raise RuntimeError(
                f"{op}: expected all tensors on one device, got {shapes}; "
                "move them with .to(device)"
            )
    return first


from backprop import (  # noqa: E402  (they build on Tensor)
    autograd,
    creation,
    inplace,
    ops,
    torch_functions,
)
from backprop.ops import extras  # noqa: E402
