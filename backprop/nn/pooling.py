"""Pooling layers: `MaxPool2d`, `AvgPool2d`, `MaxUnpool2d` and the adaptive pools over the last
two axes of (N, C, H, W), and `MaxPool1d`, `AvgPool1d` and `AdaptiveAvgPool1d` over the last axis
of (N, C, L); each also takes one unbatched sample, (C, H, W) or (C, L), as PyTorch's do."""

from __future__ import annotations

from collections.abc import Sequence

from backprop.nn import functional as F
from backprop.nn.functional._checks import IntPair
from backprop.nn.module import Module
from backprop.ops.conv import pair, single
from backprop.tensor import Tensor


class _MaxPoolNd(Module):
    """What the max pools share: their window options (`stride` defaults to `kernel_size`)
    and their repr."""

    def __init__(
        self,
        kernel_size: IntPair,
        stride: IntPair | None = None,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        self.return_indices = return_indices

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(_MaxPoolNd):
    """The largest value of each window of (N, C, H, W) or unbatched (C, H, W); `stride`
    defaults to `kernel_size`. `ceil_mode` rounds the output size up; `return_indices` also
    returns each value's flat index into its (H * W) plane, for `MaxUnpool2d`."""

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class MaxPool1d(_MaxPoolNd):
    """`MaxPool2d` along the last axis of (N, C, L) or unbatched (C, L); the indices are
    positions along L."""

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class MaxUnpool2d(Module):
    """Puts each value back at the index `MaxPool2d(return_indices=True)` gave it, zeros
    elsewhere: `unpool(values, indices, output_size=None)`; `stride` defaults to `kernel_size`."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0):
        super().__init__()
        self.kernel_size = pair("MaxUnpool2d", "kernel_size", kernel_size, 1)
        self.stride = pair("MaxUnpool2d", "stride", kernel_size if stride is None else stride, 1)
        self.padding = pair("MaxUnpool2d", "padding", padding, 0)

    def forward(
        self, input: Tensor, indices: Tensor, output_size: Sequence[int] | None = None
    ) -> Tensor:
        return F.max_unpool2d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The mean of each window; `stride` defaults to `kernel_size`. `ceil_mode` rounds the
    output size up; `count_include_pad` counts the zero padding towards the mean;
    `divisor_override` divides each window's sum by that number instead."""

    def __init__(
        self,
        kernel_size: IntPair,
        stride: IntPair | None = None,
        padding: IntPair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """`AvgPool2d` along the last axis of (N, C, L) (PyTorch's has no divisor_override)."""

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ):
        super().__init__()
        kernel = single("AvgPool1d", "kernel_size", kernel_size, 1)
        self.kernel_size = (kernel,)
        self.stride = (single("AvgPool1d", "stride", kernel if stride is None else stride, 1),)
        self.padding = (single("AvgPool1d", "padding", padding, 0),)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(Module):
    """What the adaptive average pools share: `output_size` and the repr."""

    def __init__(self, output_size: int | Sequence[int | None]):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Averages each image of (N, C, H, W) or unbatched (C, H, W) down to `output_size`
    (oh, ow) whatever its size, with PyTorch's windows; `AdaptiveAvgPool2d(1)` is global
    average pooling."""

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Averages each sequence of (N, C, L) or unbatched (C, L) down to `output_size` windows
    whatever its length."""

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool2d(Module):
    """The largest value of each of `output_size` (oh, ow) adaptive windows whatever the image
    size; `return_indices` also returns their flat indices into the (H * W) plane."""

    def __init__(self, output_size: int | Sequence[int | None], return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
