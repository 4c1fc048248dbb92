"""Stateless functions with PyTorch's names and conventions: activations, softmax, losses,
dropout and `linear`. Layers in `backprop.nn` are thin wrappers around these."""

from __future__ import annotations

from typing import Any

from backprop import ops
from backprop.ops import log_softmax, softmax
from backprop.ops.common import require_float
from backprop.random import default_generator
from backprop.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "elu",
    "gelu",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]

REDUCTIONS = ("mean", "sum", "none")


def relu(x: Tensor) -> Tensor:
    return ops.activation(x, "relu")


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return ops.activation(x, "leaky_relu", negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    return ops.activation(x, "sigmoid")


def tanh(x: Tensor) -> Tensor:
    return ops.activation(x, "tanh")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return ops.gelu(x, approximate)


def silu(x: Tensor) -> Tensor:
    return ops.activation(x, "silu")


def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    return ops.activation(x, "softplus", beta)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ops.activation(x, "elu", alpha)


def linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None
) -> Tensor:
    """`x @ weight.T + bias`, weight shaped (out, in) as in PyTorch; with `activation`
    (a name such as "relu") the bias and activation run as one fused op."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be (out_features, in_features), got {weight.shape}")
    out = ops.matmul(x, weight, transpose_b=True)
    if activation is not None and bias is not None:
        return ops.bias_activation(out, bias, activation)
    if bias is not None:
        out = out + bias
    return out if activation is None else ops.activation(out, activation)


def _reduce(op: str, losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor, got {type(target).__name__}")
    if input.shape != target.shape:
        raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} differ")
    require_float(op, input, target)


def cross_entropy(
    input: Tensor, target: Tensor, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Softmax cross-entropy of logits (N, C) against class indices (N,), fused in one op."""
    losses = ops.softmax_cross_entropy(input, target, label_smoothing)
    return _reduce("cross_entropy", losses, reduction)


def nll_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) at class indices (N,)."""
    if input.ndim != 2 or not isinstance(target, Tensor) or target.shape != input.shape[:1]:
        got = target.shape if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(
            f"nll_loss: expected input (N, C) and target (N,), got {input.shape}, {got}"
        )
    if target.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices, got {target.dtype}")
    picked = ops.gather(input, 1, target.reshape(-1, 1)).reshape(-1)
    return _reduce("nll_loss", -picked, reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _same_shape("l1_loss", input, target)
    return _reduce("l1_loss", ops.abs(input - target), reduction)


def _clamped_log(p: Tensor) -> Tensor:
    """log(p) limited below by -100, as PyTorch's BCE does; at p = 0 the value is -100 and the
    gradient 0, where `clamp(log(p))` would put 0 * inf = NaN into the backward."""
    positive = ops.compare("gt", p, 0.0)
    return ops.clamp(ops.where(positive, ops.log(ops.where(positive, p, 1.0)), -100.0), min=-100.0)


def binary_cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """BCE of probabilities in [0, 1]; logs are clamped at -100, as in PyTorch."""
    _same_shape("binary_cross_entropy", input, target)
    log_p, log_not_p = _clamped_log(input), _clamped_log(1 - input)
    losses = -(target * log_p + (1 - target) * log_not_p)
    return _reduce("binary_cross_entropy", losses, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Tensor, reduction: str = "mean"
) -> Tensor:
    """BCE of `sigmoid(input)`, computed stably from the logits.

    `(1 - t) * x + softplus(-x)` is smooth everywhere, so its gradient is `sigmoid(x) - t` even
    at x = 0, where the textbook `relu(x) - x t + log1p(exp(-|x|))` has kinks whose
    subgradients give `-t`; softplus turns into the identity only where that is exact.
    """
    _same_shape("binary_cross_entropy_with_logits", input, target)
    losses = (1 - target) * input + softplus(-input)
    return _reduce("binary_cross_entropy_with_logits", losses, reduction)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: Any = None) -> Tensor:
    """Zeroes each element with probability `p` and scales the rest by 1 / (1 - p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    rng = generator or default_generator()
    noise = x.backend.random_uniform(x.shape, x.dtype, rng)
    keep = Tensor._make(x.backend.compare("ge", noise, p), x.device)
    return ops.where(keep, x * (1.0 / (1.0 - p)), 0.0)
