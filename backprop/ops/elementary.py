"""PyTorch's remaining elementwise math: base-2 and base-10 exp and log, hyperbolic and inverse
trigonometric functions, atan2, hypot, logaddexp, fmod, remainder, floor_divide, sinc, xlogy,
heaviside, copysign, logit, erfc and erfinv.

Values, dtypes and gradients are PyTorch's, at the edges too (asin's gradient at ±1 is inf,
atan2's at (0, 0) is 0). Integer and bool inputs of the float functions give float32, as in
PyTorch. Functions that cannot be composed to float64 rounding (log2 and log10 divided out of
log are an ulp off, so floor(log10(1000.0)) would be 2; sinh cancels near 0) are backend
primitives; the rest are written here on backend primitives. Backward rules are built from
differentiable ops, so they can be differentiated again.

fmod, remainder and floor_divide of floats are x - trunc(x / y) * y corrected for the rounding
of the quotient: exact while |x / y| is small, and within about |x / y| ulps of y beyond. Their
integer forms are exact below 2**53; an integer division by zero is not detected (PyTorch
raises there, which needs a host read).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backprop.autograd import Function
from backprop.ops.activation import activation
from backprop.ops.arithmetic import compare, cos, div, exp, sin, sqrt, where
from backprop.ops.common import operands, require_tensor
from backprop.ops.movement import astype, sum_to
from backprop.ops.rounding import round_array, trunc
from backprop.tensor import FLOAT_DTYPES, Tensor, bool_, float32

LN2 = math.log(2.0)
LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# -- dtype handling -----------------------------------------------------------------------------


def _floating(op: str, x: Any) -> Tensor:
    """`x` checked to be a Tensor; integer and bool tensors become float32, as in PyTorch."""
    x = require_tensor(op, x)
    return x if x.dtype in FLOAT_DTYPES else astype(x, float32)


def _floating_pair(op: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Both operands in their promoted dtype (`operands`), made float32 if that is not a float."""
    x, y = operands(op, x, y)
    if x.dtype not in FLOAT_DTYPES:
        x, y = astype(x, float32), astype(y, float32)
    return x, y


