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


def _register_weights(module: Module, **weights: Tensor | None) -> None:
    """Keeps each optional weight Tensor as a buffer of its name, as PyTorch does: it moves
    with `.to()` and is in `state_dict()` when given."""
    for name, weight in weights.items():
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError(
                f"{type(module).__name__}: {name} must be a Tensor or None, got {weight!r}"
            )
        module.register_buffer(name, weight)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1], optionally scaled by `weight`
    (broadcast to the input)."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        _register_weights(self, weight=weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of `sigmoid(input)`, computed stably from the logits, optionally
    scaled by `weight` and with positives weighted by `pos_weight` (one per class)."""

    def __init__(
        self,
        weight: Tensor | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ):
        super().__init__(reduction)
        _register_weights(self, weight=weight, pos_weight=pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class MarginRankingLoss(_Loss):
    """`max(0, -y (x1 - x2) + margin)`: y = 1 says x1 should rank above x2, y = -1 below."""

    defaults = {"margin": 0.0, "reduction": "mean"}

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """`x` for similar pairs (y = 1), `max(0, margin - x)` for dissimilar ones (y = -1), where
    x is a distance."""

    defaults = {"margin": 1.0, "reduction": "mean"}

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss `log(1 + exp(-y x))` for targets ±1."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """Multi-label one-versus-all loss: the per-sample mean over classes of the BCE of
    `sigmoid(input)`, optionally scaled per class by `weight`."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        _register_weights(self, weight=weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class MultiMarginLoss(_Loss):
    """Multi-class hinge loss of scores (N, C) at class indices (N,), with p = 1 or 2 and
    optional class weights."""

    defaults = {"p": 1, "margin": 1.0, "reduction": "mean"}

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        reduction: str = "mean",
    ):
        super().__init__(reduction)
        if p not in (1, 2) or isinstance(p, bool):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        if isinstance(weight, Tensor) and weight.ndim != 1:
            raise ValueError(
                f"MultiMarginLoss: weight must have shape (C,), one per class, got {weight.shape}"
            )
        _register_weights(self, weight=weight)
        self.p, self.margin = p, margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


class CosineEmbeddingLoss(_Loss):
    """`1 - cos(x1, x2)` for similar pairs (y = 1), `max(0, cos(x1, x2) - margin)` for
    dissimilar ones (y = -1)."""

    defaults = {"margin": 0.0, "reduction": "mean"}

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_Loss):
    """`max(0, margin + d(anchor, positive) - d(anchor, negative))` with the p-norm distance;
    `swap` also measures the negative from the positive and takes the nearer."""

    defaults = {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, "reduction": "mean"}

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
    ):
        super().__init__(reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, self.reduction
        )


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of counts, from log-rates (`log_input`) or rates, with
    Stirling's term when `full`."""

    defaults = {"log_input": True, "full": False, "eps": 1e-8, "reduction": "mean"}

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        eps: float = 1e-8,
        reduction: str = "mean",
    ):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(
            input, target, self.log_input, self.full, self.eps, self.reduction
        )


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of targets under predicted means and variances (the
    variance is clamped at `eps`); `full` adds the constant term. Options are keyword-only,
    as in PyTorch."""

    defaults = {"full": False, "eps": 1e-6, "reduction": "mean"}

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)
