"""`pad_sequence`, as `torch.nn.utils.rnn.pad_sequence`: sequences of different lengths
padded to the longest and stacked into one batch for the recurrent layers."""

from __future__ import annotations

from collections.abc import Sequence

from backprop import ops
from backprop.nn.functional.padding import pad
from backprop.tensor import Tensor, common_device

PADDING_SIDES = ("right", "left")


def pad_sequence(
    sequences: Tensor | Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Pads each (L_i, *) sequence with `padding_value` to the longest length T, on the
    `padding_side`, and stacks them: (T, B, *), or (B, T, *) with `batch_first`. A Tensor is
    taken as the sequences along its axis 0. Differentiable in the sequences."""
    if padding_side not in PADDING_SIDES:
        raise ValueError(
            f"pad_sequence: padding_side must be one of {', '.join(map(repr, PADDING_SIDES))}, "
            f"got {padding_side!r}"
        )
    items = list(ops.unbind(sequences, 0)) if isinstance(sequences, Tensor) else list(sequences)
    if not items:
        raise ValueError("pad_sequence: expected at least one sequence, got none")
    common_device("pad_sequence", items)
    for item in items:
        if item.ndim == 0:
            raise ValueError("pad_sequence: each sequence must have a length axis, got a 0-d one")
    shapes = {(item.shape[1:], item.dtype) for item in items}
    if len(shapes) > 1:
        listed = ", ".join(f"{item.dtype} {item.shape}" for item in items)
        raise ValueError(
            f"pad_sequence: sequences must match in dtype and in every axis but the first, "
            f"got {listed}"
        )
    longest = max(item.shape[0] for item in items)
    padded = [_pad_to(item, longest, padding_value, padding_side) for item in items]
    return ops.stack(padded, 0 if batch_first else 1)


def _pad_to(sequence: Tensor, length: int, value: float, side: str) -> Tensor:
    """`sequence` widened along axis 0 to `length` by `value` on `side`."""
    missing = length - sequence.shape[0]
    if missing == 0:
        return sequence
    widths = (0, 0) * (sequence.ndim - 1) + ((missing, 0) if side == "left" else (0, missing))
    return pad(sequence, widths, value=value)
