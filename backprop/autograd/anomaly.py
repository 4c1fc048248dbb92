"""Anomaly detection, as `torch.autograd.detect_anomaly`: find the op whose backward made a NaN.

A NaN gradient spreads into every gradient computed from it, so by the time it reaches `.grad`
it no longer says where it came from. In anomaly mode each recorded op keeps the stack of the
call that created it, and the backward pass checks every gradient an op returns: the first NaN
raises an error naming the op and showing that call. Both cost time (a stack per op, a read of
each gradient back to the host), so the mode is for debugging and off by default.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

_enabled = False


def is_anomaly_enabled() -> bool:
    """Whether ops record their creation stack and backward checks their gradients for NaN."""
    return _enabled


def set_detect_anomaly(mode: bool) -> None:
    """Turns anomaly mode on or off for the rest of the program."""
    global _enabled
    _enabled = bool(mode)


class detect_anomaly(contextlib.ContextDecorator):
    """Anomaly mode inside a `with` block or a decorated function, restoring the previous mode
    on the way out."""

    def __init__(self):
        self._previous: list[bool] = []  # a stack: a decorated function may recurse

    def __enter__(self) -> None:
        global _enabled
        self._previous.append(_enabled)
        _enabled = True

    def __exit__(self, *exc: object) -> None:
        global _enabled
        _enabled = self._previous.pop()


def record_creation(fn: Any) -> None:
    """Keeps the stack of the call that is recording `fn`, less the autograd frames."""
    fn.created_at = traceback.extract_stack()[:-2]


def check_gradients(fn: Any, grads: Sequence[Any]) -> None:
    """Raises if a gradient that `fn.backward` returned holds a NaN, naming `fn` and the call
    that created it."""
    for index, g in enumerate(grads):
        if g is None or g.dtype.kind != "f":
            continue
        if np.isnan(g.backend.to_host(g.data)).any():
            created = getattr(fn, "created_at", None)
            where = (
                "; it was created at (most recent call last):\n"
                + "".join(traceback.format_list(created))
                if created
                else " (created before anomaly mode was on, so its creation stack is unknown)"
            )
            raise RuntimeError(
                f"backward: op {fn.name!r} returned NaN in the gradient of its input {index} "
                f"(shape {g.shape}), and every gradient computed from it would be NaN{where}"
            )
