"""Elementwise Numba-CUDA kernels: creation fills, casts, unary and binary math with
broadcasting, comparisons, `where`, and the activations forward and backward (bias fused in).

Each op is a small device function; a factory wraps it into grid-stride kernels (one for
operands of one shape, one for broadcast operands read through strides, one per scalar side),
built once at import and compiled lazily per dtype and rank.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numba import cuda

from backprop.backend.base import SOFTPLUS_THRESHOLD

from .numba_launch import (
    at_least_1d,
    broadcast_strides,
    empty,
    flat,
    is_scalar,
    launch,
    strided_offset,
    strided_offsets,
)

SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_C = 0.044715


# -- scalar math ---------------------------------------------------------------------------


@cuda.jit(device=True)
def _sigmoid(x):
    e = math.exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


@cuda.jit(device=True)
def _sign(x):
    """NumPy's sign: -1, 0 or 1, and NaN for NaN."""
    return x if x != x else int(x > 0) - int(x < 0)


@cuda.jit(device=True)
def maximum(x, y):
    """NumPy's maximum: NaN wins."""
    return x if x >= y or x != x else y


@cuda.jit(device=True)
def minimum(x, y):
    """NumPy's minimum: NaN wins."""
    return x if x <= y or x != x else y


@cuda.jit(device=True)
def _log2(x):
    """log2(x) for x > 0, -inf at 0 and NaN below, as CUDA gives them (the simulator's math
    module would raise outside the domain)."""
    if x > 0:
        return math.log2(x)
    return -math.inf if x == 0 else math.nan


@cuda.jit(device=True)
def _log10(x):
    """log10(x) for x > 0, -inf at 0 and NaN below, as `_log2`."""
    if x > 0:
        return math.log10(x)
    return -math.inf if x == 0 else math.nan


@cuda.jit(device=True)
def _atanh(x):
    """atanh on [-1, 1] (±inf at ±1), NaN outside, as CUDA."""
    if abs(x) < 1:
        return math.atanh(x)
    return math.copysign(math.inf, x) if abs(x) == 1 else math.nan


def _device(function: Callable) -> Callable:
    return cuda.jit(device=True)(function)


UNARY_FUNCTIONS = {
    "neg": _device(lambda x: -x),
    "exp": _device(lambda x: math.exp(x)),
    "log": _device(lambda x: math.log(x)),
    "sqrt": _device(lambda x: math.sqrt(x)),
    "abs": _device(lambda x: abs(x)),
    "sign": _sign,
    "sin": _device(lambda x: math.sin(x)),
    "cos": _device(lambda x: math.cos(x)),
    "erf": _device(lambda x: math.erf(x)),
    "log1p": _device(lambda x: math.log1p(x)),
    "expm1": _device(lambda x: math.expm1(x)),
    "log2": _log2,
    "log10": _log10,
    "sinh": _device(lambda x: math.sinh(x)),
    "cosh": _device(lambda x: math.cosh(x)),
    "asin": _device(lambda x: math.asin(x) if abs(x) <= 1 else math.nan),
    "acos": _device(lambda x: math.acos(x) if abs(x) <= 1 else math.nan),
    "atan": _device(lambda x: math.atan(x)),
    "asinh": _device(lambda x: math.asinh(x)),
    "acosh": _device(lambda x: math.acosh(x) if x >= 1 else math.nan),
    "atanh": _atanh,
    "erfc": _device(lambda x: math.erfc(x)),
    "signbit": _device(lambda x: math.copysign(1.0, x) < 0),
}

BINARY_FUNCTIONS = {
    "add": _device(lambda x, y: x + y),
    "sub": _device(lambda x, y: x - y),
    "mul": _device(lambda x, y: x * y),
    "div": _device(lambda x, y: x / y),
    "pow": _device(lambda x, y: x**y),
    "maximum": maximum,
    "minimum": minimum,
    "eq": _device(lambda x, y: x == y),
    "ne": _device(lambda x, y: x != y),
    "lt": _device(lambda x, y: x < y),
    "le": _device(lambda x, y: x <= y),
    "gt": _device(lambda x, y: x > y),
    "ge": _device(lambda x, y: x >= y),
}


# -- activations: forward(x, alpha) and backward(grad, x, y, alpha) -----------------------


@cuda.jit(device=True)
def _softplus(x, beta):
    bx = x * beta
    if bx > SOFTPLUS_THRESHOLD:
        return x
    return (max(bx, 0.0) + math.log1p(math.exp(-abs(bx)))) / beta


@cuda.jit(device=True)
def _gelu_tanh(x, alpha):
    inner = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)
    return 0.5 * x * (1.0 + math.tanh(inner))


