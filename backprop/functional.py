"""Stateless functions with PyTorch's names and conventions: activations, softmax, losses,
dropout and `linear`. Layers in `backprop.nn` are thin wrappers around these."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backprop import ops
from backprop.ops import log_softmax, softmax
from backprop.ops.arithmetic import mask
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
    "huber_loss",
    "kl_div",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]

REDUCTIONS = ("mean", "sum", "none")
KL_DIV_REDUCTIONS = ("mean", "batchmean", "sum", "none")


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


def _check_reduction(op: str, reduction: str, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def _reduce(op: str, losses: Tensor, reduction: str) -> Tensor:
    _check_reduction(op, reduction)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor, got {type(target).__name__}")
    if input.shape != target.shape:
        raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} differ")
    require_float(op, input, target)


# -- class-index losses ------------------------------------------------------------------------
#
# Inputs are (N, C, d1, ...) or unbatched (C,), class indices (N, d1, ...) or 0-d. The losses
# work on rows (M, C) with the class axis last and one target per row, and give back the
# target's shape for reduction="none".


def _check_class_input(op: str, input: Tensor) -> None:
    require_float(op, input)
    if input.ndim == 0:
        raise ValueError(
            f"{op}: input must be (C,), (N, C) or (N, C, d1, ...) with classes on axis 1, got ()"
        )


def _class_axis(input: Tensor) -> int:
    return 1 if input.ndim > 1 else 0


def _check_weight(op: str, input: Tensor, weight: Tensor | None) -> None:
    """`weight` is None or one float per class, in the input's dtype and on its device."""
    if weight is None:
        return
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor of shape (C,) or None, got {weight!r}")
    classes = input.shape[_class_axis(input)]
    if weight.shape != (classes,):
        raise ValueError(
            f"{op}: weight must have shape (C,) = ({classes},), one per class of input "
            f"{input.shape}, got {weight.shape}"
        )
    if weight.dtype != input.dtype:
        raise TypeError(
            f"{op}: weight dtype {weight.dtype} differs from input dtype {input.dtype}; "
            "convert it with .to(dtype)"
        )
    if weight.device != input.device:
        raise RuntimeError(f"{op}: input is on {input.device} but weight on {weight.device}")


def _check_class_targets(op: str, input: Tensor, target: Tensor, ignore_index: int) -> None:
    """Checks integer class `target` against `input`. On the CPU, where reading the targets
    costs nothing, a class outside [0, C) other than `ignore_index` raises; a GPU gives its row
    a NaN loss instead, since checking would wait for the device."""
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
        got = f"{target.dtype} {target.shape}" if isinstance(target, Tensor) else repr(target)
        raise TypeError(f"{op}: target must be an integer Tensor of class indices, got {got}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(
            f"{op}: target shape {target.shape} does not fit input {input.shape}; inputs (C,), "
            f"(N, C), (N, C, d1, ...) take class indices (), (N,), (N, d1, ...): for input "
            f"{input.shape}, expected {expected}, got {target.shape}"
        )
    if target.device != input.device:
        raise RuntimeError(f"{op}: input is on {input.device} but target on {target.device}")
    if target.device.type == "cpu":
        classes = input.shape[_class_axis(input)]
        values = np.asarray(target.data)
        wrong = values[((values < 0) | (values >= classes)) & (values != ignore_index)]
        if wrong.size:
            raise IndexError(
                f"{op}: target {int(wrong[0])} is out of bounds for {classes} classes "
                f"(input {input.shape}); targets must be in [0, {classes}) or ignore_index "
                f"({ignore_index})"
            )


def _class_rows(input: Tensor) -> Tensor:
    """The input as rows (M, C), one per target: (N, C, d1, ...) moves C last."""
    if input.ndim > 2:
        input = ops.permute(input, (0, *range(2, input.ndim), 1))
    return input.reshape(-1, input.shape[-1])


