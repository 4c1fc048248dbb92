"""Resampling: pixel_shuffle / pixel_unshuffle and interpolate (nearest and linear modes), with
its source cells worked out on the device."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from backprop import ops
from backprop.creation import arange
from backprop.nn.functional._checks import _float_input, _tensor_argument
from backprop.tensor import Tensor

INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")
LINEAR_MODE_NDIM = {"linear": 3, "bilinear": 4, "trilinear": 5}


def _check_factor(op: str, name: str, factor: int) -> None:
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {factor!r}")


def _check_image_stack(op: str, input: Tensor) -> None:
    """`input` must be a Tensor of shape (*, C, H, W)."""
    _tensor_argument(op, "input", input)
    if input.ndim < 3:
        raise ValueError(f"{op}: expected an input of shape (*, C, H, W), got {input.shape}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r * r, H, W) to (*, C, H * r, W * r): each group of r * r channels becomes an
    r x r block of pixels (a reshape and a permutation)."""
    op = "pixel_shuffle"
    _check_factor(op, "upscale_factor", upscale_factor)
    _check_image_stack(op, input)
    r = upscale_factor
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise ValueError(
            f"{op}: the input's {channels} channels (axis -3 of {input.shape}) must be "
            f"divisible by upscale_factor squared ({r * r})"
        )
    lead = len(batch)
    x = input.reshape(*batch, channels // (r * r), r, r, height, width)
    x = x.permute(*range(lead + 1), lead + 3, lead + 1, lead + 4, lead + 2)
    return x.reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) to (*, C * r * r, H, W): the inverse of pixel_shuffle."""
    op = "pixel_unshuffle"
    _check_factor(op, "downscale_factor", downscale_factor)
    _check_image_stack(op, input)
    r = downscale_factor
    *batch, channels, height, width = input.shape
    if height % r or width % r:
        raise ValueError(
            f"{op}: the input's height and width {(height, width)} must be divisible by "
            f"downscale_factor ({r})"
        )
    lead = len(batch)
    x = input.reshape(*batch, channels, height // r, r, width // r, r)
    x = x.permute(*range(lead + 1), lead + 2, lead + 4, lead + 1, lead + 3)
    return x.reshape(*batch, channels * r * r, height // r, width // r)


def interpolate(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    """Resizes the spatial axes of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to
    `size`, or by `scale_factor`, as `torch.nn.functional.interpolate`: 'nearest' and
    'nearest-exact' pick a cell per output position by PyTorch's source-index rules;
    'linear', 'bilinear' and 'trilinear' blend the two nearest cells along each axis, with
    `align_corners` mapping the corner cells' centres (True) or edges (False) onto each other.

    The source cells and the linear weights are worked out on the device from `arange`, in
    PyTorch's float arithmetic, and the cells taken with `index_select`: no index or weight
    array is copied from the host, so a step that interpolates can be captured into a CUDA
    graph."""
    op = "interpolate"
    _float_input(op, input)
    if mode not in INTERPOLATE_MODES:
        raise ValueError(
            f"{op}: mode must be one of {', '.join(map(repr, INTERPOLATE_MODES))}, got {mode!r}"
        )
    if input.ndim not in (3, 4, 5):
        raise ValueError(
            f"{op}: expected an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input, got {input.shape}"
        )
    if mode in LINEAR_MODE_NDIM and input.ndim != LINEAR_MODE_NDIM[mode]:
        raise ValueError(
            f"{op}: mode {mode!r} needs a {LINEAR_MODE_NDIM[mode]}-D input, got {input.shape}"
        )
    if mode not in LINEAR_MODE_NDIM and align_corners is not None:
        raise ValueError(
            f"{op}: align_corners applies to the linear modes only, got "
            f"align_corners={align_corners!r} with mode={mode!r}"
        )
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    for i, (out_size, scale) in enumerate(zip(sizes, scales)):
        axis = i + 2
        if mode in LINEAR_MODE_NDIM:
            input = _linear_axis(input, axis, out_size, scale, bool(align_corners))
        else:
            input = _nearest_axis(input, axis, out_size, scale, mode)
    return input


def _output_sizes(
    input: Tensor, size, scale_factor, recompute_scale_factor: bool | None
) -> tuple[list[int], list[float | None]]:
    """The output size of each spatial axis, and the scale PyTorch hands its kernels for it
    (the scale_factor, or None where the kernels derive it from the sizes)."""
    op = "interpolate"
    spatial = input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor needs scale_factor, not size")
        sizes = _per_axis(op, "size", size, len(spatial))
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
            raise ValueError(f"{op}: size must hold positive ints, got {size!r}")
        return list(sizes), [None] * len(spatial)
    factors = _per_axis(op, "scale_factor", scale_factor, len(spatial))
    if not all(isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in factors):
        raise ValueError(f"{op}: scale_factor must hold positive numbers, got {scale_factor!r}")
    sizes = [math.floor(float(n) * f) for n, f in zip(spatial, factors)]
    if min(sizes) < 1:
        raise ValueError(
            f"{op}: scale_factor {scale_factor!r} gives an empty output {tuple(sizes)} for the "
            f"input {input.shape}"
        )
    scales = [None if recompute_scale_factor else float(f) for f in factors]
    return sizes, scales


def _per_axis(op: str, name: str, value, count: int) -> tuple:
    """`value` once per spatial axis: a number repeated, or a sequence of `count` numbers."""
    if isinstance(value, Sequence):
        if len(value) != count:
            raise ValueError(
                f"{op}: {name} must have one value per spatial axis ({count}), got {value!r}"
            )
        return tuple(value)
    return (value,) * count


def _nearest_axis(x: Tensor, axis: int, out_size: int, scale, mode: str) -> Tensor:
    """Nearest-neighbour resizing along `axis` by PyTorch's float32 rules: output cell j reads
    cell floor(j * s) ('nearest') or floor((j + 0.5) * s) ('nearest-exact'), where s is
    1 / scale_factor or in_size / out_size. For a 4-D input 'nearest' reads cell j itself
    where the axis keeps its size and j / 2 where it doubles, whatever the scale_factor, as
    PyTorch's 2-D kernel does (its 1-D and 3-D kernels take no such shortcut)."""
    in_size = x.shape[axis]
    shortcuts = mode == "nearest" and x.ndim == 4
    if shortcuts and out_size == in_size:
        return x
    if shortcuts and out_size == 2 * in_size:
        positions = arange(out_size, dtype="float32", device=x.device) * 0.5
    else:
        step = np.float32(1.0 / scale) if scale else np.float32(in_size) / np.float32(out_size)
        if mode == "nearest":
            positions = arange(out_size, dtype="float32", device=x.device) * step
        else:
            cells = arange(out_size, dtype="float64", device=x.device)
            positions = ((cells + 0.5) * np.float64(step)).to(dtype="float32")
    return x.index_select(axis, _cell_index(positions, in_size))


