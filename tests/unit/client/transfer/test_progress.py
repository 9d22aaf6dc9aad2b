"""The progress board: totals, throughput and ETA from a fake clock, files in flight, quiet when disabled."""

from __future__ import annotations

import io

from score.client.transfer.progress import Board, Progress, human


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_batch_line_counts_files_bytes_rate_and_eta() -> None:
    clock, out = Clock(), io.StringIO()
    board = Board(3, True, out, clock=clock, width=200)
    a = board.track("a.bam", 100 * 1024 * 1024)
    b = board.track("b.bam", 100 * 1024 * 1024)
    a.set_done(50 * 1024 * 1024)  # resumed: not part of the rate
    clock.now += 2
    a.add(20 * 1024 * 1024)
    b.add(20 * 1024 * 1024)
    line = board.line()
    assert line.startswith("0/3 files,  45.0% 90.0 MiB/200.0 MiB 20.0 MiB/s ETA 5s")
    assert "| a.bam 70%" in line and "| b.bam 20%" in line
    a.add(30 * 1024 * 1024)
    a.finish()
    b.abandon()
    line = board.line()
    assert line.startswith("2/3 files, 100.0% 100.0 MiB/100.0 MiB") and "a.bam" not in line
    assert "\r" in out.getvalue() and "\x1b[K" in out.getvalue()


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
