"""BGZF: the blocked gzip of BAM, BCF and bgzipped VCF (SAM spec section 4.1)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from score.domain.errors import InvalidRequestError

EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_HEADER = struct.Struct("<4BI2BH")
MAX_BLOCK = 65536


@dataclass(frozen=True, slots=True)
class Block:
    """One block: where it starts in the file, its compressed size and its inflated data."""

    offset: int
    size: int
    data: bytes


def virtual(offset: int) -> tuple[int, int]:
    """Split a virtual offset into (block offset in the file, offset within the inflated block)."""
    return offset >> 16, offset & 0xFFFF


def blocks(buf: bytes, base: int = 0) -> Iterator[Block]:
    """The complete blocks at the start of *buf* (which begins at file offset *base*).

    Stops at the first incomplete block.

    Raises:
        InvalidRequestError: the bytes are not BGZF.
    """
    pos = 0
    while pos + 18 <= len(buf):
        id1, id2, cm, flg, _mtime, _xfl, _os, xlen = _HEADER.unpack_from(buf, pos)
        if (id1, id2, cm) != (31, 139, 8) or not flg & 4:
            raise InvalidRequestError("the object is not BGZF-compressed (not a BAM, BCF or bgzipped VCF)")
        size = _block_size(buf, pos, xlen)
        if pos + size > len(buf):
            return
        cdata = buf[pos + 12 + xlen: pos + size - 8]
        try:
            data = zlib.decompress(cdata, -15)
        except zlib.error:
            raise InvalidRequestError("a BGZF block does not inflate: the object is corrupt") from None
        yield Block(base + pos, size, data)
        pos += size


def _block_size(buf: bytes, pos: int, xlen: int) -> int:
    extra = buf[pos + 12: pos + 12 + xlen]
    i = 0
    while i + 4 <= len(extra):
        si1, si2, slen = extra[i], extra[i + 1], struct.unpack_from("<H", extra, i + 2)[0]
        if si1 == 66 and si2 == 67 and slen == 2:
            return int(struct.unpack_from("<H", extra, i + 4)[0]) + 1
        i += 4 + slen
    raise InvalidRequestError("a gzip block without the BGZF size field: not BGZF")


def compress(data: bytes) -> bytes:
    """*data* as BGZF blocks (no EOF block)."""
    out = bytearray()
    for start in range(0, len(data), 0xFF00):
        chunk = data[start: start + 0xFF00]
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        cdata = deflater.compress(chunk) + deflater.flush()
        size = len(cdata) + 25
        out += struct.pack("<4BI2BH", 31, 139, 8, 4, 0, 0, 255, 6) + b"BC" + struct.pack("<HH", 2, size)
        out += cdata + struct.pack("<II", zlib.crc32(chunk) & 0xFFFFFFFF, len(chunk))
    return bytes(out)


def inflate_all(buf: bytes) -> bytes:
    """Inflate a whole BGZF file held in memory (indexes: TBI and CSI are BGZF too)."""
    return b"".join(block.data for block in blocks(buf))
