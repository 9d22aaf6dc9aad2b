"""One region of a BAM as BAM, by copying whole BGZF blocks: only the edges are inflated and re-packed.

Decoding every record and compressing it again (what samtools and pysam do) costs ~6 µs a record in
Python; a large region is almost all whole blocks that can be copied as they are. In a coordinate-
sorted BAM the records overlapping ``[beg, end)`` of a reference are (a) some records that start before
``beg`` and reach into it, scattered among others, then (b) one run: every record from the first that
starts at or after ``beg`` to the last that starts before ``end``. (a) is read from the index's first
chunk on and filtered record by record, as htslib's iterator does; (b)'s end is found by scanning from
the linear index's offset for ``end``. Only the blocks holding (a) and the two ends of (b) are fetched
and inflated; the blocks inside (b) are copied byte for byte. BGZF lets records run across blocks, so
the output (header, re-packed head, copied blocks, re-packed tail, EOF block) inflates to exactly the
records ``samtools view`` prints, in file order. Every block is checked against its CRC32 and ISIZE before
its bytes reach the output: the inflated ones as they are read (``bgzf.blocks``), the copied ones on worker
threads (``blockcheck``).

:class:`Fallback` means "decode record by record instead" (no linear index, an index that does not
match the file, edges too far apart); nothing has been written then.
"""

from __future__ import annotations

import bisect
import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from score.client.blockcheck import CheckedWriter, Sink
from score.client.retry import RetryPolicy, with_retry
from score.domain import errors as e
from score.domain.ranges import ByteRange
from score.formats import bgzf
from score.formats.bam import Record, record_at
from score.formats.binning import BinningIndex

if TYPE_CHECKING:
    from score.rangeio.fetcher import RangeGet

STEP = 256 * 1024  # bytes fetched at a time while walking records
EDGE_LIMIT = 32 * 1024 * 1024  # inflated bytes one walk may hold before falling back

Read = Callable[[int, int], bytes]  # the object's bytes [start, end)
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


