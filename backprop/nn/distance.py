"""Distance layers: `CosineSimilarity` and `PairwiseDistance`, each wrapping the function of
the same name in `backprop.nn.functional`."""

from __future__ import annotations

from backprop.nn import functional as F
from backprop.nn.module import Module
from backprop.tensor import Tensor


class CosineSimilarity(Module):
    """The cosine of the angle between two inputs along `dim`, each norm held at least `eps`."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The `p`-norm of `x1 - x2 + eps` along the last axis."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
