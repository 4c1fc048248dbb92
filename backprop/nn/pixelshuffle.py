"""`PixelShuffle` and `PixelUnshuffle`: trade channels for resolution and back, as in
sub-pixel convolution super-resolution networks."""

from __future__ import annotations

from backprop.nn import functional as F
from backprop.nn.module import Module, check_sizes
from backprop.tensor import Tensor


class PixelShuffle(Module):
    """(*, C * r * r, H, W) to (*, C, H * r, W * r) with r = `upscale_factor`."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        check_sizes("PixelShuffle", upscale_factor=upscale_factor)
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) to (*, C * r * r, H, W) with r = `downscale_factor`."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        check_sizes("PixelUnshuffle", downscale_factor=downscale_factor)
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
