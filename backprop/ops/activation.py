"""Activations by name, with and without a fused bias.

First-order backward is one backend kernel, `act_backward`, that uses the saved output where
that is cheaper. With `create_graph=True` the gradient is instead built from differentiable ops
(`act_derivative`), so activations can be differentiated any number of times.
"""

from __future__ import annotations

import math

from backprop.autograd import Function, is_grad_enabled
from backprop.backend.base import ACTIVATIONS, OUTPUT_ONLY_BACKWARD, SOFTPLUS_THRESHOLD
from backprop.ops.arithmetic import compare, erf, exp, mask, where
from backprop.ops.common import require_float
from backprop.ops.movement import sum_to
from backprop.tensor import Tensor, common_device

_GELU_TANH_SCALE = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715


class Activation(Function):
    def __init__(self, kind: str, alpha: float):
        self.kind, self.alpha = kind, alpha

    @property
    def name(self) -> str:
        return self.kind

    def forward(self, x):
        self.x = x
        self.y = self.backend.act_forward(self.kind, x, self.alpha)
        return self.y

    def backward(self, gy):
        if is_grad_enabled():
            return gy * act_derivative(self.kind, self.alpha, self.inputs[0])
        grad = self.backend.act_backward(self.kind, gy.data, self.x, self.y, self.alpha)
        return Tensor._make(grad, gy.device)


class BiasActivation(Function):
    """`act(x + bias)` in one fused kernel; `bias` broadcasts over the last axis."""

    def __init__(self, kind: str, alpha: float):
        self.kind, self.alpha = kind, alpha

    @property
    def name(self) -> str:
        return f"bias_{self.kind}"

    def forward(self, x, bias):
        self.y = self.backend.bias_act_forward(self.kind, x, bias, self.alpha)
        return self.y

    def backward(self, gy):
        x, bias = self.inputs
        if is_grad_enabled():
            gz = gy * act_derivative(self.kind, self.alpha, x + bias)
        else:
            needs_input = self.kind not in OUTPUT_ONLY_BACKWARD
            z = self.backend.binary("add", x.data, bias.data) if needs_input else self.y
            gz = self.backend.act_backward(self.kind, gy.data, z, self.y, self.alpha)
            gz = Tensor._make(gz, gy.device)
        return sum_to(gz, x.shape), sum_to(gz, bias.shape)


def act_derivative(kind: str, alpha: float, x: Tensor) -> Tensor:
    """d act(x) / dx, built from differentiable ops (the create_graph path)."""
    if kind == "relu":
        return mask(compare("gt", x, 0.0), x.dtype)
    if kind == "leaky_relu":
        return mask(compare("gt", x, 0.0), x.dtype) * (1 - alpha) + alpha
    if kind == "sigmoid":
        s = activation(x, "sigmoid")
        return s * (1 - s)
    if kind == "tanh":
        t = activation(x, "tanh")
        return 1 - t * t
    if kind == "gelu":
        cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
        return cdf + x * exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
    if kind == "gelu_tanh":
        t = activation(_GELU_TANH_SCALE * (x + _GELU_TANH_CUBIC * x * x * x), "tanh")
        inner_slope = _GELU_TANH_SCALE * (1 + 3 * _GELU_TANH_CUBIC * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner_slope
    if kind == "silu":
        s = activation(x, "sigmoid")
        return s * (1 + x * (1 - s))
    if kind == "softplus":
        linear = compare("gt", x * alpha, SOFTPLUS_THRESHOLD)
        return where(linear, 1.0, activation(x * alpha, "sigmoid"))
    if kind == "elu":
        return where(compare("gt", x, 0.0), 1.0, activation(x, "elu", alpha) + alpha)
    raise ValueError(f"activation: unknown activation {kind!r}; known: {', '.join(ACTIVATIONS)}")


_DEFAULT_ALPHA = {"leaky_relu": 0.01, "softplus": 1.0, "elu": 1.0}


def _check(kind: str, alpha: float | None) -> float:
    if kind not in ACTIVATIONS:
        raise ValueError(
            f"activation: unknown activation {kind!r}; known: {', '.join(ACTIVATIONS)}"
        )
    alpha = _DEFAULT_ALPHA.get(kind, 0.0) if alpha is None else float(alpha)
    if kind == "softplus" and alpha <= 0:
        raise ValueError(f"softplus: beta must be positive, got {alpha}")
    return alpha


def activation(x: Tensor, kind: str, alpha: float | None = None) -> Tensor:
    """`kind`(x) for one of ACTIVATIONS; `alpha` is leaky_relu's slope, elu's alpha or
    softplus's beta (PyTorch's defaults when None)."""
    alpha = _check(kind, alpha)
    require_float(kind, x)
    return Activation(kind, alpha)(x)


def bias_activation(x: Tensor, bias: Tensor, kind: str, alpha: float | None = None) -> Tensor:
    """`kind`(x + bias) in one fused op; `bias` is 1-D and matches x's last axis."""
    alpha = _check(kind, alpha)
    common_device(f"bias_{kind}", (x, bias))
    require_float(f"bias_{kind}", x, bias)
    if bias.dtype != x.dtype:
        raise TypeError(
            f"bias_{kind}: bias has dtype {bias.dtype} but x has {x.dtype}; a fused bias is "
            "not promoted (as torch's F.linear), so convert it with .to(dtype)"
        )
    if bias.ndim != 1 or x.ndim < 1 or bias.shape[0] != x.shape[-1]:
        raise ValueError(
            f"bias_{kind}: bias must be 1-D with x's last axis ({x.shape}), got {bias.shape}"
        )
    return BiasActivation(kind, alpha)(x, bias)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU, exact (`approximate="none"`) or with PyTorch's tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return activation(x, "gelu" if approximate == "none" else "gelu_tanh")
