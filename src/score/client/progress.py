"""Progress display: a redrawn stderr line on a terminal, nothing when piped or quiet."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


class Progress:
    """Thread-safe byte counter with an optional live line (throughput and ETA)."""

    def __init__(self, label: str, total_bytes: int, enabled: bool, stream: TextIO | None = None) -> None:
        """Show progress of *label* towards *total_bytes* when *enabled*."""
        self._label = label
        self._total = total_bytes
        self._done = 0
        self._lock = threading.Lock()
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._start = time.monotonic()
        self._last_draw = 0.0

    def set_done(self, n: int) -> None:
        """Count bytes that were already transferred before this run."""
        with self._lock:
            self._done = n
        self._draw()

    def add(self, n: int) -> None:
        """Count *n* more bytes."""
        with self._lock:
            self._done += n
        self._draw()

    def _draw(self, final: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if not final and now - self._last_draw < 0.25:
            return
        self._last_draw = now
        elapsed = max(now - self._start, 1e-6)
        rate = self._done / elapsed
        pct = 100.0 if self._total == 0 else 100.0 * self._done / self._total
        eta = (self._total - self._done) / rate if rate > 0 else 0
        line = (
            f"\r{self._label}: {pct:5.1f}% {_human(self._done)}/{_human(self._total)} "
            f"{_human(rate)}/s ETA {int(eta)}s   "
        )
        self._stream.write(line)
        self._stream.flush()

    def finish(self) -> None:
        """End the line."""
        if self._enabled:
            self._draw(final=True)
            self._stream.write("\n")
            self._stream.flush()
