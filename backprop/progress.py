"""A small progress bar on stderr for `backprop bench` and `backprop train`.

It draws only when stderr is a terminal (never into logs or pipes) and shows steps done, steps
per second and the time left.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 24
_REDRAW_SECONDS = 0.1


class Progress:
    """Counts steps towards `total` and redraws one status line, at most ten times a second.

    Use it as a context manager; `enabled=None` draws only when `stream` is a terminal.
    """

    def __init__(
        self,
        total: int,
        description: str = "",
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ):
        if total < 0:
            raise ValueError(f"Progress: total must be >= 0, got {total}")
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.description = description
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, steps: int = 1, description: str | None = None) -> None:
        """Marks `steps` more as done (and optionally renames the current task)."""
        self.done += steps
        if description is not None:
            self.description = description
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= _REDRAW_SECONDS or self.done >= self.total):
            self._last_draw = now
            self._draw(now - self._start)

    def write(self, text: str) -> None:
        """Prints `text` on stdout as a line of its own; the bar is redrawn below it."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(text, flush=True)
        if self.enabled:
            self._draw(time.perf_counter() - self._start)

    def close(self) -> None:
        """Ends the status line so that what is printed next starts on a fresh line."""
        if self.enabled:
            self._draw(time.perf_counter() - self._start)
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False

    def line(self, elapsed: float) -> str:
        """The status text after `elapsed` seconds: description, bar, steps done of total,
        steps per second and the estimated time left."""
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(round(fraction * _WIDTH))
        bar = "=" * filled + " " * (_WIDTH - filled)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        return (
            f"{self.description} [{bar}] {self.done}/{self.total} "
            f"{rate:.1f} it/s ETA {_format_seconds(left)}"
        )

    def _draw(self, elapsed: float) -> None:
        self.stream.write("\r\033[K" + self.line(elapsed))
        self.stream.flush()


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"
