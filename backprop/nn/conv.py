"""`Conv1d`, `Conv2d` and `ConvTranspose2d`: convolutions as im2col (or col2im) plus one
matrix product, so every backend that has the im2col / col2im primitives and matmul runs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backprop.creation import empty
from backprop.nn import functional as F
from backprop.nn import init
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.ops.conv import conv1d_padding, conv_padding, pair, single
from backprop.tensor import Tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What the convolution layers share, as in PyTorch: checked channel counts and
    padding_mode, a weight (out_channels, in_channels / groups, *kernel) or, transposed,
    (in_channels, out_channels / groups, *kernel), initialised with kaiming_uniform_
    (a = sqrt(5)), a bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] *
    kernel size, and PyTorch's repr."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...] | str,
        dilation: tuple[int, ...],
        transposed: bool,
        output_padding: tuple[int, ...],
        groups: int,
        bias: bool,
        padding_mode: str,
        device: Any,
        dtype: Any,
    ):
        super().__init__()
        name = type(self).__name__
        check_sizes(name, in_channels=in_channels, out_channels=out_channels, groups=groups)
        for label, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(
                    f"{name}: {label} ({channels}) must be divisible by groups ({groups})"
                )
        modes = ("zeros",) if transposed else PADDING_MODES
        if padding_mode not in modes:
            allowed = "'zeros'" if transposed else f"one of {', '.join(map(repr, modes))}"
            raise ValueError(f"{name}: padding_mode must be {allowed}, got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.transposed, self.output_padding = dilation, transposed, output_padding
        self.groups, self.padding_mode = groups, padding_mode
        first, second = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        shape = (first, second // groups, *kernel_size)
        self.weight = Parameter(empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)

    def _padded(self, input: Tensor) -> tuple[Tensor, tuple[int, ...] | str | int]:
        """The input padded as padding_mode says unless that is zeros, and the padding left for
        the convolution to add as zeros."""
        if self.padding_mode == "zeros":
            return input, self.padding
        return F.pad(input, self._pad_widths, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * len(self.padding):
            text += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """Cross-correlates (N, in_channels, L) with a weight (out_channels, in_channels / groups,
    k), as `torch.nn.Conv1d`. `padding` is an int, 'valid' or 'same'; `padding_mode` fills it
    with zeros or, as `F.pad` does, by reflecting, replicating or wrapping the input."""

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
        kernel = single("Conv1d", "kernel_size", kernel_size, 1)
        steps = single("Conv1d", "stride", stride, 1)
        spread = single("Conv1d", "dilation", dilation, 1)
        widths = conv1d_padding("Conv1d", padding, kernel, steps, spread)
        super().__init__(
            in_channels,
            out_channels,
            (kernel,),
            (steps,),
            padding if isinstance(padding, str) else widths[:1],
            (spread,),
            False,
            (0,),
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self._pad_widths = widths

    def forward(self, input: Tensor) -> Tensor:
        input, padding = self._padded(input)
        return F.conv1d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class Conv2d(_ConvNd):
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
        kernel = pair("Conv2d", "kernel_size", kernel_size, 1)
        steps = pair("Conv2d", "stride", stride, 1)
        spread = pair("Conv2d", "dilation", dilation, 1)
        widths = conv_padding("Conv2d", padding, kernel, steps, spread)
        super().__init__(
            in_channels,
            out_channels,
            kernel,
            steps,
            padding if isinstance(padding, str) else pair("Conv2d", "padding", padding, 0),
            spread,
            False,
            (0, 0),
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self._pad_widths = widths

    def forward(self, input: Tensor) -> Tensor:
        input, padding = self._padded(input)
        return F.conv2d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class ConvTranspose2d(_ConvNd):
    """The transpose (adjoint) of a Conv2d, as `torch.nn.ConvTranspose2d`: maps
    (N, in_channels, H, W) to (N, out_channels, H', W') with a weight
    (in_channels, out_channels / groups, kh, kw), where an axis of size n becomes
    (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1, and
    output_padding must be smaller than stride or dilation (checked in forward, as PyTorch
    does). Its default initialisation counts fan_in = out_channels / groups * kh * kw."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ):
        name = "ConvTranspose2d"
        super().__init__(
            in_channels,
            out_channels,
            pair(name, "kernel_size", kernel_size, 1),
            pair(name, "stride", stride, 1),
            pair(name, "padding", padding, 0),
            pair(name, "dilation", dilation, 1),
            True,
            pair(name, "output_padding", output_padding, 0),
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        """`output_size` ((H', W'), or the whole (N, C, H', W')) picks the output_padding that
        gives that size, as in PyTorch, where a stride above 1 makes several sizes possible."""
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )

    def _output_padding(self, input: Tensor, output_size: Sequence[int]) -> tuple[int, int]:
        """The output_padding that makes the output's height and width `output_size`."""
        size = tuple(output_size)[-2:] if len(output_size) == 4 else tuple(output_size)
        if input.ndim != 4 or len(size) != 2:
            raise ValueError(
                f"ConvTranspose2d: output_size must be (H, W) or (N, C, H, W) for an "
                f"(N, C, H, W) input, got {output_size!r} for an input of {input.shape}"
            )
        smallest = tuple(
            (n - 1) * s - 2 * p + d * (k - 1) + 1
            for n, s, p, d, k in zip(
                input.shape[2:], self.stride, self.padding, self.dilation, self.kernel_size
            )
        )
        largest = tuple(low + s - 1 for low, s in zip(smallest, self.stride))
        if not all(low <= n <= high for n, low, high in zip(size, smallest, largest)):
            raise ValueError(
                f"ConvTranspose2d: requested an output size of {size}, but valid sizes range "
                f"from {smallest} to {largest} (for an input of {input.shape[2:]})"
            )
        return tuple(n - low for n, low in zip(size, smallest))
