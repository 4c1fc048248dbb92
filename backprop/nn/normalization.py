"""Normalisation layers: `LayerNorm` over each sample's trailing axes, `GroupNorm` over each
sample's groups of channels, `BatchNorm1d` and `BatchNorm2d` over the batch for each channel,
`InstanceNorm1d` and `InstanceNorm2d` over each sample's channel, with running statistics for
evaluation, and `LocalResponseNorm` across neighbouring channels."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from backprop.creation import ones, tensor, zeros
from backprop.nn import functional as F
from backprop.nn import init
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.tensor import Tensor, int64


class LayerNorm(Module):
    """Normalises the trailing `normalized_shape` axes of each sample; with
    `elementwise_affine`, then scales by `weight` (ones) and shifts by `bias` (zeros)."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        if not shape or not all(isinstance(s, int) and s > 0 for s in shape):
            raise ValueError(
                f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}"
            )
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        _register_affine(
            self, shape, elementwise_affine, elementwise_affine and bias, device, dtype
        )

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class GroupNorm(Module):
    """Normalises each sample of an (N, C, *) input in `num_groups` groups of channels, each
    over its channels and every position; with `affine`, then scales each channel by `weight`
    (ones) and, unless `bias` is False, shifts it by `bias` (zeros). It keeps no running
    statistics: training and evaluation compute the same."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        check_sizes("GroupNorm", num_groups=num_groups, num_channels=num_channels)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        _register_affine(self, (num_channels,), affine, affine and bias, device, dtype)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected input (N, {self.num_channels}, *), got {input.shape}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _BatchNorm(Module):
    """Normalises each of `num_features` channels (axis 1) over the batch and the other axes.

    In training it uses the batch's statistics and updates `running_mean` and `running_var`
    by `momentum` (a cumulative average when momentum is None); in evaluation it uses the
    running statistics. Without `track_running_stats` it always uses the batch's. With
    `affine`, a `weight` (ones) and, unless `bias` is False, a `bias` (zeros) per channel.
    """

    input_shapes: tuple[str, ...] = ()
    """The input layouts the subclass takes, as its docstring and errors name them."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        name = type(self).__name__
        check_sizes(name, num_features=num_features)
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _register_affine(self, (num_features,), affine, affine and bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.zero_()

    def forward(self, input: Tensor) -> Tensor:
        ndims = {layout.count(",") + 1 for layout in self.input_shapes}
        if input.ndim not in ndims or input.shape[1] != self.num_features:
            layouts = " or ".join(s.replace("C", str(self.num_features)) for s in self.input_shapes)
            raise ValueError(f"{type(self).__name__}: expected input {layouts}, got {input.shape}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            counted = self.num_batches_tracked + 1
            self.num_batches_tracked.backend.assign(self.num_batches_tracked.data, counted.data)
            if momentum is None:  # the cumulative average, 1 / batches seen, on the device
                momentum = 1.0 / counted.to(dtype=self.running_mean.dtype)
        return F.batch_norm(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training,
            0.0 if momentum is None else momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of an (N, C) or (N, C, L) input, as `torch.nn.BatchNorm1d`."""

    input_shapes = ("(N, C)", "(N, C, L)")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of an (N, C, H, W) image batch, as `torch.nn.BatchNorm2d`: one mean
    and variance per channel over the batch and every pixel."""

    input_shapes = ("(N, C, H, W)",)


class _InstanceNorm(_BatchNorm):
    """Normalises each channel of each sample over its positions, as PyTorch's instance norms:
    no affine transform and no running statistics by default. With `track_running_stats`,
    training blends the batch average of the instances' statistics into `running_mean` and
    `running_var` (on the device; momentum None leaves them as they are, as in PyTorch, and
    `num_batches_tracked` stays 0), and evaluation normalises with them. An input without its
    batch axis is taken as a batch of one."""

    unbatched_ndim = 0
    """The number of axes of an input without its batch axis."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input: Tensor) -> Tensor:
        name, ndim = type(self).__name__, self.unbatched_ndim
        if input.ndim not in (ndim, ndim + 1):
            raise ValueError(
                f"{name}: expected a {ndim}-d or {ndim + 1}-d input, got {input.shape}"
            )
        channel_axis = input.ndim - ndim
        if input.shape[channel_axis] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(
                    f"{name}: expected the input's axis {channel_axis} to hold num_features "
                    f"({self.num_features}) channels, got {input.shape}"
                )
            warnings.warn(
                f"{name}: the input's axis {channel_axis} does not hold num_features "
                f"({self.num_features}) channels, which is unused as affine=False",
                stacklevel=2,
            )
        unbatched = input.ndim == ndim
        batch = input.reshape(1, *input.shape) if unbatched else input
        out = F.instance_norm(
            batch,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,
            self.eps,
        )
        return out.reshape(out.shape[1:]) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of an (N, C, L) or (C, L) input, as `torch.nn.InstanceNorm1d`."""

    unbatched_ndim = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of an (N, C, H, W) or (C, H, W) input, as
    `torch.nn.InstanceNorm2d`."""

    unbatched_ndim = 3


class LocalResponseNorm(Module):
    """Divides each entry by (k + alpha * mean of the squares of the `size` channels around
    it) ** beta, as `torch.nn.LocalResponseNorm`; no parameters."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        check_sizes("LocalResponseNorm", size=size)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _register_affine(
    module: Module, shape: tuple[int, ...], weight: bool, bias: bool, device: Any, dtype: Any
) -> None:
    """Registers the learnable `weight` (ones) and `bias` (zeros) of `shape`, each one None
    where it is not wanted, as PyTorch's normalisation layers do."""
    for name, wanted, fill in (("weight", weight, ones), ("bias", bias, zeros)):
        value = Parameter(fill(shape, dtype=dtype, device=device)) if wanted else None
        module.register_parameter(name, value)


def _reset_affine(module: Module) -> None:
    """Back to the identity transform: weight ones, bias zeros."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)
