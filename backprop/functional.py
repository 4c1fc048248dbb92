"""Stateless functions with PyTorch's names and conventions: activations, softmax, losses,
dropout and `linear`. Layers in `backprop.nn` are thin wrappers around these."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backprop import creation, ops
from backprop import inplace as in_place
from backprop.ops import log_softmax, softmax
from backprop.ops.arithmetic import mask
from backprop.ops.common import require_float
from backprop.random import dropout_state
from backprop.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "dropout",
    "elu",
    "gaussian_nll_loss",
    "gelu",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "relu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softplus",
    "tanh",
    "triplet_margin_loss",
]

REDUCTIONS = ("mean", "sum", "none")
KL_DIV_REDUCTIONS = ("mean", "batchmean", "sum", "none")


# The activations and dropout take PyTorch's `inplace=`: `backprop.inplace.inplace_result`
# says when the result is written into the input (autograd not involved) and when not.


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return in_place.inplace_result("relu", input, ops.activation(input, "relu"), inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    result = ops.activation(input, "leaky_relu", negative_slope)
    return in_place.inplace_result("leaky_relu", input, result, inplace)


def sigmoid(x: Tensor) -> Tensor:
    return ops.activation(x, "sigmoid")


def tanh(x: Tensor) -> Tensor:
    return ops.activation(x, "tanh")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return ops.gelu(x, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return in_place.inplace_result("silu", input, ops.activation(input, "silu"), inplace)


def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    return ops.activation(x, "softplus", beta)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return in_place.inplace_result("elu", input, ops.activation(input, "elu", alpha), inplace)


def linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None
) -> Tensor:
    """`x @ weight.T + bias`, weight shaped (out, in) as in PyTorch; with `activation`
    (a name such as "relu") the bias and activation run as one fused op."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be (out_features, in_features), got {weight.shape}")
    out = ops.matmul(x, weight, transpose_b=True)
    if isinstance(bias, Tensor) and bias.dtype != out.dtype:
        raise TypeError(
            f"linear: bias has dtype {bias.dtype} but x and weight have {out.dtype}; as in "
            "torch, the bias is not promoted, so convert it with .to(dtype)"
        )
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


def _check_companion(op: str, name: str, value: Tensor, input: Tensor, shape: tuple) -> None:
    """`value` (a target, weight or variance next to `input`) is a Tensor of the input's
    dtype, on its device, whose shape broadcasts to `shape` without growing it."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    if value.dtype != input.dtype:
        raise TypeError(
            f"{op}: {name} dtype {value.dtype} differs from input dtype {input.dtype}; "
            "convert it with .to(dtype)"
        )
    if value.device != input.device:
        raise RuntimeError(f"{op}: input is on {input.device} but {name} on {value.device}")
    try:
        fits = np.broadcast_shapes(value.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: {name} shape {value.shape} does not broadcast to {shape}")


def _check_inputs(op: str, names: tuple[str, ...], *tensors: Tensor) -> None:
    """The tensors named `names` are float Tensors of one dtype, shape and device."""
    first = tensors[0]
    require_float(op, first)
    for name, tensor in zip(names[1:], tensors[1:]):
        if isinstance(tensor, Tensor) and tensor.shape != first.shape:
            raise ValueError(
                f"{op}: {names[0]} shape {first.shape} and {name} shape {tensor.shape} differ"
            )
        _check_companion(op, name, tensor, first, first.shape)


def _softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)) without overflow or cut-off: `x + log1p(exp(-x))` above 0, else
    `log1p(exp(x))`. Each branch is smooth and takes a finite argument, so the gradient is
    `sigmoid(x)` everywhere (also at 0) and the second derivative is right too."""
    positive = ops.compare("gt", x, 0.0)
    upper, lower = ops.where(positive, x, 0.0), ops.where(positive, 0.0, x)
    return upper + ops.log1p(ops.exp(lower - upper))


def _log_sigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) as PyTorch's `logsigmoid`: `min(x, 0) - log1p(exp(-|x|))`."""
    return -_softplus(-x)


def _clamped_log(p: Tensor) -> Tensor:
    """log(p) limited below by -100, as PyTorch's BCE does; at p = 0 the value is -100 and the
    gradient 0, where `clamp(log(p))` would put 0 * inf = NaN into the backward."""
    positive = ops.compare("gt", p, 0.0)
    return ops.clamp(ops.where(positive, ops.log(ops.where(positive, p, 1.0)), -100.0), min=-100.0)


