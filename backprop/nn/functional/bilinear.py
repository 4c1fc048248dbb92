"""`bilinear`: y = x1^T A x2 + b for each output feature (the function behind nn.Bilinear)."""

from __future__ import annotations

import math

from backprop.nn.functional._checks import _float_input, _tensor_argument
from backprop.tensor import Tensor


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """`y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]`, as
    `torch.nn.functional.bilinear`: input1 (*, in1) and input2 (*, in2) with the same leading
    axes, weight (out, in1, in2), bias (out,). One matmul with the weight, then a product with
    input2 summed over in2."""
    _float_input("bilinear", input1)
    _float_input("bilinear", input2)
    _tensor_argument("bilinear", "weight", weight)
    if weight.ndim != 3:
        raise ValueError(f"bilinear: weight must be (out, in1, in2), got {weight.shape}")
    out_features, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1 or input2.ndim == 0 or input2.shape[-1] != in2:
        raise ValueError(
            f"bilinear: expected inputs (*, {in1}) and (*, {in2}) for weight {weight.shape}, "
            f"got {input1.shape} and {input2.shape}"
        )
    if input1.shape[:-1] != input2.shape[:-1]:
        raise ValueError(
            f"bilinear: the inputs' leading axes must match, got {input1.shape} and {input2.shape}"
        )
    if bias is not None:
        _tensor_argument("bilinear", "bias", bias)
        if bias.shape != (out_features,):
            raise ValueError(f"bilinear: bias must be ({out_features},), got {bias.shape}")
    leading = input1.shape[:-1]
    rows = math.prod(leading)
    table = weight.permute(1, 0, 2).reshape(in1, out_features * in2)
    mixed = (input1.reshape(rows, in1) @ table).reshape(rows, out_features, in2)
    out = (mixed * input2.reshape(rows, 1, in2)).sum(axis=2)
    if bias is not None:
        out = out + bias
    return out.reshape(*leading, out_features)
