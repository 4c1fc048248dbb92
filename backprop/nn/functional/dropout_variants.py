"""The dropout variants beyond `backprop.functional.dropout`: whole-channel dropout1d and
dropout2d, and alpha_dropout for SELU networks."""

from __future__ import annotations

import math

import numpy as np

from backprop import inplace as in_place
from backprop import ops
from backprop.functional import check_dropout_probability, dropout_keep_mask
from backprop.nn.functional._checks import _float_input
from backprop.nn.functional.activation import SELU_ALPHA, SELU_SCALE
from backprop.tensor import Tensor


def _channel_dropout(
    x: Tensor, p: float, training: bool, generator: np.random.Generator | None, channel_axis: int
) -> Tensor:
    """Zeroes whole channels of `x` (along `channel_axis`) and scales the rest by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    shape = x.shape[: channel_axis + 1] + (1,) * (x.ndim - channel_axis - 1)
    keep = dropout_keep_mask(x, shape, p, generator)
    return ops.where(keep, x * (1.0 / (1.0 - p)), 0.0)


def dropout1d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zeroes each channel of an (N, C, L) or unbatched (C, L) input with probability `p` and
    scales the kept ones by 1 / (1 - p)."""
    check_dropout_probability("dropout1d", p)
    _float_input("dropout1d", input)
    if input.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expected an (N, C, L) or unbatched (C, L) input, got {input.shape}"
        )
    result = _channel_dropout(input, p, training, generator, input.ndim - 2)
    return in_place.inplace_result("dropout1d", input, result, inplace)


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zeroes each channel of an (N, C, H, W) input with probability `p` and scales the kept
    ones by 1 / (1 - p). A 3-D input is taken as (N, C, L), as PyTorch takes it today (which
    warns that this will change); for unbatched or 1-D feature maps use dropout1d."""
    check_dropout_probability("dropout2d", p)
    _float_input("dropout2d", input)
    if input.ndim not in (3, 4):
        raise ValueError(
            f"dropout2d: expected an (N, C, H, W) or (N, C, L) input, got {input.shape}; "
            "use dropout for other shapes"
        )
    result = _channel_dropout(input, p, training, generator, 1)
    return in_place.inplace_result("dropout2d", input, result, inplace)


def alpha_dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value and
    an affine map keeps the mean and variance of a standard normal input, as in PyTorch."""
    check_dropout_probability("alpha_dropout", p)
    _float_input("alpha_dropout", input)
    in_place.check_inplace_flag("alpha_dropout", inplace)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return in_place.inplace_result("alpha_dropout", input, input * 0.0, inplace)
    saturation = SELU_ALPHA * SELU_SCALE
    scale = 1.0 / math.sqrt((saturation * saturation * p + 1) * (1 - p))
    keep = dropout_keep_mask(input, input.shape, p, generator)
    kept = input * scale + saturation * scale * p
    result = ops.where(keep, kept, saturation * scale * (p - 1))
    return in_place.inplace_result("alpha_dropout", input, result, inplace)