def _picked_losses(
    log_probs: Tensor, target: Tensor, ignore_index: int, weight: Tensor | None, smoothing: float
) -> tuple[Tensor, Tensor]:
    """Per-row `-weight[t] * log_probs[t]` for the flat targets, mixed with the class-weighted
    mean over classes when smoothing as PyTorch does, and 0 on ignored rows; also each row's
    weight in a mean (its class weight, or 1; 0 where ignored). Rows whose target is outside
    [0, C) pick class 0, a valid index for gather: ignored ones are then zeroed, the others
    (possible only on a GPU, where the targets are not read) get a NaN loss, as the fused
    kernel gives them."""
    classes = log_probs.shape[1]
    keep = ops.compare("ne", target, int(ignore_index))
    inside = ops.where(ops.compare("ge", target, 0), ops.compare("lt", target, classes), False)
    safe = ops.where(inside, target, 0)
    losses = -ops.gather(log_probs, 1, safe.reshape(-1, 1)).reshape(-1)
    if weight is None:
        weights = mask(keep, log_probs.dtype)
    else:
        weights = ops.where(keep, ops.gather(weight, 0, safe), 0.0)
        losses = losses * weights
        log_probs = log_probs * weight
    if smoothing:
        losses = (1 - smoothing) * losses - (smoothing / classes) * log_probs.sum(1)
    return ops.where(keep, ops.where(inside, losses, math.nan), 0.0), weights


def _class_reduce(losses: Tensor, weights: Tensor, shape: tuple, reduction: str) -> Tensor:
    """PyTorch's reduction of class-index losses: 'mean' divides by the total weight of the
    targets that count (their number when unweighted), so all ignored gives NaN."""
    if reduction == "none":
        return losses.reshape(shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / weights.sum()


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C, d1, ...) or (C,), as
    `torch.nn.functional.cross_entropy`: against integer class indices (N, d1, ...) or (),
    or against float class probabilities of the input's shape.

    `weight` scales each class's loss (a 'mean' divides by the weights of the targets);
    targets equal to `ignore_index` add 0 and are left out of the mean. Class indices without
    `weight` take the fused softmax cross-entropy op (one kernel on a GPU, which also skips the
    ignored rows); the rest is composed of differentiable ops, so every path can be
    differentiated twice.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    _check_class_input(op, input)
    _check_weight(op, input, weight)
    if isinstance(target, Tensor) and target.shape == input.shape:
        return _cross_entropy_probabilities(
            input, target, weight, ignore_index, reduction, label_smoothing
        )
    _check_class_targets(op, input, target, ignore_index)
    logits, flat = _class_rows(input), target.reshape(-1)
    if weight is None:
        losses, counted = ops.softmax_cross_entropy(logits, flat, label_smoothing, ignore_index)
        return _class_reduce(losses, counted, target.shape, reduction)
    log_probs = log_softmax(logits, 1)
    losses, weights = _picked_losses(log_probs, flat, ignore_index, weight, label_smoothing)
    return _class_reduce(losses, weights, target.shape, reduction)


