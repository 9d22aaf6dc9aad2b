"""Progress display: one redrawn stderr line on a terminal, nothing when piped or quiet.

A :class:`Board` follows a batch (files done of total, bytes, throughput, ETA, and the files in
flight with their percentage); each file reports to it through a :class:`Progress`. The line
always fits the terminal: object ids are shortened and the file list and labels are cut before
the speed and ETA. It ends once, with a newline, so what is printed next starts a line of its own.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Literal, TextIO

from score.client.printable import printable

_ID = re.compile(r"\b([0-9a-fA-F]{8})(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}\b")  # a UUID, as object ids are
_LABEL_MAX = 24  # characters of a label in the list of files in flight


def human(n: float) -> str:
    """``1.5 MiB`` style sizes."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def short_ids(label: str) -> str:
    """*label* with each object id (a UUID) cut to its first 8 characters and ``…``."""
    return _ID.sub(lambda m: m.group(1) + "…", label)


def _fit(label: str, room: int) -> str:
    """*label* cut to *room* characters, ending in ``…`` when cut."""
    if len(label) <= room:
        return label
    return label[: room - 1] + "…" if room > 1 else ""


def _eta(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def stream_width(stream: TextIO, fallback: int = 80) -> int:
    """The width of the terminal *stream* is, or *fallback* when it is none (a file, a pipe, no descriptor).

    Not ``shutil.get_terminal_size``: it measures standard output, which may be redirected while
    the line is drawn on standard error (a line as wide as another terminal, or 120, would wrap).
    """
    try:
        return os.get_terminal_size(stream.fileno()).columns or fallback
    except (AttributeError, ValueError, OSError):  # no fileno, a closed stream, not a terminal
        return fallback


_State = Literal["running", "done", "stopped"]


class Board:
    """Thread-safe progress of *files* transfers, drawn at most four times a second."""

    def __init__(
        self,
        files: int,
        enabled: bool,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
        expected_bytes: int = 0,
    ) -> None:
        """Draw on *stream* (stderr) when *enabled*; *width* is that of the terminal *stream* is, unless given.

        *expected_bytes*, what the batch's files add up to where their sizes are known before they start,
        keeps the total (and the percentage and ETA) from growing as files start.
        """
        self._files = files
        self._expected = expected_bytes
        self._finished = 0
        self._failed = 0
        self._enabled = enabled
        self._stream = stream or sys.stderr
        self._clock = clock
        self._start = clock()
        self._last_draw = -1.0
        self._shown = False  # a line is on the screen and not ended
        self._lock = threading.Lock()  # the counters
        self._out = threading.RLock()  # the screen: one writer at a time
        self._active: dict[int, Progress] = {}
        self._label = ""  # the last file tracked: the head of a one-file line
        self._over_total = 0  # bytes of the files that are over (completed or abandoned)
        self._over_done = 0
        self._over_moved = 0  # bytes those files moved in this run (for the rate)
        self._over_missing = 0  # bytes the failed files will never move (not in the ETA)
        self._width = width

    def track(self, label: str, total_bytes: int) -> Progress:
        """A counter for one file of *total_bytes*."""
        p = Progress(short_ids(printable(label)), total_bytes, board=self)
        with self._lock:
            if not self._label:  # the rate counts from the first file on, not from the batch's planning
                self._start = self._clock()
            self._active[id(p)] = p
            self._label = p.label
        return p

    def _finish_file(self, p: Progress, completed: bool) -> None:
        with self._lock:
            if self._active.pop(id(p), None) is None:
                return
            self._finished += 1
            self._failed += 0 if completed else 1
            self._over_total += p.total
            self._over_done += p.total if completed else p.done
            self._over_moved += p.done - p.baseline
            self._over_missing += 0 if completed else p.total - p.done
            last = self._finished >= self._files
        if last and self._files == 1:
            self._end()  # one file: its line ends before its result is printed
        else:
            self.draw(force=last)  # a batch: close() ends it, after the last file's result is printed

    def line(self, state: _State = "running") -> str:
        """The status line (without the carriage return): *state* ``done`` or ``stopped`` for the last one."""
        with self._lock:
            active = list(self._active.values())
            done, total, moved, missing = self._over_done, self._over_total, self._over_moved, self._over_missing
            for p in active:
                done += p.done
                total += p.total
                moved += p.done - p.baseline
            if self._finished < self._files:  # files not started yet, as far as their sizes are known
                total = max(total, self._expected)
            finished, failed, label = self._finished, self._failed, self._label
        elapsed = self._clock() - self._start
        rate = max(moved, 0) / max(elapsed, 0.2)  # no wild rates from the first instant
        if state == "running":
            tail = f"ETA {_eta(max(total - done - missing, 0) / rate)}" if rate > 0 else "ETA ?"
        else:
            tail = f"{'in' if state == 'done' else 'stopped after'} {_eta(elapsed)}"
        pct = 100.0 * done / total if total else 100.0 if state == "done" else 0.0
        stats = f"{pct:5.1f}% {human(done)}/{human(total)} {human(rate)}/s {tail}"
        room = max(self._width or stream_width(self._stream), 2) - 1
        if len(stats) > room:  # a narrow terminal: the speed and ETA before the byte counts
            stats = f"{pct:.1f}% {human(rate)}/s {tail}"
        if self._files == 1:
            head = _fit(label, room - len(stats) - 2)
            return (f"{head}: {stats}" if head else stats)[:room]
        text = f"{finished}/{self._files} files" + (f", {failed} failed" if failed else "") + f", {stats}"
        if len(text) > room:
            return stats[:room]
        for p in active[:3]:
            share = 100.0 if p.total == 0 else 100.0 * p.done / p.total
            item = f" | {_fit(p.label, _LABEL_MAX)} {share:.0f}%"
            if len(text) + len(item) > room:
                break
            text += item
        return text

    def draw(self, final: bool = False, force: bool = False) -> None:
        """Redraw the line (rate-limited unless *final* or *force*); *final* ends it."""
        if not self._enabled:
            return
        with self._out:
            now = self._clock()
            if not (final or force) and now - self._last_draw < 0.25:
                return
            self._last_draw = now
            self._write("\r" + self.line("done" if final else "running") + "\x1b[K" + ("\n" if final else ""))
            self._shown = not final

    def _end(self) -> None:
        """Draw the last line, once, and end it: ``done``, or ``stopped`` when a file failed or is in flight."""
        if not self._enabled:
            return
        with self._out:
            if self._last_draw < 0 and not self._shown:
                self._last_draw = self._clock()  # a batch over before its first draw still gets its line
            with self._lock:
                state: _State = "stopped" if self._failed or self._active else "done"
            self._write("\r" + self.line(state) + "\x1b[K\n")
            self._shown = False

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def above(self, fn: Callable[[str], None]) -> Callable[[str], None]:
        """*fn*, wrapped to print its text above the progress line (which is then redrawn)."""

        def wrapped(text: str) -> None:
            with self._out:
                shown = self._enabled and self._shown
                if shown:
                    self._write("\r\x1b[K")
                fn(text)
                if shown:
                    self.draw(force=True)

        return wrapped

    def close(self) -> None:
        """End the line if one is still shown (after a failure or Ctrl-C: the state it stopped in)."""
        if self._enabled and self._shown:
            self._end()


class Progress:
    """Byte counter of one file; thread-safe."""

    def __init__(self, label: str, total_bytes: int, enabled: bool = False, *, board: Board | None = None) -> None:
        """Report to *board*, or to a board of its own (one file) drawn when *enabled*."""
        self.label = label
        self.total = total_bytes
        self.done = 0
        self.baseline = 0  # bytes done before this run: not part of the rate
        self._lock = threading.Lock()
        if board is None:
            board = Board(1, enabled)
            board._active[id(self)] = self  # noqa: SLF001  the board and its files are one unit
            board._label = label  # noqa: SLF001
        self._board = board

    def set_done(self, n: int) -> None:
        """Count bytes that were already transferred before this run."""
        with self._lock:
            self.done = n
            self.baseline = n
        self._board.draw()

    def skip(self, n: int) -> None:
        """Count *n* more bytes as done without moving them (a part the other side already holds)."""
        with self._lock:
            self.done += n
            self.baseline += n
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
        """This file failed: the line keeps its bytes and counts it as failed."""
        self._board._finish_file(self, completed=False)  # noqa: SLF001  the board and its files are one unit
