"""Progress display: one redrawn stderr line on a terminal, nothing when piped or quiet.

A :class:`Board` follows a batch (files done of total, bytes, throughput, ETA, and the files in
flight with their percentage); each file reports to it through a :class:`Progress`.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from score.client.printable import printable


def human(n: float) -> str:
    """``1.5 MiB`` style sizes."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def _eta(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Board:
    """Thread-safe progress of *files* transfers, drawn at most four times a second."""

    def __init__(
        self,
        files: int,
        enabled: bool,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        """Draw on *stream* (stderr) when *enabled*."""
        self._files = files
        self._finished = 0
        self._enabled = enabled
        self._stream = stream or sys.stderr
        self._clock = clock
        self._start = clock()
        self._last_draw = -1.0
        self._lock = threading.Lock()
        self._active: dict[int, Progress] = {}
        self._completed_bytes = 0  # of the files that are over
        self._completed_moved = 0  # bytes those files moved in this run (for the rate)
        self._width = width

    def track(self, label: str, total_bytes: int) -> Progress:
        """A counter for one file of *total_bytes*."""
        p = Progress(printable(label), total_bytes, board=self)
        with self._lock:
            self._active[id(p)] = p
        return p

    def _finish_file(self, p: Progress, completed: bool) -> None:
        with self._lock:
            if self._active.pop(id(p), None) is not None:
                self._finished += 1
                if completed:
                    self._completed_bytes += p.total
                    self._completed_moved += p.done - p.baseline
        self.draw(final=self._finished >= self._files)

    def line(self) -> str:
        """The current status line (without the carriage return)."""
        with self._lock:
            active = list(self._active.values())
            done = self._completed_bytes
            moved = self._completed_moved
            total = done
            for p in active:
                done += p.done
                total += p.total
                moved += p.done - p.baseline
        elapsed = max(self._clock() - self._start, 1e-6)
        rate = max(moved, 0) / elapsed
        eta = _eta((total - done) / rate) if rate > 0 else "?"
        pct = 100.0 if total == 0 else 100.0 * done / total
        if self._files == 1 and len(active) == 1:
            head = f"{active[0].label}: {pct:5.1f}%"
        else:
            head = f"{self._finished}/{self._files} files, {pct:5.1f}%"
        text = f"{head} {human(done)}/{human(total)} {human(rate)}/s ETA {eta}"
        if self._files > 1:
            for p in active[:3]:
                share = 100.0 if p.total == 0 else 100.0 * p.done / p.total
                text += f" | {p.label} {share:.0f}%"
        width = self._width or shutil.get_terminal_size((120, 24)).columns
        return text[: max(width - 1, 20)]

    def draw(self, final: bool = False, force: bool = False) -> None:
        """Redraw the line (rate-limited unless *final* or *force*)."""
        if not self._enabled:
            return
        now = self._clock()
        if not (final or force) and now - self._last_draw < 0.25:
            return
        self._last_draw = now
        self._stream.write("\r" + self.line() + "\x1b[K")
        if final:
            self._stream.write("\n")
        self._stream.flush()

    def above(self, fn: Callable[[str], None]) -> Callable[[str], None]:
        """*fn*, wrapped to print its text above the progress line (which is then redrawn)."""

        def wrapped(text: str) -> None:
            if self._enabled and self._last_draw >= 0:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
            fn(text)
            if self._enabled and self._last_draw >= 0:
                self.draw(final=False, force=True)

        return wrapped

    def close(self) -> None:
        """End the line if anything is still shown."""
        if self._enabled and self._finished < self._files and self._last_draw >= 0:
            self._stream.write("\n")
            self._stream.flush()


class Progress:
    """Byte counter of one file; thread-safe."""

    def __init__(self, label: str, total_bytes: int, enabled: bool = False, *, board: Board | None = None) -> None:
        """Report to *board*, or to a board of its own (one file) drawn when *enabled*."""
        self.label = label
        self.total = total_bytes
        self.done = 0
        self.baseline = 0
        self._lock = threading.Lock()
        if board is None:
            board = Board(1, enabled)
            board._active[id(self)] = self  # noqa: SLF001  the board and its files are one unit
        self._board = board

    def set_done(self, n: int) -> None:
        """Count bytes that were already transferred before this run."""
        with self._lock:
            self.done = n
            self.baseline = n
        self._board.draw()

    def add(self, n: int) -> None:
        """Count *n* more bytes (negative when a part is fetched again)."""
        with self._lock:
            self.done += n
        self._board.draw()

    def finish(self) -> None:
        """This file is complete."""
        self._board._finish_file(self, completed=True)  # noqa: SLF001  the board and its files are one unit

    def abandon(self) -> None:
        """This file failed: it leaves the display (and the byte totals)."""
        self._board._finish_file(self, completed=False)  # noqa: SLF001  the board and its files are one unit
