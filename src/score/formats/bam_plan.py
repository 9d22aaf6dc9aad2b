"""The plan for one region of a BAM as BAM, by copying whole BGZF blocks: only the edges are inflated and re-packed.

Pure: it reads the object through a callable and returns what to re-pack and which byte range to copy;
``slicing.bam_copy`` does the I/O.

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
from collections.abc import Callable
from dataclasses import dataclass

from score.domain import errors as e
from score.formats import bgzf
from score.formats.bam import Record, record_at
from score.formats.binning import BinningIndex

STEP = 256 * 1024  # bytes fetched at a time while walking records
EDGE_LIMIT = 32 * 1024 * 1024  # inflated bytes one walk may hold before falling back

Read = Callable[[int, int], bytes]  # the object's bytes [start, end)


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
