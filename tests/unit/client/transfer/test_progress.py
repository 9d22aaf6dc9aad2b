"""The progress board: totals, throughput and ETA from a fake clock, files in flight, quiet when disabled;
the line fits any width with its speed and ETA, ends once, and after a failure or Ctrl-C shows where it
stopped (issue 24)."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import pytest

from score.client.transfer.progress import Board, Progress, human, short_ids

MIB = 1024 * 1024
OID = "5b8f4a77-46d3-5c64-a6c6-b7a5f1e3d0c2"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_batch_line_counts_files_bytes_rate_and_eta() -> None:
    clock, out = Clock(), io.StringIO()
    board = Board(3, True, out, clock=clock, width=200)
    a = board.track("a.bam", 100 * MIB)
    b = board.track("b.bam", 100 * MIB)
    a.set_done(50 * MIB)  # resumed: not part of the rate
    clock.now += 2
    a.add(20 * MIB)
    b.add(20 * MIB)
    line = board.line()
    assert line.startswith("0/3 files,  45.0% 90.0 MiB/200.0 MiB 20.0 MiB/s ETA 5s")
    assert "| a.bam 70%" in line and "| b.bam 20%" in line
    a.add(30 * MIB)
    a.finish()
    b.abandon()  # a failed file keeps its bytes on the line and is counted as failed; its rest is not in the ETA
    line = board.line()
    assert line.startswith("2/3 files, 1 failed,  60.0% 120.0 MiB/200.0 MiB 35.0 MiB/s ETA 0s"), line
    assert "a.bam" not in line
    assert "\r" in out.getvalue() and "\x1b[K" in out.getvalue()


def test_a_batch_of_known_sizes_has_its_whole_total_before_its_files_start() -> None:
    clock = Clock()
    board = Board(3, True, io.StringIO(), clock=clock, width=200, expected_bytes=300 * MIB)
    a = board.track("a.bam", 100 * MIB)
    clock.now += 1
    a.add(30 * MIB)
    assert board.line().startswith("0/3 files,  10.0% 30.0 MiB/300.0 MiB 30.0 MiB/s ETA 9s")  # not 30% of 100 MiB


def test_parts_the_other_side_holds_are_done_but_not_in_the_rate() -> None:
    clock = Clock()
    board = Board(1, False, clock=clock, width=200)
    p = board.track("up.bam", 100 * MIB)
    p.skip(60 * MIB)
    clock.now += 4
    p.add(20 * MIB)
    assert board.line().startswith("up.bam:  80.0% 80.0 MiB/100.0 MiB 5.0 MiB/s ETA 4s")


def test_ids_are_shortened_and_speed_and_eta_fit_any_width() -> None:
    """Issue 24: at 80 columns the object id pushed the speed and ETA off the line."""
    assert short_ids(f"upload {OID}") == "upload 5b8f4a77…"
    assert short_ids("upload 5b8f4a7746d35c64a6c6b7a5f1e3d0c2 x.bam") == "upload 5b8f4a77… x.bam"
    assert short_ids("sample-2024.bam") == "sample-2024.bam"
    clock = Clock()
    one = Board(1, False, clock=clock, width=80)
    one.track(f"download {OID}", 3 * 1024**4).set_done(5 * MIB)
    clock.now += 1
    for width in (200, 80, 50, 30):
        one._width = width
        line = one.line()
        assert len(line) <= width - 1 and "ETA ?" in line and "0 B/s" in line, (width, line)
    one._width = 80
    assert one.line() == "download 5b8f4a77…:   0.0% 5.0 MiB/3.0 TiB 0 B/s ETA ?"
    many = Board(40, False, clock=clock)
    long_name = "a-very-long-file-name-of-some-sequencing-run-" * 3 + ".cram"
    for i in range(5):
        many.track(f"{i}{long_name}", 10 * MIB).add(MIB)
    clock.now += 1
    for width in (200, 80, 60, 40):
        many._width = width
        line = many.line()
        assert len(line) <= width - 1 and "/s ETA " in line, (width, line)
    many._width = 200
    assert many.line().count(" | ") == 3 and "…" in many.line()


@contextmanager
def terminal(columns: int) -> Iterator[TextIO]:
    """A pseudo-terminal *columns* wide, as a text stream."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        with open(follower, "w", closefd=True) as stream:
            yield stream
    finally:
        os.close(leader)