def _check_probabilities(op: str, input: Tensor) -> None:
    """On the CPU, where it costs nothing, probabilities outside [0, 1] (or NaN) raise as in
    PyTorch; a GPU is not asked, since reading its data would wait for the device."""
    if input.device.type != "cpu":
        return
    values = np.asarray(input.data)
    outside = values[~((values >= 0) & (values <= 1))]
    if outside.size:
        raise ValueError(
            f"{op}: input holds probabilities and must be in [0, 1], got {outside[0]} "
            f"(input {input.shape})"
        )


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """BCE `-w (t log p + (1 - t) log(1 - p))` of probabilities `p` in [0, 1], as
    `torch.nn.functional.binary_cross_entropy`: logs clamped at -100, `weight` broadcast to
    the input's shape."""
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    if weight is not None:
        _check_companion(op, "weight", weight, input, input.shape)
    _check_probabilities(op, input)
    losses = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        losses = losses * weight
    return _reduce(op, losses, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """BCE of `sigmoid(input)` from the logits, as
    `torch.nn.functional.binary_cross_entropy_with_logits`:
    `w ((1 - t) x - (1 + (pos_weight - 1) t) log sigmoid(x))`, stable for any logit.
    `weight` and `pos_weight` (one per class, on the last axis) broadcast to the input."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    for name, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is not None:
            _check_companion(op, name, value, input, input.shape)
    log_sigmoid = _log_sigmoid(input)
    if pos_weight is not None:
        log_sigmoid = log_sigmoid * ((pos_weight - 1) * target + 1)
    losses = (1 - target) * input - log_sigmoid
    if weight is not None:
        losses = losses * weight
    return _reduce(op, losses, reduction)


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """`max(0, -y (x1 - x2) + margin)` for targets y of +1 (x1 should rank higher) or -1, as
    `torch.nn.functional.margin_ranking_loss`."""
    op = "margin_ranking_loss"
    _check_reduction(op, reduction)
    _check_inputs(op, ("input1", "input2", "target"), input1, input2, target)
    losses = ops.clamp(-target * (input1 - input2) + margin, min=0.0)
    return _reduce(op, losses, reduction)


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """`x` where y = 1 and `max(0, margin - x)` where y = -1, as
    `torch.nn.functional.hinge_embedding_loss` (a target other than ±1 adds both terms)."""
    op = "hinge_embedding_loss"
    _check_reduction(op, reduction)
    _check_inputs(op, ("input", "target"), input, target)
    below_margin = ops.where(
        ops.compare("ne", target, 1.0), ops.clamp(margin - input, min=0.0), 0.0
    )
    losses = below_margin + ops.where(ops.compare("ne", target, -1.0), input, 0.0)
    return _reduce(op, losses, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss `log(1 + exp(-y x))` for targets ±1, as
    `torch.nn.functional.soft_margin_loss`, without PyTorch's overflow for large `-y x`."""
    op = "soft_margin_loss"
    _check_reduction(op, reduction)
    _check_inputs(op, ("input", "target"), input, target)
    return _reduce(op, _softplus(-target * input), reduction)


def multilabel_soft_margin_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Per-sample mean over the classes (the last axis) of the BCE of `sigmoid(input)`
    against 0/1 `target`, as `torch.nn.functional.multilabel_soft_margin_loss`; `weight`
    broadcasts to the input. The 'none' reduction gives one loss per sample."""
    op = "multilabel_soft_margin_loss"
    _check_reduction(op, reduction)
    _check_inputs(op, ("input", "target"), input, target)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must be (C,) or (N, C), classes last, got ()")
    if weight is not None:
        _check_companion(op, "weight", weight, input, input.shape)
    losses = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        losses = losses * weight
    return _reduce(op, losses.sum(-1) / input.shape[-1], reduction)


def _check_margin_targets(op: str, input: Tensor, target: Tensor) -> None:
    """Class indices for (C,) or (N, C) scores: () or (1,) for one sample, (N,) for N. On the
    CPU a class outside [0, C) raises as in PyTorch; a GPU gives it a NaN loss instead."""
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
        got = f"{target.dtype} {target.shape}" if isinstance(target, Tensor) else repr(target)
        raise TypeError(f"{op}: target must be an integer Tensor of class indices, got {got}")
    allowed = [(), (1,)] if input.ndim == 1 else [input.shape[:1]]
    if target.shape not in allowed:
        raise ValueError(
            f"{op}: target shape {target.shape} does not fit input {input.shape}; expected "
            f"{' or '.join(str(shape) for shape in allowed)}"
        )
    if target.device != input.device:
        raise RuntimeError(f"{op}: input is on {input.device} but target on {target.device}")
    if target.device.type == "cpu":
        classes = input.shape[-1]
        values = np.asarray(target.data)
        wrong = values[(values < 0) | (values >= classes)]
        if wrong.size:
            raise IndexError(
                f"{op}: target {int(wrong[0])} is out of bounds for {classes} classes "
                f"(input {input.shape})"
            )


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss of scores (N, C) or (C,) at class indices y, as
    `torch.nn.functional.multi_margin_loss`: per sample,
    `sum_{j != y} weight[y] max(0, margin - x[y] + x[j])^p / C`, with p 1 or 2."""
    op = "multi_margin_loss"
    _check_reduction(op, reduction)
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"{op}: p must be 1 or 2, got {p!r}")
    require_float(op, input)
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(
            f"{op}: input must be (C,) or (N, C) with at least one class, got {input.shape}"
        )
    _check_margin_targets(op, input, target)
    _check_weight(op, input, weight)
    classes = input.shape[-1]
    rows, flat = input.reshape(-1, classes), ops.astype(target.reshape(-1, 1), "int64")
    inside = ops.where(ops.compare("ge", flat, 0), ops.compare("lt", flat, classes), False)
    safe = ops.where(inside, flat, 0)
    gaps = margin - ops.gather(rows, 1, safe) + rows
    hinges = ops.where(ops.compare("gt", gaps, 0.0), gaps, 0.0)
    if p == 2:
        hinges = hinges * hinges
    if weight is not None:
        hinges = hinges * ops.gather(weight, 0, safe.reshape(-1)).reshape(-1, 1)
    others = ops.compare("ne", creation.arange(classes, device=input.device), safe)
    losses = ops.where(others, hinges, 0.0).sum(1) / classes
    losses = ops.where(inside.reshape(-1), losses, math.nan)
    return _reduce(op, losses.reshape(target.shape), reduction)


