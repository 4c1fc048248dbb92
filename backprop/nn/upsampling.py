"""`Upsample`: resizes the spatial axes of its input with `F.interpolate`."""

from __future__ import annotations

from collections.abc import Sequence

from backprop.nn import functional as F
from backprop.nn.module import Module
from backprop.tensor import Tensor


class Upsample(Module):
    """Resizes (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs to `size` or by
    `scale_factor` with `mode` 'nearest', 'nearest-exact', 'linear', 'bilinear' or
    'trilinear', as `torch.nn.Upsample`."""

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ):
        super().__init__()
        if mode not in F.INTERPOLATE_MODES:
            raise ValueError(
                f"Upsample: mode must be one of {', '.join(map(repr, F.INTERPOLATE_MODES))}, "
                f"got {mode!r}"
            )
        if isinstance(scale_factor, Sequence):
            scale_factor = tuple(float(factor) for factor in scale_factor)
        elif scale_factor is not None:
            scale_factor = float(scale_factor)
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"