def _cell_index(positions: Tensor, in_size: int) -> Tensor:
    """The cells (int64) at or below non-negative source `positions`, the last one at most."""
    return ops.clamp(positions.to(dtype="int64"), max=in_size - 1)


def _linear_axis(x: Tensor, axis: int, out_size: int, scale, align_corners: bool) -> Tensor:
    """Linear interpolation along `axis` as PyTorch does it: output cell j reads source
    position s(j) = step * j (align_corners) or step * (j + 0.5) - 0.5, floored at 0, and
    blends cells i = floor(s) and i + 1 (i alone at the last cell) by s - i, with s computed
    in x's dtype. An axis that keeps its size is left as it is, as PyTorch leaves it, whatever
    the scale."""
    in_size, dtype = x.shape[axis], x.dtype
    if out_size == in_size:
        return x
    step = _linear_step(in_size, out_size, scale, align_corners, dtype.type)
    positions = _source_positions(
        arange(out_size, dtype=dtype, device=x.device), step, align_corners
    )
    lower = _cell_index(positions.to(dtype="float32"), in_size)
    upper = ops.clamp(lower + 1, max=in_size - 1)
    weight = ops.clamp(positions - lower.to(dtype=dtype), 0.0, 1.0)
    weight = weight.reshape((out_size,) + (1,) * (x.ndim - axis - 1))
    low, high = x.index_select(axis, lower), x.index_select(axis, upper)
    return low * (1.0 - weight) + high * weight


def _linear_step(in_size: int, out_size: int, scale, align_corners: bool, real: type):
    """PyTorch's distance between the source positions of neighbouring output cells, in the
    input's precision `real`."""
    if align_corners:
        return real(in_size - 1) / real(out_size - 1) if out_size > 1 else real(0)
    return real(1.0 / scale) if scale else real(in_size) / real(out_size)


def _source_positions(cells: Tensor, step, align_corners: bool) -> Tensor:
    """PyTorch's source position of each output cell."""
    if align_corners:
        return cells * step
    return ops.maximum((cells + 0.5) * step - 0.5, 0.0)
