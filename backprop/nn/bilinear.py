"""`Bilinear`: y = x1^T A x2 + b for each output feature."""

from __future__ import annotations

import math
from typing import Any

from backprop.creation import empty
from backprop.nn import functional as F
from backprop.nn import init
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.tensor import Tensor


class Bilinear(Module):
    """`y = x1^T weight[o] x2 + bias[o]` with weight (out_features, in1_features, in2_features),
    weight and bias initialised U(-1/sqrt(in1), 1/sqrt(in1)) as in PyTorch."""

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        check_sizes(
            "Bilinear",
            in1_features=in1_features,
            in2_features=in2_features,
            out_features=out_features,
        )
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        shape = (out_features, in1_features, in2_features)
        self.weight = Parameter(empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