@cuda.jit(device=True)
def _gelu_tanh_backward(g, x, y, alpha):
    inner = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)
    t = math.tanh(inner)
    d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * x * x)
    return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)


@cuda.jit(device=True)
def _silu_backward(g, x, y, alpha):
    s = _sigmoid(x)
    return g * (s * (1.0 + x * (1.0 - s)))


@cuda.jit(device=True)
def _softplus_backward(g, x, y, beta):
    bx = x * beta
    return g if bx > SOFTPLUS_THRESHOLD else g * _sigmoid(bx)


ACTIVATION_FUNCTIONS = {
    "relu": (
        _device(lambda x, alpha: x if x > 0 else 0),
        _device(lambda g, x, y, alpha: g if y > 0 else 0),
    ),
    "leaky_relu": (
        _device(lambda x, alpha: x if x > 0 else x * alpha),
        _device(lambda g, x, y, alpha: g if x > 0 else g * alpha),
    ),
    "sigmoid": (
        _device(lambda x, alpha: _sigmoid(x)),
        _device(lambda g, x, y, alpha: g * y * (1.0 - y)),
    ),
    "tanh": (
        _device(lambda x, alpha: math.tanh(x)),
        _device(lambda g, x, y, alpha: g * (1.0 - y * y)),
    ),
    "gelu": (
        _device(lambda x, alpha: 0.5 * x * (1.0 + math.erf(x * SQRT_HALF))),
        _device(
            lambda g, x, y, alpha: (
                g
                * (
                    0.5 * (1.0 + math.erf(x * SQRT_HALF))
                    + x * math.exp(-0.5 * x * x) * INV_SQRT_2PI
                )
            )
        ),
    ),
    "gelu_tanh": (_gelu_tanh, _gelu_tanh_backward),
    "silu": (
        _device(lambda x, alpha: x * _sigmoid(x)),
        _silu_backward,
    ),
    "softplus": (_softplus, _softplus_backward),
    "elu": (
        _device(lambda x, alpha: x if x > 0 else alpha * math.expm1(x)),
        _device(lambda g, x, y, alpha: g if x > 0 else g * (y + alpha)),
    ),
}


# -- kernel factories ----------------------------------------------------------------------


class BinaryKernels(NamedTuple):
    same_shape: Callable
    broadcast: Callable
    scalar_right: Callable
    scalar_left: Callable