COSINE_EPSILON = 1e-12


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """`1 - cos(x1, x2)` where y = 1 and `max(0, cos(x1, x2) - margin)` where y = -1, for
    inputs (N, D) with targets (N,) or inputs (D,) with a 0-d target, as
    `torch.nn.functional.cosine_embedding_loss` (each squared norm gets 1e-12 added)."""
    op = "cosine_embedding_loss"
    _check_reduction(op, reduction)
    _check_inputs(op, ("input1", "input2"), input1, input2)
    if input1.ndim not in (1, 2):
        raise ValueError(f"{op}: inputs must be (N, D) or (D,), got {input1.shape}")
    _check_companion(op, "target", target, input1, input1.shape[:-1])
    if target.shape != input1.shape[:-1]:
        raise ValueError(
            f"{op}: target must have shape {input1.shape[:-1]} for inputs {input1.shape}, "
            f"got {target.shape}"
        )
    axis = input1.ndim - 1
    products = (input1 * input2).sum(axis)
    squares1 = (input1 * input1).sum(axis) + COSINE_EPSILON
    squares2 = (input2 * input2).sum(axis) + COSINE_EPSILON
    cosine = products / ops.sqrt(squares1 * squares2)
    similar = ops.where(ops.compare("eq", target, 1.0), 1 - cosine, 0.0)
    dissimilar = ops.where(
        ops.compare("eq", target, -1.0), ops.clamp(cosine - margin, min=0.0), 0.0
    )
    return _reduce(op, similar + dissimilar, reduction)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """`max(0, margin + d(a, pos) - d(a, neg))` with `d(x, y) = ||x - y + eps||_p` over the
    last axis, as `torch.nn.functional.triplet_margin_loss`; `swap` takes the smaller of
    d(a, neg) and d(pos, neg) as the negative distance."""
    op = "triplet_margin_loss"
    _check_reduction(op, reduction)
    if not margin > 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ValueError(f"{op}: p must be a positive number or inf, got {p!r}")
    _check_inputs(op, ("anchor", "positive", "negative"), anchor, positive, negative)
    if anchor.ndim == 0:
        raise ValueError(f"{op}: inputs must be (N, D) or (D,), got ()")

    def distance(x: Tensor, y: Tensor) -> Tensor:
        return ops.norm(x - y + eps, p, -1)

    to_negative = distance(anchor, negative)
    if swap:
        to_negative = ops.minimum(to_negative, distance(positive, negative))
    losses = ops.clamp(margin + distance(anchor, positive) - to_negative, min=0.0)
    return _reduce(op, losses, reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood of counts `target`, as
    `torch.nn.functional.poisson_nll_loss`: `exp(x) - t x` for a log-rate `x`, or
    `x - t log(x + eps)` for a rate with `log_input=False`; `full` adds Stirling's
    `t log t - t + 0.5 log(2 pi t)` where t > 1."""
    op = "poisson_nll_loss"
    _check_reduction(op, reduction)
    _check_inputs(op, ("input", "target"), input, target)
    losses = ops.exp(input) - target * input if log_input else input - target * ops.log(input + eps)
    if full:
        above_one = ops.compare("gt", target, 1.0)
        safe = ops.where(above_one, target, 1.0)
        stirling = safe * ops.log(safe) - safe + 0.5 * ops.log(2 * math.pi * safe)
        losses = losses + ops.where(above_one, stirling, 0.0)
    return _reduce(op, losses, reduction)


def _gaussian_variance(op: str, input: Tensor, var: Tensor | float) -> Tensor:
    """`var` as a Tensor that broadcasts to the input as PyTorch's rules allow: the input's
    shape, the input's shape less its last axis, or the input's shape with one axis of 1; a
    number stands for every element. Negative entries raise (on the CPU for a Tensor)."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var must be non-negative, got {var}")
        return creation.full(input.shape, float(var), dtype=input.dtype, device=input.device)
    if not isinstance(var, Tensor):
        raise TypeError(f"{op}: var must be a Tensor or a number, got {type(var).__name__}")
    if var.shape != input.shape and var.shape == input.shape[:-1]:
        var = var.unsqueeze(-1)
    elif var.shape != input.shape:
        mismatched = var.ndim == input.ndim and sum(
            size for size, wanted in zip(var.shape, input.shape) if size != wanted
        )
        if mismatched != 1:
            raise ValueError(
                f"{op}: var shape {var.shape} does not fit input {input.shape}; it must be the "
                "input's shape, that shape less the last axis, or with one axis of size 1"
            )
    _check_companion(op, "var", var, input, input.shape)
    if var.device.type == "cpu" and (np.asarray(var.data) < 0).any():
        raise ValueError(f"{op}: var must be non-negative, got a negative entry")
    return var


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Gaussian negative log-likelihood `0.5 (log v + (x - t)^2 / v)` of `target` under means
    `input` and variances `var`, as `torch.nn.functional.gaussian_nll_loss`; `full` adds
    `0.5 log(2 pi)`. The variance is clamped at `eps` in value only, so its gradient passes
    the clamp unchanged, as in PyTorch."""
    op = "gaussian_nll_loss"
    _check_reduction(op, reduction)
    require_float(op, input)
    _check_companion(op, "target", target, input, input.shape)
    var = _gaussian_variance(op, input, var)
    var = var + (ops.clamp(var, min=eps) - var).detach()
    diff = input - target
    losses = 0.5 * (ops.log(var) + diff * diff / var)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _reduce(op, losses, reduction)


def check_dropout_probability(op: str, p: float) -> None:
    """A dropout probability must lie in [0, 1]; the dropout functions and layers share this."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")


def dropout_keep_mask(
    x: Tensor, shape: tuple[int, ...], p: float, generator: np.random.Generator | None
) -> Tensor:
    """A bool mask of `shape`, on `x`'s device, that is True with probability 1 - p, drawn on
    the device from its Philox state (`backprop.random.dropout_state`), or from one seeded by
    `generator`. Every dropout draws its mask here, so one seed gives the same mask to all."""
    state = dropout_state(x.device, generator)
    return Tensor._make(x.backend.dropout_mask(shape, p, state), x.device)


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: Any = None,
) -> Tensor:
    """Zeroes each element with probability `p` and scales the rest by 1 / (1 - p)."""
    check_dropout_probability("dropout", p)
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: expected a Tensor, got {type(input).__name__}")
    in_place.check_inplace_flag("dropout", inplace)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return in_place.inplace_result("dropout", input, input * 0.0, inplace)
    keep = dropout_keep_mask(input, input.shape, p, generator)
    result = ops.where(keep, input * (1.0 / (1.0 - p)), 0.0)
    return in_place.inplace_result("dropout", input, result, inplace)
