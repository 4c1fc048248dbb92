"""`pad` in PyTorch's four modes, built from slices and concatenation."""

from __future__ import annotations

from collections.abc import Sequence

from backprop import ops
from backprop.creation import full
from backprop.nn.functional._checks import _cells
from backprop.tensor import Tensor

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """`torch.nn.functional.pad`: `pad` = (left, right, top, bottom, ...) widens the last axis by
    its first pair, the axis before by the next pair, and so on; negative widths crop.
    'constant' fills with `value` (None means 0), 'reflect' mirrors about the edge without
    repeating it, 'replicate' repeats the edge, 'circular' wraps around. Built from slices and
    concatenation, with no index arrays to copy to a device, so it is differentiable to any
    order and a step that pads can be captured into a CUDA graph."""
    for axis, before, after in _pad_widths(input, pad, mode, value):
        if mode == "constant":
            input = _pad_constant(input, axis, before, after, 0.0 if value is None else value)
        else:
            input = _pad_copies(input, axis, before, after, mode)
    return input


def _pad_widths(
    input: Tensor, pad: Sequence[int], mode: str, value: float | None
) -> list[tuple[int, int, int]]:
    """(axis, before, after) for every axis that `pad` changes, after checking the arguments."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected a Tensor, got {type(input).__name__}")
    widths = tuple(pad) if isinstance(pad, Sequence) else None
    if widths is None or not all(isinstance(p, int) and not isinstance(p, bool) for p in widths):
        raise TypeError(f"pad: pad must be a sequence of ints (left, right, top, ...), got {pad!r}")
    if len(widths) % 2:
        raise ValueError(
            f"pad: pad must hold (before, after) pairs, so an even number of ints, got "
            f"{len(widths)}: {widths}"
        )
    if len(widths) // 2 > input.ndim:
        raise ValueError(
            f"pad: pad {widths} widens {len(widths) // 2} axes but the input {input.shape} "
            f"has {input.ndim}"
        )
    if mode not in PAD_MODES:
        raise ValueError(
            f"pad: mode must be one of {', '.join(map(repr, PAD_MODES))}, got {mode!r}"
        )
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(
            f"pad: value is used by mode='constant' only, got value={value} with {mode=}"
        )
    result = []
    for i in range(len(widths) // 2):
        axis, before, after = input.ndim - 1 - i, widths[2 * i], widths[2 * i + 1]
        _check_pad_axis(input.shape, axis, before, after, mode)
        if (before, after) != (0, 0):
            result.append((axis, before, after))
    return result


def _check_pad_axis(shape: tuple, axis: int, before: int, after: int, mode: str) -> None:
    """Raises a ValueError where `mode` cannot pad axis `axis` of `shape` by (before, after)."""
    size = shape[axis]
    where = f"axis {axis} of size {size} (input {shape})"
    kept = size - max(0, -before) - max(0, -after)
    least = 0 if mode == "constant" else 1
    if kept < least:
        raise ValueError(
            f"pad: padding ({before}, {after}) crops {size - kept} cells of {where}; "
            f"mode={mode!r} needs at least {least} left"
        )
    if mode == "reflect" and max(before, after) >= size:
        raise ValueError(
            f"pad: reflect padding must be smaller than the axis it pads, got ({before}, {after}) "
            f"for {where}"
        )
    if mode == "circular" and max(before, after) > kept:
        raise ValueError(
            f"pad: circular padding can wrap around at most once, so at most {kept} cells, got "
            f"({before}, {after}) for {where}"
        )


def _pad_constant(x: Tensor, axis: int, before: int, after: int, value: float) -> Tensor:
    """`x` cropped by negative widths along `axis`, then widened by bands of `value`."""
    if before < 0 or after < 0:
        x = _cells(x, axis, max(0, -before), x.shape[axis] - max(0, -after))
    parts = [x]
    if before > 0:
        parts.insert(0, _band(x, axis, before, value))
    if after > 0:
        parts.append(_band(x, axis, after, value))
    return ops.concatenate(parts, axis) if len(parts) > 1 else x


def _band(x: Tensor, axis: int, width: int, value: float) -> Tensor:
    """A tensor of `value` shaped like `x` but `width` cells long along `axis`."""
    shape = x.shape[:axis] + (width,) + x.shape[axis + 1 :]
    return full(shape, value, dtype=x.dtype, device=x.device)


def _pad_copies(x: Tensor, axis: int, before: int, after: int, mode: str) -> Tensor:
    """`x` cropped by negative widths along `axis`, then widened by cells copied from the
    uncropped `x` ('reflect', 'replicate' or 'circular')."""
    size = x.shape[axis]
    start, stop = max(0, -before), size - max(0, -after)
    parts = [_cells(x, axis, start, stop)]
    if before > 0:
        parts.insert(0, _pad_head(x, axis, before, stop, mode))
    if after > 0:
        parts.append(_pad_tail(x, axis, after, start, mode))
    return ops.concatenate(parts, axis) if len(parts) > 1 else parts[0]


def _pad_head(x: Tensor, axis: int, width: int, stop: int, mode: str) -> Tensor:
    """The `width` cells padded before the first: copies of it ('replicate'), the cells after
    it in reverse ('reflect'), or the last kept cells, up to `stop` ('circular')."""
    if mode == "replicate":
        return _widened(_cells(x, axis, 0, 1), axis, width)
    if mode == "reflect":
        return _cells(x, axis, width, 0, -1)
    return _cells(x, axis, stop - width, stop)


def _pad_tail(x: Tensor, axis: int, width: int, start: int, mode: str) -> Tensor:
    """The `width` cells padded after the last: copies of it ('replicate'), the cells before
    it in reverse ('reflect'), or the first kept cells, from `start` ('circular')."""
    size = x.shape[axis]
    if mode == "replicate":
        return _widened(_cells(x, axis, size - 1, size), axis, width)
    if mode == "reflect":
        end = size - 2 - width  # exclusive; below 0 the reflection runs through cell 0
        return _cells(x, axis, size - 2, end if end >= 0 else None, -1)
    return _cells(x, axis, start, start + width)


def _widened(edge: Tensor, axis: int, width: int) -> Tensor:
    """`edge`, one cell long along `axis`, repeated `width` times along it."""
    return ops.broadcast_to(edge, edge.shape[:axis] + (width,) + edge.shape[axis + 1 :])
