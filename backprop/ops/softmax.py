"""Softmax, log-softmax and the fused softmax cross-entropy.

The fused op computes per-row losses and saves the softmax in one pass; its first-order
backward is one backend kernel (`probs - onehot`). Under `create_graph=True` the backward is
built from differentiable ops instead, so it can be differentiated again.
"""

from __future__ import annotations

import numpy as np

from backprop.autograd import Function, is_grad_enabled
from backprop.ops.arithmetic import where
from backprop.ops.common import normalize_axis, require_float
from backprop.ops.movement import reshape
from backprop.ops.reduction import reduce
from backprop.tensor import Tensor, torch_names


class Softmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        b = self.backend
        shifted = b.binary("sub", x, b.reduce("max", x, (self.axis,), True))
        e = b.unary("exp", shifted)
        self.y = b.binary("div", e, b.reduce("sum", e, (self.axis,), True))
        return self.y

    def backward(self, gy):
        y = softmax(self.inputs[0], self.axis) if is_grad_enabled() else _const(self.y, gy)
        return y * (gy - reduce("sum", gy * y, self.axis, True))


class LogSoftmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        b = self.backend
        shifted = b.binary("sub", x, b.reduce("max", x, (self.axis,), True))
        total = b.reduce("sum", b.unary("exp", shifted), (self.axis,), True)
        self.y = b.binary("sub", shifted, b.unary("log", total))
        return self.y

    def backward(self, gy):
        if is_grad_enabled():
            probs = softmax(self.inputs[0], self.axis)
        else:
            probs = _const(self.backend.unary("exp", self.y), gy)
        return gy - probs * reduce("sum", gy, self.axis, True)


class SoftmaxCrossEntropy(Function):
    """Per-row `-log softmax(logits)[target]`, with optional label smoothing; the targets
    are a constant integer array, and rows whose target is `ignore_index` give 0. The forward
    also leaves `counted`, each row's 1 or 0, the divisor of a mean."""

    def __init__(self, targets, label_smoothing: float, ignore_index: int):
        self.targets, self.label_smoothing = targets, label_smoothing
        self.ignore_index = ignore_index

    def forward(self, logits):
        losses, self.probs, self.counted = self.backend.softmax_cross_entropy_forward(
            logits, self.targets, self.label_smoothing, self.ignore_index
        )
        return losses

    def backward(self, gy):
        if not is_grad_enabled():
            grad = self.backend.softmax_cross_entropy_backward(
                self.probs, self.targets, gy.data, self.label_smoothing, self.ignore_index
            )
            return Tensor._make(grad, gy.device)
        logits = self.inputs[0]
        n, classes = logits.shape
        b, targets = self.backend, self.targets
        # As the kernels do: a target outside [0, C) marks no class, and ignored rows get 0.
        inside = b.where(b.compare("ge", targets, 0), b.compare("lt", targets, classes), False)
        picked = b.reshape(b.where(inside, targets, 0), (n, 1))
        marks = b.reshape(b.astype(inside, logits.dtype), (n, 1))
        onehot = b.scatter_add((n, classes), 1, picked, marks)
        smoothing = self.label_smoothing
        target = _const(
            b.binary("add", b.binary("mul", onehot, 1 - smoothing), smoothing / classes), gy
        )
        kept = _const(b.reshape(b.compare("ne", targets, self.ignore_index), (n, 1)), gy)
        return where(kept, (softmax(logits, 1) - target) * gy.reshape(n, 1), 0.0)


def _const(array, like: Tensor) -> Tensor:
    return Tensor._make(array, like.device)


@torch_names(dim="axis")
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return _along_axis(Softmax, "softmax", x, axis)


@torch_names(dim="axis")
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return _along_axis(LogSoftmax, "log_softmax", x, axis)


def _along_axis(cls: type[Function], op: str, x: Tensor, axis: int) -> Tensor:
    require_float(op, x)
    axis = normalize_axis(op, axis, x.ndim)
    if x.ndim == 0:  # one element along axis 0 or -1, as in PyTorch
        return reshape(cls(0)(reshape(x, (1,))), ())
    return cls(axis)(x)


def softmax_cross_entropy(
    logits: Tensor, targets: Tensor, label_smoothing: float = 0.0, ignore_index: int = -100
) -> tuple[Tensor, Tensor]:
    """Per-row cross-entropy losses (N,) of logits (N, C) against integer class targets (N,),
    in one fused op, and which rows count towards a mean (N,): 1, or 0 where the target is
    `ignore_index` (whose loss and gradient are 0). A target outside [0, C) gives a NaN loss.
    """
    require_float("cross_entropy", logits)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    if not isinstance(targets, Tensor) or targets.dtype.kind not in "iu":
        got = targets.dtype if isinstance(targets, Tensor) else type(targets).__name__
        raise TypeError(
            f"cross_entropy: targets must be an integer Tensor of class indices, got {got}"
        )
    if targets.shape != logits.shape[:1]:
        raise ValueError(
            f"cross_entropy: targets shape {targets.shape} does not match logits {logits.shape}; "
            "expected (N,)"
        )
    if targets.device != logits.device:
        raise RuntimeError(
            f"cross_entropy: logits are on {logits.device} but targets on {targets.device}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"cross_entropy: ignore_index must be an int, got {ignore_index!r}")
    op = SoftmaxCrossEntropy(targets.data, float(label_smoothing), int(ignore_index))
    losses = op(logits)
    return losses, _const(op.counted, losses)