def _binary_kernels(function: Callable) -> BinaryKernels:
    @cuda.jit
    def same_shape(x, y, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = function(x[i], y[i])

    @cuda.jit
    def broadcast(x, y, out, shape, x_strides, y_strides):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            a, b = strided_offsets(i, shape, x_strides, y_strides)
            out[i] = function(x[a], y[b])

    @cuda.jit
    def scalar_right(x, value, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = function(x[i], value)

    @cuda.jit
    def scalar_left(value, y, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = function(value, y[i])

    return BinaryKernels(same_shape, broadcast, scalar_right, scalar_left)


def _unary_kernel(function: Callable) -> Callable:
    @cuda.jit
    def kernel(x, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = function(x[i])

    return kernel


class ActivationKernels(NamedTuple):
    forward: Callable
    backward: Callable
    bias_rows: Callable
    bias_broadcast: Callable


def _activation_kernels(forward: Callable, backward: Callable) -> ActivationKernels:
    @cuda.jit
    def forward_kernel(x, out, alpha):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = forward(x[i], alpha)

    @cuda.jit
    def backward_kernel(grad, x, y, out, alpha):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = backward(grad[i], x[i], y[i], alpha)

    @cuda.jit
    def bias_rows(x, bias, out, alpha):
        features = bias.size
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = forward(x[i] + bias[i % features], alpha)

    @cuda.jit
    def bias_broadcast(x, bias, out, shape, x_strides, bias_strides, alpha):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            a, b = strided_offsets(i, shape, x_strides, bias_strides)
            out[i] = forward(x[a] + bias[b], alpha)

    return ActivationKernels(forward_kernel, backward_kernel, bias_rows, bias_broadcast)


UNARY = {name: _unary_kernel(function) for name, function in UNARY_FUNCTIONS.items()}
BINARY = {name: _binary_kernels(function) for name, function in BINARY_FUNCTIONS.items()}
ACTIVATIONS = {name: _activation_kernels(*pair) for name, pair in ACTIVATION_FUNCTIONS.items()}


@cuda.jit
def _fill(out, value):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = value


@cuda.jit
def _arange(out, start, step):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = start + i * step


@cuda.jit
def _cast(x, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = x[i]


@cuda.jit
def _to_bool(x, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = x[i] != 0


@cuda.jit
def _where(condition, x, y, out, shape, condition_strides, x_strides, y_strides):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        if condition[strided_offset(i, shape, condition_strides)]:
            out[i] = x[strided_offset(i, shape, x_strides)]
        else:
            out[i] = y[strided_offset(i, shape, y_strides)]


# -- host-side launchers: the contract's primitives (backprop.backend.base) of these names --


def fill(out, value) -> None:
    """Sets every element of `out` to `value`, in place."""
    launch(_fill, out.size, flat(out), np.dtype(out.dtype).type(value))


def full(shape: tuple[int, ...], value, dtype):
    out = empty(shape, dtype)
    launch(_fill, out.size, flat(out), np.dtype(dtype).type(value))
    return out


def arange(start: float, stop: float, step: float, dtype):
    count = max(0, math.ceil((stop - start) / step))
    out = empty((count,), dtype)
    launch(_arange, count, out, start, step)
    return out


def astype(x, dtype):
    out = empty(x.shape, dtype)
    kernel = _to_bool if np.dtype(dtype) == np.bool_ else _cast
    launch(kernel, out.size, flat(x), flat(out))
    return out


def scalar_like(value, dtype: np.dtype):
    """A Python number as a kernel argument of the array's dtype, as NumPy's weak scalars;
    a float with an integer array stays float64."""
    if dtype.kind == "f" or dtype.kind == "b" or not isinstance(value, float):
        return dtype.type(value)
    return np.float64(value)


def unary(op: str, x):
    out = empty(x.shape, x.dtype)
    launch(UNARY[op], out.size, flat(x), flat(out))
    return out


def binary(op: str, x, y, out_dtype=None):
    """`op(x, y)` broadcast; either operand may be a Python number. `out_dtype` defaults to
    the array operand's dtype (float64 for `div` of integers, as NumPy's true division)."""
    kernels = BINARY[op]
    dtype = (x if is_scalar(y) else y).dtype
    if out_dtype is None and op == "div" and dtype.kind in "biu":
        out_dtype = np.dtype(np.float64)
    if is_scalar(y):
        out = empty(x.shape, out_dtype or x.dtype)
        launch(kernels.scalar_right, out.size, flat(x), scalar_like(y, x.dtype), flat(out))
        return out
    if is_scalar(x):
        out = empty(y.shape, out_dtype or y.dtype)
        launch(kernels.scalar_left, out.size, scalar_like(x, y.dtype), flat(y), flat(out))
        return out
    shape = tuple(np.broadcast_shapes(x.shape, y.shape))
    out = empty(shape, out_dtype or x.dtype)
    if x.shape == y.shape:
        launch(kernels.same_shape, out.size, flat(x), flat(y), flat(out))
        return out
    dims, x_strides, y_strides = at_least_1d(
        shape, broadcast_strides(x.shape, shape), broadcast_strides(y.shape, shape)
    )
    launch(kernels.broadcast, out.size, flat(x), flat(y), flat(out), dims, x_strides, y_strides)
    return out


def where(condition, x, y):
    shape = tuple(np.broadcast_shapes(condition.shape, x.shape, y.shape))
    out = empty(shape, x.dtype)
    dims, *strides = at_least_1d(
        shape, *(broadcast_strides(a.shape, shape) for a in (condition, x, y))
    )
    launch(_where, out.size, flat(condition), flat(x), flat(y), flat(out), dims, *strides)
    return out


def act_forward(name: str, x, alpha: float):
    out = empty(x.shape, x.dtype)
    launch(ACTIVATIONS[name].forward, out.size, flat(x), flat(out), alpha)
    return out


def act_backward(name: str, grad, x, y, alpha: float):
    out = empty(grad.shape, grad.dtype)
    kernel = ACTIVATIONS[name].backward
    launch(kernel, out.size, flat(grad), flat(x), flat(y), flat(out), alpha)
    return out


def bias_act_forward(name: str, x, bias, alpha: float):
    """`act(x + bias)` in one kernel; the common `(..., F) + (F,)` case indexes the bias by
    the flat position, any other broadcast goes through strides."""
    kernels = ACTIVATIONS[name]
    shape = tuple(np.broadcast_shapes(x.shape, bias.shape))
    out = empty(shape, x.dtype)
    bias_shape = tuple(bias.shape)
    while bias_shape and bias_shape[0] == 1:
        bias_shape = bias_shape[1:]
    if shape == tuple(x.shape) and shape[len(shape) - len(bias_shape) :] == bias_shape:
        launch(kernels.bias_rows, out.size, flat(x), flat(bias), flat(out), alpha)
        return out
    dims, x_strides, bias_strides = at_least_1d(
        shape, broadcast_strides(x.shape, shape), broadcast_strides(bias.shape, shape)
    )
    args = (flat(x), flat(bias), flat(out), dims, x_strides, bias_strides, alpha)
    launch(kernels.bias_broadcast, out.size, *args)
    return out
