"""Elementwise arithmetic and math: each op's gradient rule sits next to its forward.

Backward rules are written with differentiable ops, so they can be differentiated again.
Binary ops broadcast; `sum_to` folds each gradient back to its operand's shape.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backprop.autograd import Function
from backprop.ops.common import (
    NUMBER_TYPES,
    broadcast_shape,
    is_bool,
    lift,
    operands,
    require_float,
)
from backprop.ops.movement import astype, sum_to
from backprop.tensor import FLOAT_DTYPES, Tensor, bool_, common_device, float32


class Add(Function):
    reads_input_values = False

    def forward(self, x, y):
        return self.backend.binary("add", x, y)

    def backward(self, gy):
        x, y = self.inputs
        return sum_to(gy, x.shape), sum_to(gy, y.shape)


class Sub(Function):
    reads_input_values = False

    def forward(self, x, y):
        return self.backend.binary("sub", x, y)

    def backward(self, gy):
        x, y = self.inputs
        return sum_to(gy, x.shape), sum_to(-gy, y.shape)


class Mul(Function):
    def forward(self, x, y):
        return self.backend.binary("mul", x, y)

    def backward(self, gy):
        x, y = self.inputs
        gx = sum_to(gy * y, x.shape) if self.needs_input_grad[0] else None
        gy_ = sum_to(gy * x, y.shape) if self.needs_input_grad[1] else None
        return gx, gy_


class Div(Function):
    def forward(self, x, y):
        return self.backend.binary("div", x, y)

    def backward(self, gy):
        x, y = self.inputs
        gx = sum_to(gy / y, x.shape) if self.needs_input_grad[0] else None
        gy_ = sum_to(-gy * x / (y * y), y.shape) if self.needs_input_grad[1] else None
        return gx, gy_


class Pow(Function):
    def forward(self, x, y):
        return self.backend.binary("pow", x, y)

    def backward(self, gy):
        # At x = 0, y * x**(y - 1) with y = 0 and x**y * log(x) with y >= 0 would be 0 * inf;
        # their values there are 0, as in PyTorch. Swapping the exponent y - 1 for 1 where y = 0
        # and log(x) for log(1) where x = 0 gives those zeros with no inf anywhere in the
        # graph, so derivatives of every order stay finite.
        x, y = self.inputs
        gx = gy_ = None
        if self.needs_input_grad[0]:
            exponent = where(compare("eq", y, 0.0), 1.0, y - 1)
            gx = sum_to(gy * y * x**exponent, x.shape)
        if self.needs_input_grad[1]:
            base = where(compare("eq", x, 0.0), 1.0, x)
            gy_ = sum_to(gy * x**y * log(base), y.shape)
        return gx, gy_


class Neg(Function):
    reads_input_values = False

    def forward(self, x):
        return self.backend.unary("neg", x)

    def backward(self, gy):
        return -gy


class Exp(Function):
    def forward(self, x):
        return self.backend.unary("exp", x)

    def backward(self, gy):
        return gy * exp(self.inputs[0])


class Log(Function):
    def forward(self, x):
        return self.backend.unary("log", x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    def forward(self, x):
        return self.backend.unary("sqrt", x)

    def backward(self, gy):
        return gy / (2 * sqrt(self.inputs[0]))


class Abs(Function):
    def forward(self, x):
        return self.backend.unary("abs", x)

    def backward(self, gy):
        return gy * sign(self.inputs[0])


class Sin(Function):
    def forward(self, x):
        return self.backend.unary("sin", x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    def forward(self, x):
        return self.backend.unary("cos", x)

    def backward(self, gy):
        return -gy * sin(self.inputs[0])


class Select(Function):
    """`where(condition, x, y)`; the condition is a constant of the graph."""

    def __init__(self, condition: Any):
        self.condition = condition

    @property
    def name(self) -> str:
        return "where"  # the op's public name, in messages and reprs

    def forward(self, x, y):
        return self.backend.where(self.condition, x, y)

    def backward(self, gy):
        x, y = self.inputs
        condition = Tensor._make(self.condition, gy.device)
        return (
            sum_to(where(condition, gy, 0.0), x.shape) if self.needs_input_grad[0] else None,
            sum_to(where(condition, 0.0, gy), y.shape) if self.needs_input_grad[1] else None,
        )


def _binary(cls: type[Function], name: str, x: Any, y: Any) -> Tensor:
    x, y = operands(name, x, y)
    if x.requires_grad or y.requires_grad:
        require_float(name, x, y)
    return cls()(x, y)


def _unary(cls: type[Function], name: str, x: Tensor) -> Tensor:
    require_float(name, x)
    return cls()(x)


def add(x: Tensor | float, y: Tensor | float) -> Tensor:
    return _binary(Add, "add", x, y)


def sub(x: Tensor | float, y: Tensor | float) -> Tensor:
    if is_bool(x) or is_bool(y):
        raise TypeError(
            "sub: subtraction with a bool operand is not supported, as in PyTorch; use ~ or "
            "logical_not to invert a mask, or convert it with .to(dtype)"
        )
    return _binary(Sub, "sub", x, y)


def mul(x: Tensor | float, y: Tensor | float) -> Tensor:
    return _binary(Mul, "mul", x, y)


def div(x: Tensor | float, y: Tensor | float) -> Tensor:
    """True division, x / y: integer and bool operands give float32, as in PyTorch."""
    x, y = operands("div", x, y)
    if x.dtype not in FLOAT_DTYPES:
        x, y = astype(x, float32), astype(y, float32)
    return _binary(Div, "div", x, y)


def pow(x: Tensor | float, y: Tensor | float) -> Tensor:
    x, y = operands("pow", x, y)
    if x.dtype == bool_:
        raise TypeError(
            "pow: bool operands are not supported, as in PyTorch; convert one with .to(dtype)"
        )
    return _binary(Pow, "pow", x, y)


def neg(x: Tensor) -> Tensor:
    if isinstance(x, Tensor) and x.dtype == bool:
        raise TypeError(
            "neg: negating a bool tensor is not supported, as in PyTorch; use ~ or "
            "logical_not to invert a mask"
        )
    return Neg()(x)


def exp(x: Tensor) -> Tensor:
    return _unary(Exp, "exp", x)


def log(x: Tensor) -> Tensor:
    return _unary(Log, "log", x)


def sqrt(x: Tensor) -> Tensor:
    return _unary(Sqrt, "sqrt", x)


def abs(x: Tensor) -> Tensor:
    return _unary(Abs, "abs", x)


def sin(x: Tensor) -> Tensor:
    return _unary(Sin, "sin", x)


def cos(x: Tensor) -> Tensor:
    return _unary(Cos, "cos", x)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise; a constant of the graph (its gradient is zero)."""
    return Tensor._make(x.backend.unary("sign", x.data), x.device)