def test_the_line_fits_the_stream_it_is_drawn_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside-in trial, issue 24: the width was standard output's (``shutil.get_terminal_size``), so with
    stdout redirected (or a terminal of another width) the line drawn on stderr overflowed its terminal. It
    is the width of the stream drawn on, or 80 when that is no terminal (a pipe, a file, no descriptor)."""
    monkeypatch.delenv("COLUMNS", raising=False)
    label = "download " + "a-long-file-name-" * 10 + ".bam"
    with terminal(200) as wide, terminal(50) as narrow:
        monkeypatch.setattr(sys, "__stdout__", wide)  # what shutil.get_terminal_size measures
        monkeypatch.setattr(sys, "stdout", wide)
        board = Board(1, False, narrow)
        board.track(label, 10 * MIB).add(MIB)
        assert len(board.line()) == 49
        read, write = os.pipe()
        with open(read, "rb") as _r, open(write, "w") as pipe:
            for stream in (pipe, io.StringIO()):
                board = Board(1, False, stream)
                board.track(label, 10 * MIB).add(MIB)
                assert len(board.line()) == 79, stream


def test_the_last_line_is_drawn_once_and_ended() -> None:
    """Issue 24: the final line was printed twice and the prompt glued to it."""
    clock, out = Clock(), io.StringIO()
    board = Board(1, True, out, clock=clock, width=100)
    p = board.track("x.cram", 4 * MIB)
    clock.now += 2
    p.add(4 * MIB)
    p.finish()
    printed: list[str] = []
    board.above(printed.append)("downloaded x")  # printed after the line: no redraw of it below
    board.close()
    text = out.getvalue()
    assert text.endswith("\r" + "x.cram: 100.0% 4.0 MiB/4.0 MiB 2.0 MiB/s in 2s\x1b[K\n")
    assert text.count("in 2s") == 1 and text.count("\n") == 1
    assert printed == ["downloaded x"]


def test_a_failed_or_interrupted_transfer_shows_where_it_stopped() -> None:
    """Issue 24: after Ctrl-C or a failure the line read "100.0% 0 B/0 B"."""
    clock, out = Clock(), io.StringIO()
    failed = Board(1, True, out, clock=clock, width=100)
    p = failed.track("x.cram", 4 * MIB)
    clock.now += 2
    p.add(MIB)
    p.abandon()
    failed.close()
    assert out.getvalue().endswith("x.cram:  25.0% 1.0 MiB/4.0 MiB 512.0 KiB/s stopped after 2s\x1b[K\n")
    assert "100.0%" not in out.getvalue() and out.getvalue().count("\n") == 1

    out = io.StringIO()
    cut = Board(2, True, out, clock=clock, width=100)  # Ctrl-C: the CLI closes the board before its message
    cut.track("a", 10 * MIB).add(MIB)
    cut.close()
    cut.close()
    assert out.getvalue().endswith("0/2 files,  10.0% 1.0 MiB/10.0 MiB 5.0 MiB/s stopped after 0s | a 10%\x1b[K\n")
    assert out.getvalue().count("\n") == 1


def test_single_file_line_and_disabled_board_writes_nothing() -> None:
    clock, out = Clock(), io.StringIO()
    board = Board(1, True, out, clock=clock, width=200)
    p = board.track("x.cram", 4096)
    assert board.line().startswith("x.cram:   0.0% 0 B/4.0 KiB 0 B/s ETA ?")
    p.add(4096)
    p.finish()
    assert out.getvalue().endswith("\n")
    quiet = io.StringIO()
    q = Board(2, False, quiet)
    q.track("y", 10).add(10)
    q.above(lambda text: None)("hello")
    q.close()
    assert quiet.getvalue() == ""


def test_above_clears_the_line_then_redraws() -> None:
    clock, out = Clock(), io.StringIO()
    board = Board(2, True, out, clock=clock, width=200)
    board.track("a", 10).add(5)
    printed: list[str] = []
    board.above(printed.append)("downloaded a")
    assert printed == ["downloaded a"]
    assert out.getvalue().count("\r") >= 3  # first draw, the clearing, the redraw


def test_standalone_progress_and_human_sizes() -> None:
    p = Progress("solo", 10, enabled=False)
    p.add(4)
    assert p.done == 4
    p.finish()
    assert human(0) == "0 B" and human(1536) == "1.5 KiB" and human(3 * 1024**4) == "3.0 TiB"


def test_a_batch_ends_its_line_after_the_last_files_result() -> None:
    clock, out = Clock(), io.StringIO()
    board = Board(2, True, out, clock=clock, width=200)
    say = board.above(lambda text: out.write(text + "\n"))
    for name in ("a.bam", "b.bam"):
        p = board.track(name, MIB)
        clock.now += 1
        p.add(MIB)
        p.finish()
        say(f"downloaded {name}")
    board.close()
    board.close()  # twice: nothing more
    screen = out.getvalue().split("\n")
    finals = [line for line in screen if "files," in line and " in " in line]
    assert len(finals) == 1 and finals[0].rsplit("\r", 1)[-1].startswith("2/2 files, 100.0%")
    assert screen.index(finals[0]) > max(i for i, line in enumerate(screen) if "downloaded b.bam" in line)
    assert screen[-1] == ""  # the line is ended: the prompt starts on a line of its own
