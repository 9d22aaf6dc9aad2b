"""The I/O half of slicing a BAM region by copying whole BGZF blocks (``formats.bam_plan`` makes the plan):
the object's bytes from a local file or a pre-signed URL, and the output written with every copied block
checked against its CRC32 and ISIZE on worker threads (``slicing.block_check``).
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from score.attempts import RetryPolicy, Sleep, with_retry
from score.domain import errors as e
from score.domain.ranges import ByteRange
from score.formats import bgzf
from score.formats.bam_plan import Plan, Read
from score.slicing.block_check import CheckedWriter, Sink

if TYPE_CHECKING:
    from score.rangeio.fetcher import RangeGet

Copy = Callable[[int, int, Sink], None]  # write the object's bytes [start, end) to a file


@dataclass(frozen=True)
class ObjectBytes:
    """Random access to the stored BAM: its size, ranged reads, and ranged copies into a file."""

    size: int
    read: Read
    copy: Copy


def local_bytes(path: Path) -> ObjectBytes:
    """A local BAM."""

    def read(start: int, end: int) -> bytes:
        with open(path, "rb") as fh:
            return os.pread(fh.fileno(), end - start, start)

    def copy(start: int, end: int, out: Sink) -> None:
        with open(path, "rb") as fh:
            fh.seek(start)
            left = end - start
            while left:
                chunk = fh.read(min(left, 8 * 1024 * 1024))
                if not chunk:
                    raise e.IntegrityError(f"{path} ended early (changed while it was read?)")
                out.write(chunk)  # a failed write is said by write()
                left -= len(chunk)

    return ObjectBytes(path.stat().st_size, read, copy)


class _OutputError(Exception):
    """Writing the output failed (not the store): carried out of the data plane, which would call any
    OSError a network failure and retry it.
    """

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def output_error(exc: OSError) -> e.ScoreError:
    """A failed write of the slice, said as such (a full disk is a disk-space error)."""
    if exc.errno == errno.ENOSPC:
        return e.DiskSpaceError("no space left for the output; free some, or write elsewhere with --output-dir")
    return e.ScoreError(f"cannot write the output: {exc.strerror or exc}")


def remote_bytes(
    get: RangeGet, url: str, size: int, retry: RetryPolicy | None = None, sleep: Sleep | None = None
) -> ObjectBytes:
    """A stored BAM behind a pre-signed URL. Transient failures are retried (``score.attempts``; *sleep*
    replaces the real clock); a copy resumes after the bytes it already wrote (to a file or a pipe alike),
    so nothing is fetched twice or written twice.
    """
    policy = retry or RetryPolicy()
    never = threading.Event()

    def read(start: int, end: int) -> bytes:
        def once() -> bytes:
            got = bytearray(end - start)
            get(
                url,
                ByteRange(start, end - start),
                lambda view, at: got.__setitem__(slice(at, at + len(view)), view),
                never,
                hash_bytes=False,
            )
            return bytes(got)

        return with_retry(once, policy, sleep)

    def copy(start: int, end: int, out: Sink) -> None:
        written = 0

        def sink(view: memoryview, _at: int) -> None:
            nonlocal written
            try:
                out.write(view)
            except OSError as exc:
                raise _OutputError(exc) from None
            written += len(view)

        def once() -> None:
            if written < end - start:
                get(url, ByteRange(start + written, end - start - written), sink, never, hash_bytes=False)

        try:
            with_retry(once, policy, sleep)
        except _OutputError as exc:
            if isinstance(exc.cause, BrokenPipeError):
                raise exc.cause from None  # the reader went away: not a failure of ours
            raise output_error(exc.cause) from None

    return ObjectBytes(size, read, copy)


def write(out: BinaryIO, header_blocks: bytes, the_plan: Plan, copy: Copy) -> None:
    """Write the BAM: the header (BGZF blocks as htslib wrote them), head, copied blocks, tail, EOF block.
    Copied blocks reach *out* only once checked against their CRC32 and ISIZE.

    Raises:
        IntegrityError: a copied block is corrupt (what was written before it ends without an EOF block).
        DiskSpaceError / ScoreError: the output could not be written.
        BrokenPipeError: *out* is a pipe whose reader went away.
    """
    try:
        out.write(header_blocks)
        out.write(bgzf.compress(the_plan.head))
        if the_plan.copy_end > the_plan.copy_start:
            with CheckedWriter(out, the_plan.copy_start) as checked:
                copy(the_plan.copy_start, the_plan.copy_end, checked)
        out.write(bgzf.compress(the_plan.tail))
        out.write(bgzf.EOF_BLOCK)
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise output_error(exc) from None
