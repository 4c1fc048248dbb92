"""Image patches: `im2col` turns an (N, C, H, W) batch into the columns a convolution or a
pooling window reads, and `col2im` adds columns back into an image. Each is the other's
gradient, so convolutions and pools built on them are differentiable to any order."""

from __future__ import annotations

from collections.abc import Sequence

from backprop.autograd import Function
from backprop.ops.common import require_float
from backprop.tensor import Tensor

Pair = tuple[int, int]


class Im2Col(Function):
    def __init__(self, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair):
        self.geometry = (kernel, stride, padding, dilation)

    def forward(self, x):
        return self.backend.im2col(x, *self.geometry)

    def backward(self, gy):
        return Col2Im(self.inputs[0].shape, *self.geometry)(gy)


class Col2Im(Function):
    def __init__(
        self, shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
    ):
        self.shape = shape
        self.geometry = (kernel, stride, padding, dilation)

    def forward(self, cols):
        return self.backend.col2im(cols, self.shape, *self.geometry)

    def backward(self, gy):
        return Im2Col(*self.geometry)(gy)


def pair(op: str, name: str, value: int | Sequence[int], minimum: int) -> Pair:
    """An int or a pair of ints as a pair, each at least `minimum`."""
    values = (value, value) if isinstance(value, int) else tuple(value)
    if len(values) != 2 or not all(isinstance(v, int) and v >= minimum for v in values):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints >= {minimum}, got {value}")
    return values


def single(op: str, name: str, value: int | Sequence[int], minimum: int) -> int:
    """An int or a sequence of one int (as PyTorch's 1-D layers take them), at least `minimum`."""
    values = (value,) if isinstance(value, int) else tuple(value)
    if len(values) != 1 or not isinstance(values[0], int) or values[0] < minimum:
        raise ValueError(
            f"{op}: {name} must be an int or a sequence of one int >= {minimum}, got {value!r}"
        )
    return values[0]


def conv1d_padding(
    op: str, padding: int | Sequence[int] | str, kernel: int, stride: int, dilation: int
) -> tuple[int, int]:
    """A 1-D convolution's padding as (left, right) widths: an int pads both ends alike, 'valid'
    is none, 'same' keeps the length (stride 1 only) with the odd cell on the right."""
    if not isinstance(padding, str):
        width = single(op, "padding", padding, 0)
        return width, width
    if padding not in ("same", "valid"):
        raise ValueError(f"{op}: padding must be an int, 'same' or 'valid', got {padding!r}")
    if padding == "valid":
        return 0, 0
    if stride != 1:
        raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def conv_padding(
    op: str, padding: int | Sequence[int] | str, kernel: Pair, stride: Pair, dilation: Pair
) -> tuple[int, int, int, int]:
    """A convolution's padding as `pad` widths (left, right, top, bottom): an int or a pair pads
    both sides alike; 'valid' is none; 'same' keeps the input's size (stride 1 only) and, as
    PyTorch does, puts the odd cell of an odd total on the right and at the bottom."""
    if not isinstance(padding, str):
        ph, pw = pair(op, "padding", padding, 0)
        return pw, pw, ph, ph
    if padding == "valid":
        return 0, 0, 0, 0
    if padding != "same":
        raise ValueError(
            f"{op}: padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}"
        )
    if stride != (1, 1):
        raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
    th, tw = (d * (k - 1) for k, d in zip(kernel, dilation))
    return tw // 2, tw - tw // 2, th // 2, th - th // 2


def grid_size(
    op: str, size: Pair, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Pair:
    """The (height, width) of the grid of windows over an image of `size`."""
    result = tuple(
        (s + 2 * p - d * (k - 1) - 1) // st + 1
        for s, k, st, p, d in zip(size, kernel, stride, padding, dilation)
    )
    if min(result) < 1:
        raise ValueError(
            f"{op}: an input of height and width {size} padded by {padding} is smaller than the "
            f"kernel {kernel} dilated by {dilation}"
        )
    return result


def im2col(
    x: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> Tensor:
    """(N, C, H, W) -> (N, C * kh * kw, OH * OW): every window of the zero-padded input as a
    column, channel-major then kernel row then kernel column, as `torch.nn.functional.unfold`."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        got = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"im2col: expected an (N, C, H, W) tensor, got {got}")
    require_float("im2col", x)
    geometry = (
        pair("im2col", "kernel_size", kernel_size, 1),
        pair("im2col", "stride", stride, 1),
        pair("im2col", "padding", padding, 0),
        pair("im2col", "dilation", dilation, 1),
    )
    grid_size("im2col", x.shape[2:], *geometry)
    return Im2Col(*geometry)(x)


def col2im(
    cols: Tensor,
    output_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> Tensor:
    """Sums (N, C * kh * kw, OH * OW) columns back into an (N, C, H, W) image of height and
    width `output_size`, overlapping windows added, as `torch.nn.functional.fold`."""
    geometry = (
        pair("col2im", "kernel_size", kernel_size, 1),
        pair("col2im", "stride", stride, 1),
        pair("col2im", "padding", padding, 0),
        pair("col2im", "dilation", dilation, 1),
    )
    size = pair("col2im", "output_size", output_size, 1)
    if not isinstance(cols, Tensor) or cols.ndim != 3:
        got = cols.shape if isinstance(cols, Tensor) else type(cols).__name__
        raise ValueError(f"col2im: expected an (N, C * kh * kw, L) tensor, got {got}")
    require_float("col2im", cols)
    kh, kw = geometry[0]
    windows = grid_size("col2im", size, *geometry)
    if cols.shape[1] % (kh * kw) or cols.shape[2] != windows[0] * windows[1]:
        raise ValueError(
            f"col2im: columns of shape {cols.shape} do not fit kernel {geometry[0]} over an "
            f"image of {size} ({windows[0] * windows[1]} windows)"
        )
    shape = (cols.shape[0], cols.shape[1] // (kh * kw), *size)
    return Col2Im(shape, *geometry)(cols)
