"""The activations beyond `backprop.functional`'s: hardtanh, relu6, hardsigmoid, hardswish, mish,
selu, celu, softsign, tanhshrink, logsigmoid, prelu, glu, softmin and threshold."""

from __future__ import annotations

import warnings
from typing import Any

from backprop import inplace as in_place
from backprop import ops
from backprop.nn.functional._checks import _cells, _float_input, _tensor_argument
from backprop.ops.common import normalize_axis
from backprop.tensor import Tensor

# `inplace=` is PyTorch's option, as `backprop.inplace.inplace_result` takes it: the result is
# written into the input only where autograd is not involved.
#
# The activations are composed of `where` selections and the existing activations, so the
# gradient at a kink is that of the branch `where` picks there; the comparisons are chosen to
# give PyTorch's gradients at the kinks.

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _clip(x: Tensor, low: float, high: float) -> Tensor:
    """`x` limited to [low, high] with gradient 1 strictly inside and 0 at and past the edges
    (PyTorch's hardtanh rule; `clamp` passes the gradient at the edges)."""
    return ops.where(ops.compare("le", x, low), low, ops.where(ops.compare("ge", x, high), high, x))


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """`input` limited to [min_val, max_val]; the gradient is 1 strictly between them and 0 at
    them, as in PyTorch."""
    _float_input("hardtanh", input)
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val must not be greater than max_val, got {min_val} > {max_val}"
        )
    return in_place.inplace_result("hardtanh", input, _clip(input, min_val, max_val), inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh on [0, 6]."""
    _float_input("relu6", input)
    return in_place.inplace_result("relu6", input, _clip(input, 0.0, 6.0), inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """A piecewise-linear sigmoid: 0 up to -3, 1 from 3, (x + 3) / 6 in between."""
    _float_input("hardsigmoid", input)
    result = _clip(input + 3.0, 0.0, 6.0) / 6.0
    return in_place.inplace_result("hardsigmoid", input, result, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * hardsigmoid(x); its gradient is 0 at -3 and 1 at 3, as in PyTorch."""
    _float_input("hardswish", input)
    return in_place.inplace_result("hardswish", input, input * hardsigmoid(input), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    _float_input("mish", input)
    result = input * ops.activation(ops.activation(input, "softplus"), "tanh")
    return in_place.inplace_result("mish", input, result, inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    _float_input("selu", input)
    result = SELU_SCALE * ops.activation(input, "elu", SELU_ALPHA)
    return in_place.inplace_result("selu", input, result, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x / alpha) - 1): alpha * elu(x / alpha). Any alpha but
    0 is taken, a negative one too, as in PyTorch."""
    _float_input("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides x)")
    positive = ops.compare("gt", input, 0.0)
    # exp only ever sees the non-positive inputs, so the branch `where` drops cannot overflow
    negative = alpha * ops.expm1(ops.where(positive, 0.0, input) / alpha)
    return in_place.inplace_result("celu", input, ops.where(positive, input, negative), inplace)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    _float_input("softsign", input)
    return input / (1.0 + ops.abs(input))


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    _float_input("tanhshrink", input)
    return input - ops.activation(input, "tanh")


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x|: x - softplus(x) for x < 0, -softplus(-x)
    otherwise, so softplus only ever sees arguments <= 0 and never overflows."""
    _float_input("logsigmoid", input)
    negative = ops.compare("lt", input, 0.0)
    return ops.where(
        negative,
        input - ops.activation(input, "softplus"),
        -ops.activation(-input, "softplus"),
    )


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x; `weight` holds one slope, or one per channel (axis 1)."""
    _float_input("prelu", input)
    _tensor_argument("prelu", "weight", weight)
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be a 0-d or 1-D Tensor, got {weight.shape}")
    if weight.dtype != input.dtype:
        raise TypeError(
            f"prelu: weight dtype {weight.dtype} differs from input dtype {input.dtype}; "
            "convert it with .to(dtype)"
        )
    channels = input.shape[1] if input.ndim > 1 else 1
    if weight.numel() not in (1, channels):
        raise ValueError(
            f"prelu: weight has {weight.numel()} values but the input {input.shape} has "
            f"{channels} channels (axis 1); give 1 or {channels}"
        )
    slope = (
        weight.reshape(())
        if weight.numel() == 1
        else weight.reshape((channels,) + (1,) * (input.ndim - 2))
    )
    return ops.where(ops.compare("gt", input, 0.0), input, slope * input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: a * sigmoid(b), where a and b are the halves of `dim`."""
    _float_input("glu", input)
    if input.ndim == 0:
        raise ValueError("glu: a 0-d input has no axis to halve")
    axis = normalize_axis("glu", dim, input.ndim)
    size = input.shape[axis]
    if size % 2:
        raise ValueError(
            f"glu: the halved axis must have an even size, but axis {dim} of {input.shape} has "
            f"{size}"
        )
    first = _cells(input, axis, 0, size // 2)
    second = _cells(input, axis, size // 2, size)
    return first * ops.activation(second, "sigmoid")


def softmin(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """softmax(-x) along `dim`: the smallest entries get the largest weights. With `dtype` the
    input is cast first; `dim=None` picks PyTorch's legacy axis (0 for 0-, 1- and 3-d inputs,
    else 1) and warns, as PyTorch does."""
    _float_input("softmin", input)
    if dtype is not None:
        input = input.to(dtype=dtype)
    if dim is None:
        warnings.warn(
            "softmin: implicit dimension choice is deprecated, as in PyTorch; pass dim=X",
            stacklevel=_stacklevel,
        )
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return ops.softmax(-input, dim)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else `value`; the gradient is 1 where x > threshold, else 0."""
    _float_input("threshold", input)
    out = ops.where(ops.compare("gt", input, threshold), input, value)
    return in_place.inplace_result("threshold", input, out, inplace)
