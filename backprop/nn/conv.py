"""`Conv2d`: 2-D convolution as im2col plus one matrix product, so every backend that has
the im2col / col2im primitives and matmul runs it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backprop.creation import empty
from backprop.nn import functional as F
from backprop.nn import init
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.ops.conv import conv_padding, pair
from backprop.tensor import Tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv2d(Module):
    """Cross-correlates (N, in_channels, H, W) with a weight
    (out_channels, in_channels / groups, kh, kw), initialised as in PyTorch (kaiming_uniform_
    with a = sqrt(5); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = in_channels / groups * kh * kw).

    `groups` splits the channels into that many independent convolutions; `padding` is an int,
    a pair, 'valid' or 'same'; `padding_mode` fills it with zeros or, as `F.pad` does, by
    reflecting, replicating or wrapping the input."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] | str = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        check_sizes("Conv2d", in_channels=in_channels, out_channels=out_channels, groups=groups)
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(
                    f"Conv2d: {name} ({channels}) must be divisible by groups ({groups})"
                )
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"Conv2d: padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}, "
                f"got {padding_mode!r}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups, self.padding_mode = groups, padding_mode
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = pair("Conv2d", "stride", stride, 1)
        self.dilation = pair("Conv2d", "dilation", dilation, 1)
        self._pad_widths = conv_padding(
            "Conv2d", padding, self.kernel_size, self.stride, self.dilation
        )
        self.padding = (
            padding if isinstance(padding, str) else pair("Conv2d", "padding", padding, 0)
        )
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            padding = self.padding
        else:
            input, padding = F.pad(input, self._pad_widths, mode=self.padding_mode), 0
        return F.conv2d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text
