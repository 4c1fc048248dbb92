"""Dropout layers: random zeroing in training mode, the identity in evaluation mode.
`Dropout` zeroes elements, `Dropout1d` and `Dropout2d` whole channels, and `AlphaDropout`
keeps the statistics of SELU activations."""

from __future__ import annotations

from backprop import inplace as in_place
from backprop.functional import check_dropout_probability
from backprop.nn import functional as F
from backprop.nn.module import Module
from backprop.tensor import Tensor


class _DropoutNd(Module):
    """What the dropout layers share: the probability `p`, checked, PyTorch's `inplace` flag
    (the result written into the input where autograd is not involved, as
    `backprop.inplace.inplace_result` says), and the repr, which shows `inplace=True` when set
    (PyTorch's also shows `inplace=False`)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        check_dropout_probability(type(self).__name__, p)
        in_place.check_inplace_flag(type(self).__name__, inplace)
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"  # torch shows both, always


class Dropout(_DropoutNd):
    """In training, zeroes each element with probability `p` and scales the survivors by
    1 / (1 - p), so evaluation (the identity) sees the same expected activations."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """In training, zeroes each channel of an (N, C, L) or unbatched (C, L) input with
    probability `p` and scales the kept channels by 1 / (1 - p)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """In training, zeroes each channel of an (N, C, H, W) input (or (N, C, L), as PyTorch
    takes a 3-D input) with probability `p` and scales the kept channels by 1 / (1 - p)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: in training, dropped elements take SELU's negative
    saturation value and an affine map keeps a standard normal input's mean and variance."""

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training, self.inplace)
