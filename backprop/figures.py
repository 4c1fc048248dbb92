"""Matplotlib, imported only when a plot is asked for: the one place that says it is missing."""

from __future__ import annotations

from typing import Any


def new_figure(op: str, width: float, height: float) -> Any:
    """An empty matplotlib Figure of `width` x `height` inches with constrained layout (no
    pyplot, so no GUI backend is touched); an ImportError naming `op` without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            f"{op}: needs matplotlib, which is not installed; install it with "
            "`pip install matplotlib`"
        ) from None
    return Figure(figsize=(width, height), layout="constrained")