def remote_bytes(get: RangeGet, url: str, size: int, retry: RetryPolicy | None = None) -> ObjectBytes:
    """A stored BAM behind a pre-signed URL. Transient failures are retried; a copy resumes after the
    bytes it already wrote (to a file or a pipe alike), so nothing is fetched twice or written twice.
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

        return with_retry(once, policy)

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
            with_retry(once, policy)
        except _OutputError as exc:
            if isinstance(exc.cause, BrokenPipeError):
                raise exc.cause from None  # the reader went away: not a failure of ours
            raise output_error(exc.cause) from None

    return ObjectBytes(size, read, copy)


class Fallback(Exception):  # noqa: N818  a control-flow signal, not an error
    """This region is better (or only) sliced record by record."""


class _Walker:
    """BAM records from a virtual offset on, fetching and inflating blocks as it goes."""

    def __init__(self, read: Read, size: int, voffset: int) -> None:
        block, within = bgzf.virtual(voffset)
        if block >= size:
            raise Fallback  # the index does not belong to this file
        self._read, self._size = read, size
        self._raw, self._raw_at = b"", block  # fetched bytes not inflated yet (part of a block)
        self.buf = bytearray()  # inflated data of self.blocks, in order
        self.blocks: list[bgzf.Block] = []
        self._starts: list[int] = []  # where each block's data begins in buf
        self.pos = within  # where the next record begins in buf

    def _more(self) -> bool:
        fetch_at = self._raw_at + len(self._raw)
        if fetch_at >= self._size:
            if self._raw:  # the file ends inside a block
                raise e.IntegrityError("the BAM is truncated (it ends inside a BGZF block)")
            return False
        self._raw += self._read(fetch_at, min(self._size, fetch_at + STEP))
        try:
            got = list(bgzf.blocks(self._raw, self._raw_at))
        except e.InvalidRequestError:
            raise Fallback from None  # the index points outside BGZF blocks
        for block in got:
            self._starts.append(len(self.buf))
            self.blocks.append(block)
            self.buf += block.data
        if got:
            used = got[-1].offset + got[-1].size - self._raw_at
            self._raw, self._raw_at = self._raw[used:], self._raw_at + used
        if len(self.buf) > EDGE_LIMIT:
            raise Fallback
        return True

    def next_record(self) -> Record | None:
        """The next record, or None at the end of the data."""
        while True:
            try:
                rec = record_at(self.buf, self.pos)
            except e.InvalidRequestError:
                raise Fallback from None
            if rec is not None:
                self.pos += rec.size
                return rec
            if not self._more():
                if self.pos < len(self.buf):
                    raise e.IntegrityError("the BAM ends inside a record (truncated)")
                return None

    def through_run(self, tid: int, end: int) -> tuple[int, int]:
        """Walk past the records of *tid* that start before *end*: where the first record after them
        begins in buf (or the end of the data), and how many were passed.
        """
        passed = 0
        while (rec := self.next_record()) is not None and rec.tid == tid and rec.pos < end:
            passed += 1
        return (rec.start if rec is not None else len(self.buf)), passed

    def where(self, p: int) -> tuple[int, int]:
        """Buffer position *p* as (file offset of its block, offset within the inflated block)."""
        i = bisect.bisect_right(self._starts, p) - 1
        if i < 0:
            raise Fallback
        return self.blocks[i].offset, p - self._starts[i]

    def block(self, offset: int) -> bgzf.Block:
        """A block this walker inflated, by file offset."""
        return next(b for b in self.blocks if b.offset == offset)


@dataclass(frozen=True)
class Plan:
    """What to write after the header: inflated *head*, the object's bytes ``[copy_start, copy_end)`` as
    they are, inflated *tail*; *records* when every record was seen (None when blocks are copied).
    """

    head: bytes
    copy_start: int
    copy_end: int
    tail: bytes
    records: int | None


def plan(read: Read, size: int, index: BinningIndex, tid: int, beg: int, end: int) -> Plan:
    """Plan the slice of ``[beg, end)`` (0-based) of reference *tid*.

    Raises:
        Fallback: slice record by record instead.
        IntegrityError: the BAM is truncated.
    """
    if tid >= len(index.refs) or not index.refs[tid].linear:
        raise Fallback  # CSI, or a reference without a linear index
    chunks = index.query(tid, beg, end)
    if not chunks:
        return Plan(b"", 0, 0, b"", 0)
    walker = _Walker(read, size, chunks[0][0])
    head = bytearray()
    count = 0
    while (rec := walker.next_record()) is not None:
        if rec.tid != tid or rec.pos >= end:
            return Plan(bytes(head), 0, 0, b"", count)  # nothing starts inside the region
        if rec.pos >= beg:
            break
        if rec.end > beg:
            head += walker.buf[rec.start : rec.start + rec.size]
            count += 1
    if rec is None:
        return Plan(bytes(head), 0, 0, b"", count)
    first = rec.start  # the run of records starting inside the region begins here
    block0, within0 = walker.where(first)
    far = _run_end(read, size, index, tid, end, (block0 << 16) | within0)
    if far is None:  # the run ends near its start: walk on
        stop, n = walker.through_run(tid, end)
        return Plan(bytes(head + walker.buf[first:stop]), 0, 0, b"", count + 1 + n)
    far_walker, stop = far
    block_x, within_x = far_walker.where(stop)
    b0 = walker.block(block0)
    if block_x == block0:
        return Plan(bytes(head + b0.data[within0:within_x]), 0, 0, b"", None)
    head += b0.data[within0:]
    tail = far_walker.block(block_x).data[:within_x] if within_x else b""
    return Plan(bytes(head), block0 + b0.size, block_x, tail, None)


def _run_end(
    read: Read, size: int, index: BinningIndex, tid: int, end: int, run_start: int
) -> tuple[_Walker, int] | None:
    """A walker holding the first record at or after *end* (or the end of the data) and its buffer
    position; None when that lies within a window or so of *run_start* (the caller walks on).
    """
    linear = index.refs[tid].linear
    tried = -1
    for k in range(min(end >> index.min_shift, len(linear) - 1), -1, -1):
        offset = linear[k]
        if offset <= run_start:
            return None
        if offset == tried:  # windows without reads repeat a neighbour's offset
            continue
        tried = offset
        walker = _Walker(read, size, offset)
        rec = walker.next_record()
        if rec is None or rec.tid != tid or rec.pos >= end:
            continue  # the run may end before this offset: try the window before
        return walker, walker.through_run(tid, end)[0]
    return None


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