def compare(op: str, x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise comparison giving a bool tensor outside the graph; operands of different
    dtypes are compared in their promoted dtype (`operands`)."""
    x, y = operands(op, x, y)
    return Tensor._make(x.backend.compare(op, x.data, y.data), x.device)


def mask(condition: Tensor, dtype) -> Tensor:
    """A bool tensor as 1.0 / 0.0 of `dtype`: a constant of the graph."""
    return Tensor._make(condition.backend.astype(condition.data, dtype), condition.device)


def where(condition: Tensor, x: Tensor | float, y: Tensor | float) -> Tensor:
    """`x` where `condition` holds, else `y`, broadcasting all three; `x` and `y` meet in
    their promoted dtype (`operands`), as in `torch.where`."""
    if not isinstance(condition, Tensor) or condition.dtype != bool:
        raise TypeError("where: the condition must be a bool Tensor, such as `x > 0`")
    x, y = operands("where", x, y)
    if condition.device != x.device:
        raise RuntimeError(
            f"where: condition is on {condition.device} but the values are on {x.device}"
        )
    return Select(condition.data)(x, y)


def maximum(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise maximum; at ties the gradient is split evenly, as in PyTorch."""
    x, y = operands("maximum", x, y)
    return _split_ties(x, y, compare("gt", x, y), compare("eq", x, y))


def minimum(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Elementwise minimum; at ties the gradient is split evenly, as in PyTorch."""
    x, y = operands("minimum", x, y)
    return _split_ties(x, y, compare("lt", x, y), compare("eq", x, y))


def _split_ties(x: Tensor, y: Tensor, x_wins: Tensor, tie: Tensor) -> Tensor:
    """The winner of each pair; at ties of float operands (x + y) / 2, which is the same value
    but splits the gradient between them (integer and bool operands have no gradient)."""
    picked = where(x_wins, x, y)
    if x.dtype not in FLOAT_DTYPES:
        return picked
    return where(tie, (x + y) * 0.5, picked)


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Limits `x` to [min, max] as `torch.clamp`: NaN stays NaN, every entry is `max` when
    min > max, and the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    bounded, inside = x.detach(), None
    if min is not None:
        bounded = where(compare("lt", bounded, min), min, bounded)
        inside = compare("ge", x, min)
    if max is not None:
        bounded = where(compare("gt", bounded, max), max, bounded)
        below = compare("le", x, max)
        inside = below if inside is None else where(inside, below, inside)
    return where(inside, x, bounded)


class Erf(Function):
    def forward(self, x):
        return self.backend.unary("erf", x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * exp(-x * x) * (2 / math.sqrt(math.pi))


def erf(x: Tensor) -> Tensor:
    return _unary(Erf, "erf", x)


def tan(x: Tensor) -> Tensor:
    """Elementwise tangent, as sin(x) / cos(x)."""
    require_float("tan", x)
    return sin(x) / cos(x)


def rsqrt(x: Tensor) -> Tensor:
    """Elementwise 1 / sqrt(x)."""
    require_float("rsqrt", x)
    return 1.0 / sqrt(x)


def reciprocal(x: Tensor) -> Tensor:
    """Elementwise 1 / x."""
    require_float("reciprocal", x)
    return 1.0 / x


def square(x: Tensor) -> Tensor:
    """Elementwise x * x; integer tensors stay integer and bool ones become int64, as in
    PyTorch."""
    if isinstance(x, Tensor) and x.dtype == bool:
        x = astype(x, np.dtype(np.int64))
    return mul(x, x)


class Log1p(Function):
    """log(1 + x), accurate where x is tiny: the backend's log1p, one kernel."""

    def forward(self, x):
        return self.backend.unary("log1p", x)

    def backward(self, gy):
        return gy / (1 + self.inputs[0])


class Expm1(Function):
    """exp(x) - 1, accurate where x is tiny: the backend's expm1, one kernel."""

    def forward(self, x):
        return self.backend.unary("expm1", x)

    def backward(self, gy):
        return gy * exp(self.inputs[0])


def log1p(x: Tensor) -> Tensor:
    """Elementwise log(1 + x), accurate for tiny x, as `torch.log1p`."""
    return _unary(Log1p, "log1p", x)


def expm1(x: Tensor) -> Tensor:
    """Elementwise exp(x) - 1, accurate for tiny x, as `torch.expm1`."""
    return _unary(Expm1, "expm1", x)


def masked_fill(x: Tensor, mask: Tensor, value: Tensor | float) -> Tensor:
    """`x` with `value` wherever the bool `mask` (broadcast against `x`) holds, as
    `Tensor.masked_fill`; the gradient flows to `x` elsewhere, and to a 0-d Tensor `value`."""
    if not isinstance(x, Tensor):
        raise TypeError(f"masked_fill: expected a Tensor, got {type(x).__name__}")
    if not isinstance(mask, Tensor) or mask.dtype != bool:
        got = f"a {mask.dtype} Tensor" if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a bool Tensor, such as `x > 0`, got {got}")
    if isinstance(value, Tensor):
        _check_fill_tensor(x, value)
    if not isinstance(value, (Tensor, *NUMBER_TYPES)):
        raise TypeError(f"masked_fill: value must be a number or a 0-d Tensor, got {value!r}")
    if isinstance(value, (float, np.floating)) and x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"masked_fill: cannot fill a {x.dtype} tensor with the float {value}")
    common_device("masked_fill", (x, mask))
    broadcast_shape("masked_fill", mask.shape, x.shape)
    return where(mask, lift(value, x, x.dtype), x)


def _check_fill_tensor(x: Tensor, value: Tensor) -> None:
    """A Tensor `value` for masked_fill is 0-d, of `x`'s dtype and on its device."""
    if value.ndim != 0:
        raise ValueError(
            f"masked_fill: value must be a number or a 0-d Tensor, got a Tensor of shape "
            f"{value.shape}"
        )
    if value.dtype != x.dtype:
        raise TypeError(
            f"masked_fill: a Tensor value must have the tensor's dtype {x.dtype}, got "
            f"{value.dtype}; convert it with .to(dtype)"
        )
    if value.device != x.device:
        raise RuntimeError(
            f"masked_fill: value is on {value.device} but the tensor on {x.device}; move it "
            "with .to(device)"
        )
