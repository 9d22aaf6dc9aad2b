"""The BAM header: reference names and where the first record begins (SAM spec section 4.2); the
BGZF header walk that BCF and bgzipped VCF share.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from score.domain.errors import InvalidRequestError
from score.formats.bgzf import blocks


@dataclass(frozen=True)
class BamHeader:
    """Reference names in file order and the virtual offset where the header ends."""

    names: list[str]
    end: tuple[int, int]  # (block offset, offset within the inflated block)
    text: bytes  # the inflated header bytes (magic to the last reference)
    block: bytes = b""  # the inflated block where the header ends, when records share it


class NeedMore(Exception):  # noqa: N818  a control-flow signal, not an error
    """The bytes read so far end inside the header: read more of the object."""


def parse_bam_header(buf: bytes) -> BamHeader:
    """Parse the header at the start of a BAM held (at least partly) in *buf*.

    Raises:
        NeedMore: *buf* ends before the header does.
        InvalidRequestError: not a BAM.
    """
    return parse_bgzf_header(buf, _scan)


def parse_bgzf_header(buf: bytes, scan: Callable[[bytearray], tuple[int, list[str]] | None]) -> BamHeader:
    """Inflate the BGZF blocks at the start of *buf* until ``scan(inflated)`` finds where the header
    ends (and the reference names it holds); shared by BAM, BCF and bgzipped VCF.

    Raises:
        NeedMore: *buf* ends before the header does.
    """
    inflated = bytearray()
    last = None
    for block in blocks(buf):
        first = len(inflated)
        inflated += block.data
        last = block
        scanned = scan(inflated)
        if scanned is not None:
            break
    else:
        raise NeedMore
    assert last is not None
    end, names = scanned
    within = end - first
    # a header that fills its block to the end leaves the records to start at the next block
    position = (last.offset + last.size, 0) if within == len(last.data) else (last.offset, within)
    shared = last.data if position[1] else b""
    return BamHeader(names, position, bytes(inflated[:end]), shared)


def _scan(data: bytearray) -> tuple[int, list[str]] | None:
    """Where the header ends and its reference names; None when *data* ends inside the header."""
    if len(data) >= 4 and data[:4] != b"BAM\1":
        raise InvalidRequestError("the object is not a BAM file (no BAM magic)")
    if len(data) < 8:
        return None
    pos = 8 + struct.unpack_from("<i", data, 4)[0]
    if len(data) < pos + 4:
        return None
    n_ref = struct.unpack_from("<i", data, pos)[0]
    pos += 4
    names = []
    for _ in range(n_ref):
        if len(data) < pos + 4:
            return None
        l_name = struct.unpack_from("<i", data, pos)[0]
        if len(data) < pos + 4 + l_name + 4:
            return None
        names.append(bytes(data[pos + 4 : pos + 4 + l_name - 1]).decode("utf-8", "replace"))
        pos += 4 + l_name + 4
    return int(pos), names


_CORE = struct.Struct("<iiiBBHHHi")  # block_size, refID, pos, l_read_name, mapq, bin, n_cigar_op, flag, l_seq
_REFERENCE_OPS = frozenset((0, 2, 3, 7, 8))  # M, D, N, =, X consume the reference
_UNMAPPED = 4


@dataclass(frozen=True, slots=True)
class Record:
    """Where a BAM record lies in an inflated buffer, and the reference span htslib gives it."""

    start: int  # offset of its block_size field in the buffer
    size: int  # bytes, block_size field included
    tid: int
    pos: int  # 0-based
    end: int  # htslib's bam_endpos: pos + reference length, at least pos + 1 (unmapped: pos + 1)


def record_at(buf: bytes | bytearray, start: int) -> Record | None:
    """The record that begins at *start* of *buf*; None when *buf* ends inside it.

    Raises:
        InvalidRequestError: the bytes there are not a BAM record.
    """
    if start + _CORE.size > len(buf):
        return None
    block_size, tid, pos, l_name, _mapq, _bin, n_cigar, flag, l_seq = _CORE.unpack_from(buf, start)
    if block_size < 32 or l_name < 1 or l_seq < 0 or 32 + l_name + 4 * n_cigar > block_size:
        raise InvalidRequestError("a BAM record is malformed (the object or its index is corrupt)")
    if start + 4 + block_size > len(buf):
        return None
    length = 0
    if not flag & _UNMAPPED and n_cigar:
        cigar = start + 36 + l_name
        for (op,) in struct.iter_unpack("<I", buf[cigar : cigar + 4 * n_cigar]):
            if op & 15 in _REFERENCE_OPS:
                length += op >> 4
    return Record(start, 4 + block_size, tid, pos, pos + (length or 1))
