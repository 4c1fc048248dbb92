"""`Linear`, the fully connected layer, and `Identity`, the layer that does nothing."""

from __future__ import annotations

from typing import Any

from backprop import functional as F
from backprop.creation import empty
from backprop.nn import init
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.tensor import Tensor


class Identity(Module):
    """Returns its input: a placeholder where a model may or may not have a layer."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """`y = x @ weight.T + bias` with weight (out_features, in_features), initialised as in
    PyTorch: kaiming_uniform_ with a = sqrt(5) for the weight, U(-1/sqrt(in), 1/sqrt(in)) for
    the bias."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        check_sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear: expected input with last dimension {self.in_features}, "
                f"got shape {input.shape}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
