"""The argument type, the input checks and the small tensor helpers that several of the
functional modules share."""

from __future__ import annotations

from collections.abc import Sequence

from backprop.ops.common import require_float
from backprop.tensor import Tensor

IntPair = int | Sequence[int]


def _image(op: str, x: Tensor) -> None:
    _check_input(op, x, "(N, C, H, W)")


def _check_input(op: str, x: Tensor, layout: str) -> None:
    """`x` must be a float tensor with as many axes as `layout` (such as "(N, C, L)") names."""
    _float_input(op, x)
    if x.ndim != layout.count(",") + 1:
        raise ValueError(f"{op}: expected an {layout} input, got {x.shape}")


def _float_input(op: str, input: Tensor) -> None:
    """`input` must be a float Tensor; anything but a Tensor is a TypeError."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    require_float(op, input)


def _tensor_argument(op: str, name: str, value: Tensor) -> None:
    """The argument `name` must be a Tensor; anything else is a TypeError that names it."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")


def _batched(op: str, input: Tensor, layout: str) -> tuple[Tensor, bool]:
    """A float `input` of `layout` (such as "(N, C, H, W)") as it is, or an unbatched one (the
    layout without N) with a batch axis of 1 in front, as PyTorch's pools take both; and
    whether the batch axis was added, for `_unbatched`."""
    _float_input(op, input)
    axes = layout.count(",") + 1
    if input.ndim == axes - 1:
        return input.reshape(1, *input.shape), True
    if input.ndim != axes:
        unbatched = "(" + layout[len("(N, ") :]
        raise ValueError(
            f"{op}: expected an {layout} or unbatched {unbatched} input, got {input.shape}"
        )
    return input, False


def _unbatched(out: Tensor | tuple[Tensor, ...], added: bool) -> Tensor | tuple[Tensor, ...]:
    """`out` (a tensor, or a tuple such as (values, indices)) without the batch axis that
    `_batched` added, if it added one."""
    if not added:
        return out
    if isinstance(out, tuple):
        return tuple(t.reshape(t.shape[1:]) for t in out)
    return out.reshape(out.shape[1:])


def _cells(x: Tensor, axis: int, first: int, last: int | None, step: int = 1) -> Tensor:
    """`x[first:last:step]` along `axis`."""
    return x[(slice(None),) * axis + (slice(first, last, step),)]