def _cross_entropy_probabilities(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """Cross-entropy against class probabilities: `-sum_c weight_c target_c log_softmax_c`,
    the target first smoothed towards uniform; 'mean' divides by the number of samples."""
    op = "cross_entropy"
    if target.dtype != input.dtype:
        raise TypeError(
            f"{op}: a target of the input's shape {input.shape} holds class probabilities and "
            f"must be {input.dtype} like the input, got {target.dtype}; class indices have "
            "shape (N, d1, ...)"
        )
    if target.device != input.device:
        raise RuntimeError(f"{op}: input is on {input.device} but target on {target.device}")
    if ignore_index != -100:
        raise ValueError(
            f"{op}: ignore_index applies to class-index targets, not to probabilities "
            f"(got ignore_index={ignore_index!r})"
        )
    axis = _class_axis(input)
    classes = input.shape[axis]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    products = log_softmax(input, axis) * target
    if weight is not None:
        products = products * weight.reshape(classes, *[1] * (input.ndim - axis - 1))
    return _reduce(op, -products.sum(axis), reduction)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) or (C,) at class indices
    (N, d1, ...) or (), as `torch.nn.functional.nll_loss`."""
    op = "nll_loss"
    _check_reduction(op, reduction)
    _check_class_input(op, input)
    _check_weight(op, input, weight)
    _check_class_targets(op, input, target, ignore_index)
    flat = target.reshape(-1)
    losses, weights = _picked_losses(_class_rows(input), flat, ignore_index, weight, 0.0)
    return _class_reduce(losses, weights, target.shape, reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _same_shape("l1_loss", input, target)
    return _reduce("l1_loss", ops.abs(input - target), reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """Squared error `0.5 d^2 / beta` where `|d| < beta`, else `|d| - 0.5 beta`, as
    `torch.nn.functional.smooth_l1_loss`; beta = 0 is the L1 loss, as in PyTorch."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    _same_shape("smooth_l1_loss", input, target)
    diff = input - target
    losses = ops.abs(diff)
    if beta > 0:
        squared = diff * diff * (0.5 / beta)
        losses = ops.where(ops.compare("lt", losses, beta), squared, losses - 0.5 * beta)
    return _reduce("smooth_l1_loss", losses, reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    """Squared error `0.5 d^2` where `|d| < delta`, else `delta (|d| - 0.5 delta)`, as
    `torch.nn.functional.huber_loss`: `delta` times the smooth L1 loss with beta = delta."""
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    _same_shape("huber_loss", input, target)
    diff = input - target
    size = ops.abs(diff)
    losses = ops.where(
        ops.compare("lt", size, delta), 0.5 * diff * diff, delta * (size - 0.5 * delta)
    )
    return _reduce("huber_loss", losses, reduction)


def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """Kullback-Leibler divergence `target (log target - input)` of log-probabilities `input`
    from `target` (log-probabilities too with `log_target`), as `torch.nn.functional.kl_div`;
    a target of 0 adds 0. 'batchmean' divides the sum by the batch size (the first axis), the
    true KL divergence per sample; 'mean' averages over every element, as PyTorch does."""
    op = "kl_div"
    _check_reduction(op, reduction, KL_DIV_REDUCTIONS)
    _same_shape(op, input, target)
    if log_target:
        losses = ops.exp(target) * (target - input)
    else:
        # log(1) at target 0 keeps 0 * log(0) = NaN out of the value and the gradient
        safe = ops.where(ops.compare("eq", target, 0.0), 1.0, target)
        losses = target * ops.log(safe) - target * input
    if reduction == "batchmean":
        total = losses.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(op, losses, reduction)


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


def check_dropout_probability(op: str, p: float) -> None:
    """A dropout probability must lie in [0, 1]; the dropout functions and layers share this."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")


def dropout_keep_mask(
    x: Tensor, shape: tuple[int, ...], p: float, generator: np.random.Generator | None
) -> Tensor:
    """A bool mask of `shape`, on `x`'s device, that is True with probability 1 - p: uniform
    noise in `x`'s dtype from `generator` (the global generator by default), kept where it is
    at least p. Every dropout draws its mask here, so one seed gives the same mask to all."""
    rng = generator or default_generator()
    noise = x.backend.random_uniform(shape, x.dtype, rng)
    return Tensor._make(x.backend.compare("ge", noise, p), x.device)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: Any = None) -> Tensor:
    """Zeroes each element with probability `p` and scales the rest by 1 / (1 - p)."""
    check_dropout_probability("dropout", p)
    if not isinstance(x, Tensor):
        raise TypeError(f"dropout: expected a Tensor, got {type(x).__name__}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = dropout_keep_mask(x, x.shape, p, generator)
    return ops.where(keep, x * (1.0 / (1.0 - p)), 0.0)
