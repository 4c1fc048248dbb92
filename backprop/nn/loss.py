"""Loss layers: each holds its options and calls the function of the same name in
`backprop.functional` on (input, target)."""

from __future__ import annotations

from typing import Any

from backprop import functional as F
from backprop.nn.module import Module
from backprop.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    """Holds `reduction`; `defaults` names the options the repr shows when they differ."""

    reductions: tuple[str, ...] = REDUCTIONS
    defaults: dict[str, Any] = {"reduction": "mean"}

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in self.reductions:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {self.reductions}, "
                f"got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        options = ((name, getattr(self, name)) for name in self.defaults)
        return ", ".join(
            f"{name}={value!r}" for name, value in options if value != self.defaults[name]
        )


class _WeightedLoss(_Loss):
    """A class-index loss with optional per-class weights, held as the buffer `weight` as in
    PyTorch: it moves with `.to()` and is in `state_dict()` when given."""

    defaults = {"ignore_index": -100, "reduction": "mean"}

    def __init__(
        self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
    ):
        super().__init__(reduction)
        name = type(self).__name__
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError(
                f"{name}: weight must be a Tensor of shape (C,) or None, got {weight!r}"
            )
        if weight is not None and weight.ndim != 1:
            raise ValueError(
                f"{name}: weight must have shape (C,), one per class, got {weight.shape}"
            )
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C, d1, ...) against class indices (N, d1, ...) or
    class probabilities, with optional class weights, an ignored index and label smoothing."""

    defaults = {**_WeightedLoss.defaults, "label_smoothing": 0.0}

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(weight, ignore_index, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) at class indices
    (N, d1, ...), with optional class weights and an ignored index."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean squared error."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below `beta`, absolute error above it (beta = 0 is the L1 loss)."""

    defaults = {"reduction": "mean", "beta": 1.0}

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Squared error below `delta`, `delta` times the absolute error above it."""

    defaults = {"reduction": "mean", "delta": 1.0}

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities `input` from `target`;
    reduction='batchmean' gives the divergence per sample."""

    reductions = F.KL_DIV_REDUCTIONS
    defaults = {"reduction": "mean", "log_target": False}

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1]."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of `sigmoid(input)`, computed stably from the logits."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)
