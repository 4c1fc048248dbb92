"""The argument type and the input checks that several of the functional modules share."""

from __future__ import annotations

from collections.abc import Sequence

from backprop.ops.common import require_float
from backprop.tensor import Tensor

IntPair = int | Sequence[int]


def _image(op: str, x: Tensor) -> None:
    _check_input(op, x, "(N, C, H, W)")


def _check_input(op: str, x: Tensor, layout: str) -> None:
    """`x` must be a float tensor with as many axes as `layout` (such as "(N, C, L)") names."""
    if not isinstance(x, Tensor) or x.ndim != layout.count(",") + 1:
        got = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{op}: expected an {layout} input, got {got}")
    require_float(op, x)


def _float_input(op: str, input: Tensor) -> None:
    """`input` must be a float Tensor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    require_float(op, input)