def _float_only_pair(op: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Both operands in their promoted dtype, which must be a float, as PyTorch's kernels of
    these ops are defined for floats only."""
    x, y = operands(op, x, y)
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{op}: expected float32 or float64 operands, got {x.dtype}, as in PyTorch; "
            "convert them with .to(dtype)"
        )
    return x, y


# -- backend primitives -------------------------------------------------------------------------

_DERIVATIVES = {
    "log2": lambda x: 1.0 / (x * LN2),
    "log10": lambda x: 1.0 / (x * LN10),
    "sinh": lambda x: cosh(x),
    "cosh": lambda x: sinh(x),
    "asin": lambda x: 1.0 / sqrt(1.0 - x * x),
    "acos": lambda x: -1.0 / sqrt(1.0 - x * x),
    "atan": lambda x: 1.0 / (x * x + 1.0),
    "asinh": lambda x: 1.0 / sqrt(x * x + 1.0),
    "acosh": lambda x: 1.0 / sqrt(x * x - 1.0),
    "atanh": lambda x: 1.0 / (1.0 - x * x),
    "erfc": lambda x: -_TWO_OVER_SQRT_PI * exp(-x * x),
}
"""d op / dx of each unary primitive, as PyTorch writes it (so inf at asin's ±1)."""


class Primitive(Function):
    """A backend unary primitive; its derivative is `_DERIVATIVES[op]`."""

    def __init__(self, op: str):
        self.op = op

    @property
    def name(self) -> str:
        return self.op

    def forward(self, x):
        return self.backend.unary(self.op, x)

    def backward(self, gy):
        return gy * _DERIVATIVES[self.op](self.inputs[0])


def _primitive(op: str, x: Any) -> Tensor:
    return Primitive(op)(_floating(op, x))


def log2(x: Tensor) -> Tensor:
    """Base-2 logarithm, elementwise, as `torch.log2` (exact at powers of two)."""
    return _primitive("log2", x)


def log10(x: Tensor) -> Tensor:
    """Base-10 logarithm, elementwise, as `torch.log10` (exact at powers of ten)."""
    return _primitive("log10", x)


def sinh(x: Tensor) -> Tensor:
    """Hyperbolic sine, elementwise, as `torch.sinh`."""
    return _primitive("sinh", x)


def cosh(x: Tensor) -> Tensor:
    """Hyperbolic cosine, elementwise, as `torch.cosh`."""
    return _primitive("cosh", x)


def asin(x: Tensor) -> Tensor:
    """Inverse sine, elementwise, as `torch.asin`: NaN outside [-1, 1], gradient inf at ±1."""
    return _primitive("asin", x)


def acos(x: Tensor) -> Tensor:
    """Inverse cosine, elementwise, as `torch.acos`: NaN outside [-1, 1], gradient -inf at ±1."""
    return _primitive("acos", x)


def atan(x: Tensor) -> Tensor:
    """Inverse tangent, elementwise, as `torch.atan`."""
    return _primitive("atan", x)


def asinh(x: Tensor) -> Tensor:
    """Inverse hyperbolic sine, elementwise, as `torch.asinh`."""
    return _primitive("asinh", x)


def acosh(x: Tensor) -> Tensor:
    """Inverse hyperbolic cosine, elementwise, as `torch.acosh`: NaN below 1."""
    return _primitive("acosh", x)


def atanh(x: Tensor) -> Tensor:
    """Inverse hyperbolic tangent, elementwise, as `torch.atanh`: ±inf at ±1, NaN beyond."""
    return _primitive("atanh", x)


def erfc(x: Tensor) -> Tensor:
    """Complementary error function 1 - erf(x), accurate where it is tiny, as `torch.erfc`."""
    return _primitive("erfc", x)


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


# -- array helpers: forward computations on backend arrays --------------------------------------


def _const(b: Any, value: float, like: Any) -> Any:
    return b.full((), value, like.dtype)


def _either(b: Any, p: Any, q: Any) -> Any:
    """Elementwise p or q of two bool arrays."""
    return b.where(p, p, q)


def _both(b: Any, p: Any, q: Any) -> Any:
    """Elementwise p and q of two bool arrays."""
    return b.where(p, q, p)


def _not(b: Any, p: Any) -> Any:
    """Elementwise not of a bool array."""
    return b.compare("eq", p, False)


def _negative(b: Any, x: Any) -> Any:
    """Where the sign bit of `x` is set: on -0.0 too, which `x < 0` misses."""
    return b.compare("gt", b.unary("signbit", x), 0.0)


def _fmod_array(b: Any, x: Any, y: Any) -> Any:
    """C's fmod of float arrays (the result has x's sign): x - trunc(x / y) * y, with the
    quotient one too far (x / y rounded up to an integer) stepped back; NaN where y is 0 or x
    is infinite, x itself where |x| < |y| (y infinite too)."""
    finite = b.compare("lt", b.unary("abs", x), np.inf)  # False for inf and NaN
    zero_y = b.compare("eq", y, 0.0)
    safe_x = b.where(finite, x, _const(b, 0.0, x))
    safe_y = b.where(zero_y, _const(b, 1.0, y), y)
    quotient = round_array(b, b.binary("div", safe_x, safe_y), "trunc")
    rest = b.binary("sub", safe_x, b.binary("mul", quotient, safe_y))
    flipped = _either(
        b,
        _both(b, b.compare("gt", safe_x, 0.0), b.compare("lt", rest, 0.0)),
        _both(b, b.compare("lt", safe_x, 0.0), b.compare("gt", rest, 0.0)),
    )
    magnitude = b.unary("abs", safe_y)
    step = b.where(b.compare("gt", safe_x, 0.0), magnitude, b.unary("neg", magnitude))
    rest = b.where(flipped, b.binary("add", rest, step), rest)
    rest = b.where(b.compare("eq", rest, 0.0), b.binary("mul", safe_x, 0.0), rest)  # x's sign
    small = b.compare("lt", b.unary("abs", x), b.unary("abs", y))
    rest = b.where(small, x, rest)
    undefined = _either(b, zero_y, _not(b, finite))
    return b.where(undefined, _const(b, np.nan, rest), rest)


def _remainder_array(b: Any, x: Any, y: Any) -> Any:
    """Python's modulo of float arrays (the result has y's sign), as PyTorch: fmod, plus y
    where that left a nonzero rest of the other sign."""
    rest = _fmod_array(b, x, y)
    other_sign = b.compare("ne", b.compare("lt", y, 0.0), b.compare("lt", rest, 0.0))
    shift = _both(b, b.compare("ne", rest, 0.0), other_sign)
    return b.where(shift, b.binary("add", rest, y), rest)


def _floor_divide_array(b: Any, x: Any, y: Any) -> Any:
    """floor(x / y) of float arrays as PyTorch computes it: (x - fmod(x, y)) / y, one less
    where the rest and y differ in sign, rounded to the nearest integer; x / y where y is 0,
    and a zero with the sign of x / y where the quotient is 0."""
    zero_y = b.compare("eq", y, 0.0)
    safe_y = b.where(zero_y, _const(b, 1.0, y), y)
    rest = _fmod_array(b, x, y)
    quotient = b.binary("div", b.binary("sub", x, rest), safe_y)
    other_sign = b.compare("ne", b.compare("lt", y, 0.0), b.compare("lt", rest, 0.0))
    shift = _both(b, b.compare("ne", rest, 0.0), other_sign)
    quotient = b.where(shift, b.binary("sub", quotient, 1.0), quotient)
    floored = round_array(b, quotient, "floor")
    up = b.compare("gt", b.binary("sub", quotient, floored), 0.5)
    floored = b.where(up, b.binary("add", floored, 1.0), floored)
    signed_zero = b.where(
        b.compare("ne", _negative(b, x), _negative(b, y)),
        _const(b, -0.0, floored),
        _const(b, 0.0, floored),
    )
    result = b.where(b.compare("ne", quotient, 0.0), floored, signed_zero)
    return b.where(zero_y, b.binary("div", x, y), result)


def _integer_quotient(b: Any, x: Any, y: Any, mode: str) -> Any:
    """x / y of integer arrays rounded by `mode` ("floor" or "trunc"), in x's dtype: through
    float64, exact while |x| < 2**53."""
    wide = np.dtype(np.float64)
    quotient = b.binary("div", b.astype(x, wide), b.astype(y, wide))
    return b.astype(round_array(b, quotient, mode), x.dtype)


def _integer_rest(b: Any, x: Any, y: Any, mode: str) -> Any:
    """x - q * y of integer arrays for the quotient q rounded by `mode`: fmod for "trunc",
    remainder for "floor"."""
    return b.binary("sub", x, b.binary("mul", _integer_quotient(b, x, y, mode), y))


# -- powers, logarithms and angles --------------------------------------------------------------


class Exp2(Function):
    """2**x: the backend's pow, exact at integers (exp(x * ln 2) is not)."""

    def forward(self, x):
        return self.backend.binary("pow", 2.0, x)

    def backward(self, gy):
        return gy * exp2(self.inputs[0]) * LN2


def exp2(x: Tensor) -> Tensor:
    """2**x, elementwise, as `torch.exp2`."""
    return Exp2()(_floating("exp2", x))


def deg2rad(x: Tensor) -> Tensor:
    """Degrees to radians, elementwise, as `torch.deg2rad`."""
    return _floating("deg2rad", x) * (math.pi / 180.0)


def rad2deg(x: Tensor) -> Tensor:
    """Radians to degrees, elementwise, as `torch.rad2deg`."""
    return _floating("rad2deg", x) * (180.0 / math.pi)


class Atan2(Function):
    """The angle of the point (other, input), in [-pi, pi], as C's atan2 (signed zeros and
    infinities included): atan of the smaller over the larger magnitude, reflected into its
    octant, so that no quotient overflows or divides by zero."""

    def forward(self, y, x):
        b = self.backend
        ay, ax = b.unary("abs", y), b.unary("abs", x)
        both_infinite = _both(b, b.compare("eq", ay, np.inf), b.compare("eq", ax, np.inf))
        larger, smaller = b.binary("maximum", ay, ax), b.binary("minimum", ay, ax)
        one = _const(b, 1.0, larger)
        larger = b.where(_either(b, both_infinite, b.compare("eq", larger, 0.0)), one, larger)
        smaller = b.where(both_infinite, one, smaller)
        angle = b.unary("atan", b.binary("div", smaller, larger))
        steep = b.compare("gt", ay, ax)
        angle = b.where(steep, b.binary("sub", math.pi / 2, angle), angle)
        angle = b.where(_negative(b, x), b.binary("sub", math.pi, angle), angle)
        return b.where(_negative(b, y), b.unary("neg", angle), angle)

    def backward(self, gy):
        # PyTorch's rule, with 1 / (y² + x²) taken as 0 where it is infinite (at the origin).
        y, x = self.inputs
        squares = y * y + x * x
        degenerate = compare("eq", squares, 0.0)
        reciprocal = 1.0 / where(degenerate, 1.0, squares)
        reciprocal = where(degenerate | compare("eq", reciprocal, np.inf), 0.0, reciprocal)
        gy_ = sum_to(gy * x * reciprocal, y.shape) if self.needs_input_grad[0] else None
        gx = sum_to(gy * -y * reciprocal, x.shape) if self.needs_input_grad[1] else None
        return gy_, gx


def atan2(input: Tensor | float, other: Tensor | float) -> Tensor:
    """atan2(input, other): the angle of the point (other, input), as `torch.atan2`."""
    return Atan2()(*_floating_pair("atan2", input, other))


arctan2 = atan2


class Hypot(Function):
    """sqrt(x² + y²) without overflow or underflow: the larger magnitude times
    sqrt(1 + (smaller / larger)²); inf where either is infinite (NaN in the other too)."""

    def forward(self, x, y):
        b = self.backend
        ax, ay = b.unary("abs", x), b.unary("abs", y)
        infinite = _either(b, b.compare("eq", ax, np.inf), b.compare("eq", ay, np.inf))
        larger, smaller = b.binary("maximum", ax, ay), b.binary("minimum", ax, ay)
        safe = b.where(
            _either(b, infinite, b.compare("eq", larger, 0.0)), _const(b, 1.0, larger), larger
        )
        ratio = b.binary("div", b.where(infinite, _const(b, 0.0, smaller), smaller), safe)
        root = b.unary("sqrt", b.binary("add", b.binary("mul", ratio, ratio), 1.0))
        return b.where(infinite, _const(b, np.inf, larger), b.binary("mul", larger, root))

    def backward(self, gy):
        # PyTorch's rule: NaN at the origin, where the cone has no gradient.
        x, y = self.inputs
        length = hypot(x, y)
        gx = sum_to(gy * x / length, x.shape) if self.needs_input_grad[0] else None
        gy_ = sum_to(gy * y / length, y.shape) if self.needs_input_grad[1] else None
        return gx, gy_


def hypot(input: Tensor | float, other: Tensor | float) -> Tensor:
    """sqrt(input² + other²) without overflow, as `torch.hypot` (floats only)."""
    return Hypot()(*_float_only_pair("hypot", input, other))


class LogAddExp(Function):
    """log(exp(x) + exp(y)) (`base` e) or log2(2**x + 2**y) (`base` 2), as PyTorch: the
    larger plus log1p(base**-|x - y|) / ln(base), and x itself where x = y = ±inf."""

    def __init__(self, base: float):
        self.base = base

    @property
    def name(self) -> str:
        return "logaddexp" if self.base == math.e else "logaddexp2"

    def forward(self, x, y):
        b = self.backend
        same_infinity = _both(b, b.compare("eq", x, y), b.compare("eq", b.unary("abs", x), np.inf))
        zero = _const(b, 0.0, x)
        gap = b.unary(
            "abs", b.binary("sub", b.where(same_infinity, zero, x), b.where(same_infinity, zero, y))
        )
        if self.base == math.e:
            tail = b.unary("log1p", b.unary("exp", b.unary("neg", gap)))
        else:
            power = b.binary("pow", 2.0, b.unary("neg", gap))
            tail = b.binary("mul", b.unary("log1p", power), 1.0 / LN2)
        larger = b.binary("maximum", x, y)
        return b.where(same_infinity, x, b.binary("add", larger, tail))

    def backward(self, gy):
        # PyTorch's 1 / (1 + base**(y - x)), written as a sigmoid, which cannot overflow.
        x, y = self.inputs
        scale = 1.0 if self.base == math.e else LN2
        gx = gy_ = None
        if self.needs_input_grad[0]:
            gx = sum_to(gy * activation((x - y) * scale, "sigmoid"), x.shape)
        if self.needs_input_grad[1]:
            gy_ = sum_to(gy * activation((y - x) * scale, "sigmoid"), y.shape)
        return gx, gy_


def logaddexp(input: Tensor | float, other: Tensor | float) -> Tensor:
    """log(exp(input) + exp(other)) without overflow, as `torch.logaddexp` (floats only)."""
    return LogAddExp(math.e)(*_float_only_pair("logaddexp", input, other))


def logaddexp2(input: Tensor | float, other: Tensor | float) -> Tensor:
    """log2(2**input + 2**other) without overflow, as `torch.logaddexp2` (floats only)."""
    return LogAddExp(2.0)(*_float_only_pair("logaddexp2", input, other))


# -- division and remainders --------------------------------------------------------------------


def _division_operands(op: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Both operands in their promoted dtype, which must not be bool, as in PyTorch."""
    x, y = operands(op, x, y)
    if x.dtype == bool_:
        raise TypeError(
            f"{op}: bool operands are not supported, as in PyTorch; convert them with .to(dtype)"
        )
    return x, y


class Fmod(Function):
    """C's fmod (the rest has the dividend's sign); the gradient is PyTorch's: 1 for x, and
    -trunc(x / y) for y."""

    def forward(self, x, y):
        return _fmod_array(self.backend, x, y)

    def backward(self, gy):
        x, y = self.inputs
        gx = sum_to(gy, x.shape) if self.needs_input_grad[0] else None
        gy_ = None
        if self.needs_input_grad[1]:
            gy_ = sum_to(-gy * trunc(x.detach() / y.detach()), y.shape)
        return gx, gy_


class Remainder(Function):
    """Python's modulo (the rest has the divisor's sign); the gradient is PyTorch's: 1 for x,
    and -floor_divide(x, y) for y."""

    def forward(self, x, y):
        return _remainder_array(self.backend, x, y)

    def backward(self, gy):
        x, y = self.inputs
        gx = sum_to(gy, x.shape) if self.needs_input_grad[0] else None
        gy_ = None
        if self.needs_input_grad[1]:
            gy_ = sum_to(-gy * floor_divide(x.detach(), y.detach()), y.shape)
        return gx, gy_


def fmod(input: Tensor | float, other: Tensor | float) -> Tensor:
    """The remainder of input / other with the sign of input (C's fmod), as `torch.fmod`;
    integers stay integers."""
    x, y = _division_operands("fmod", input, other)
    if x.dtype in FLOAT_DTYPES:
        return Fmod()(x, y)
    return Tensor._make(_integer_rest(x.backend, x.data, y.data, "trunc"), x.device)


def remainder(input: Tensor | float, other: Tensor | float) -> Tensor:
    """The remainder of input / other with the sign of other (Python's %), as
    `torch.remainder`; integers stay integers."""
    x, y = _division_operands("remainder", input, other)
    if x.dtype in FLOAT_DTYPES:
        return Remainder()(x, y)
    return Tensor._make(_integer_rest(x.backend, x.data, y.data, "floor"), x.device)


def floor_divide(input: Tensor | float, other: Tensor | float) -> Tensor:
    """floor(input / other), as `torch.floor_divide`; integers stay integers. A constant of
    the graph: PyTorch defines no gradient for it."""
    x, y = _division_operands("floor_divide", input, other)
    b = x.backend
    if x.dtype in FLOAT_DTYPES:
        return Tensor._make(_floor_divide_array(b, x.data, y.data), x.device)
    return Tensor._make(_integer_quotient(b, x.data, y.data, "floor"), x.device)


def true_divide(input: Tensor | float, other: Tensor | float) -> Tensor:
    """input / other in floats, as `torch.true_divide` (PyTorch's alias of `div`)."""
    return div(input, other)


# -- special functions --------------------------------------------------------------------------


class Sinc(Function):
    """sin(pi x) / (pi x), 1 at 0; PyTorch's gradient (pi x cos(pi x) - sin(pi x)) / (pi x²),
    0 at 0."""

    def forward(self, x):
        b = self.backend
        zero = b.compare("eq", x, 0.0)
        angle = b.binary("mul", b.where(zero, _const(b, 1.0, x), x), math.pi)
        ratio = b.binary("div", b.unary("sin", angle), angle)
        return b.where(zero, _const(b, 1.0, x), ratio)

    def backward(self, gy):
        x = self.inputs[0]
        zero = compare("eq", x * x, 0.0)
        safe = where(zero, 1.0, x)
        angle = safe * math.pi
        slope = (angle * cos(angle) - sin(angle)) / (safe * safe * math.pi)
        return where(zero, 0.0, gy * slope)


def sinc(x: Tensor) -> Tensor:
    """The normalised sinc sin(pi x) / (pi x), 1 at 0, as `torch.sinc`."""
    return Sinc()(_floating("sinc", x))


class Xlogy(Function):
    """x * log(y), 0 where x = 0 (NaN where y is NaN), as `torch.xlogy`."""

    def forward(self, x, y):
        b = self.backend
        zero_x = b.compare("eq", x, 0.0)
        product = b.binary("mul", x, b.unary("log", b.where(zero_x, _const(b, 1.0, y), y)))
        product = b.where(zero_x, _const(b, 0.0, product), product)
        return b.where(b.compare("ne", y, y), _const(b, np.nan, product), product)

    def backward(self, gy):
        # PyTorch's rules: log(y) for x, but 0 where x = 0 and y <= 0 (xlogy of that mask);
        # x / y for y.
        x, y = self.inputs
        gx = gy_ = None
        if self.needs_input_grad[0]:
            counted = compare("ne", x, 0.0) | compare("gt", y, 0.0)
            weight = Tensor._make(x.backend.astype(counted.data, x.dtype), x.device)
            gx = sum_to(gy * xlogy(weight, y), x.shape)
        if self.needs_input_grad[1]:
            gy_ = sum_to(gy * x / y, y.shape)
        return gx, gy_


def xlogy(input: Tensor | float, other: Tensor | float) -> Tensor:
    """input * log(other), 0 where input is 0, as `torch.xlogy`."""
    return Xlogy()(*_floating_pair("xlogy", input, other))


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """The step function: 0 where input < 0, `values` where it is 0, 1 where it is > 0 (0 at
    NaN), as `torch.heaviside`. A constant of the graph, as PyTorch defines no gradient."""
    require_tensor("heaviside", input)
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside: values must be a Tensor, got {type(values).__name__}")
    if input.dtype != values.dtype:
        raise TypeError(
            f"heaviside: input and values must have one dtype, as in PyTorch, got {input.dtype} "
            f"and {values.dtype}"
        )
    operands("heaviside", input, values)  # checks that the shapes broadcast
    b = input.backend
    x = input.data
    step = b.astype(b.compare("gt", x, 0), x.dtype)
    return Tensor._make(b.where(b.compare("eq", x, 0), values.data, step), input.device)


class Copysign(Function):
    """|x| with the sign bit of y (-0.0 and -NaN count as negative), as `torch.copysign`;
    the gradient is PyTorch's: copysign(x, y) / x for x (0 at x = 0), nothing for y."""

    def forward(self, x, y):
        b = self.backend
        magnitude = b.unary("abs", x)
        return b.where(_negative(b, y), b.unary("neg", magnitude), magnitude)

    def backward(self, gy):
        x, y = self.inputs
        gx = None
        if self.needs_input_grad[0]:
            zero = compare("eq", x, 0.0)
            ratio = copysign(x.detach(), y.detach()) / where(zero, 1.0, x.detach())
            gx = sum_to(gy * where(zero, 0.0, ratio), x.shape)
        gy_ = sum_to(gy * 0.0, y.shape) if self.needs_input_grad[1] else None
        return gx, gy_


def copysign(input: Tensor | float, other: Tensor | float) -> Tensor:
    """The magnitude of input with the sign of other, elementwise, as `torch.copysign`."""
    return Copysign()(*_floating_pair("copysign", input, other))


class Logit(Function):
    """log(x / (1 - x)), x first clamped to [eps, 1 - eps] when eps is given; PyTorch's
    gradient 1 / (x (1 - x)): NaN outside [0, 1] without eps, 0 outside [eps, 1 - eps]."""

    def __init__(self, eps: float | None):
        self.eps = eps

    def forward(self, x):
        b = self.backend
        if self.eps is not None:
            low, high = _const(b, self.eps, x), _const(b, 1.0 - self.eps, x)
            x = b.where(b.compare("lt", x, low), low, b.where(b.compare("gt", x, high), high, x))
        return b.unary("log", b.binary("div", x, b.binary("sub", 1.0, x)))

    def backward(self, gy):
        x = self.inputs[0]
        low, high, outside_value = 0.0, 1.0, np.nan
        if self.eps is not None:
            low, high, outside_value = self.eps, 1.0 - self.eps, 0.0
        outside = compare("lt", x, low) | compare("gt", x, high)
        # + 0.0 turns x (1 - x) = -0.0 at x = -0.0 into +0.0: +inf there, as in PyTorch.
        return where(outside, outside_value, gy / (x * (1.0 - x) + 0.0))


def logit(x: Tensor, eps: float | None = None) -> Tensor:
    """The log-odds log(x / (1 - x)), as `torch.logit`; with `eps`, x is clamped to
    [eps, 1 - eps] first."""
    if eps is not None and (not isinstance(eps, (int, float)) or isinstance(eps, bool)):
        raise TypeError(f"logit: eps must be a float or None, got {eps!r}")
    return Logit(None if eps is None else float(eps))(_floating("logit", x))


# PyTorch's erfinv: G. L. Pavlis's rational approximation (MATLAB erfinv 2.0, 1996), then two
# Newton steps on erf(x) = y, which bring it to full precision.
_ERFINV_CENTRAL = 0.7
_ERFINV_A = (0.886226899, -1.645349621, 0.914624893, -0.140543331)
_ERFINV_B = (-2.118377725, 1.442710462, -0.329097515, 0.012229801)
_ERFINV_C = (-1.970840454, -1.624906493, 3.429567803, 1.641345311)
_ERFINV_D = (3.543889200, 1.637067800)


def _polynomial(b: Any, coefficients: tuple[float, ...], z: Any) -> Any:
    """c0 + c1 z + c2 z² + ... by Horner's rule on backend arrays."""
    total = b.full((), coefficients[-1], z.dtype)
    for coefficient in reversed(coefficients[:-1]):
        total = b.binary("add", b.binary("mul", total, z), coefficient)
    return total


class Erfinv(Function):
    """The inverse error function, as PyTorch computes it; gradient sqrt(pi) / 2 exp(x²)."""

    def forward(self, y):
        b = self.backend
        magnitude = b.unary("abs", y)
        inside = b.compare("lt", magnitude, 1.0)  # False for NaN
        y_in = b.where(inside, y, _const(b, 0.0, y))
        z = b.binary("mul", y_in, y_in)
        central = b.binary(
            "div",
            b.binary("mul", y_in, _polynomial(b, _ERFINV_A, z)),
            _polynomial(b, (1.0, *_ERFINV_B), z),
        )
        half_gap = b.binary("div", b.binary("sub", 1.0, b.unary("abs", y_in)), 2.0)
        w = b.unary("sqrt", b.unary("neg", b.unary("log", half_gap)))
        tail = b.binary("div", _polynomial(b, _ERFINV_C, w), _polynomial(b, (1.0, *_ERFINV_D), w))
        tail = b.where(_negative(b, y_in), b.unary("neg", tail), tail)
        x = b.where(b.compare("le", b.unary("abs", y_in), _ERFINV_CENTRAL), central, tail)
        for _ in range(2):
            slope = b.binary(
                "mul", _TWO_OVER_SQRT_PI, b.unary("exp", b.unary("neg", b.binary("mul", x, x)))
            )
            x = b.binary("sub", x, b.binary("div", b.binary("sub", b.unary("erf", x), y_in), slope))
        infinite = b.where(_negative(b, y), _const(b, -np.inf, x), _const(b, np.inf, x))
        x = b.where(b.compare("eq", magnitude, 1.0), infinite, x)
        return b.where(_either(b, inside, b.compare("eq", magnitude, 1.0)), x, _const(b, np.nan, x))

    def backward(self, gy):
        x = erfinv(self.inputs[0])
        return gy * (math.sqrt(math.pi) / 2) * exp(x * x)


def erfinv(x: Tensor) -> Tensor:
    """The inverse error function on [-1, 1] (±inf at ±1, NaN beyond), as `torch.erfinv`."""
    return Erfinv()(_floating("erfinv", x))
