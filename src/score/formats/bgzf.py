"""BGZF: the blocked gzip of BAM, BCF and bgzipped VCF (SAM spec section 4.1)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from score.domain.errors import IntegrityError, InvalidRequestError

EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_HEADER = struct.Struct("<4BI2BH")
FOOTER = struct.Struct("<II")  # CRC32 and ISIZE (the inflated size) of the block's data
MAX_BLOCK = 65536
Buf = bytes | bytearray | memoryview


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
    """The complete blocks at the start of *buf* (which begins at file offset *base*), each checked
    against its CRC32 and ISIZE.

    Stops at the first incomplete block.

    Raises:
        InvalidRequestError: the bytes are not BGZF.
        IntegrityError: a block does not inflate, or its data does not match its CRC32 or ISIZE.
    """
    pos = 0
    while (frame := block_frame(buf, pos)) is not None:
        start, size = frame
        if pos + size > len(buf):
            return
        try:
            data = zlib.decompress(buf[start : pos + size - 8], -15)
        except zlib.error:
            raise corrupt(base + pos) from None
        if (zlib.crc32(data), len(data)) != FOOTER.unpack_from(buf, pos + size - 8):
            raise corrupt(base + pos)
        yield Block(base + pos, size, data)
        pos += size


def block_frame(buf: Buf, pos: int) -> tuple[int, int] | None:
    """Where the deflate data of the block at *pos* of *buf* begins (in *buf*) and the block's size;
    None when *buf* ends before the block's header does.

    Raises:
        InvalidRequestError: the bytes at *pos* are not a BGZF block header.
    """
    if pos + 18 > len(buf):
        return None
    id1, id2, cm, flg, _mtime, _xfl, _os, xlen = _HEADER.unpack_from(buf, pos)
    if (id1, id2, cm) != (31, 139, 8) or not flg & 4:
        raise InvalidRequestError("the object is not BGZF-compressed (not a BAM, BCF or bgzipped VCF)")
    if pos + 12 + xlen > len(buf):
        return None
    return pos + 12 + xlen, _block_size(buf, pos, xlen)


def corrupt(offset: int) -> IntegrityError:
    """The error for a block that does not inflate to the data its CRC32 and ISIZE describe."""
    return IntegrityError(
        f"the BGZF block at byte {offset} is corrupt (it does not inflate to the data its CRC32 and size describe)"
    )


def _block_size(buf: Buf, pos: int, xlen: int) -> int:
    extra = bytes(buf[pos + 12 : pos + 12 + xlen])
    i = 0
    while i + 4 <= len(extra):
        si1, si2, slen = extra[i], extra[i + 1], struct.unpack_from("<H", extra, i + 2)[0]
        if si1 == 66 and si2 == 67 and slen == 2:
            size = int(struct.unpack_from("<H", extra, i + 4)[0]) + 1
            if size < 12 + xlen + 8:
                raise InvalidRequestError("a BGZF block smaller than its own header: not BGZF")
            return size
        i += 4 + slen
    raise InvalidRequestError("a gzip block without the BGZF size field: not BGZF")


def compress(data: bytes) -> bytes:
    """*data* as BGZF blocks (no EOF block)."""
    out = bytearray()
    for start in range(0, len(data), 0xFF00):
        chunk = data[start : start + 0xFF00]
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        cdata = deflater.compress(chunk) + deflater.flush()
        size = len(cdata) + 25
        out += struct.pack("<4BI2BH", 31, 139, 8, 4, 0, 0, 255, 6) + b"BC" + struct.pack("<HH", 2, size)
        out += cdata + struct.pack("<II", zlib.crc32(chunk) & 0xFFFFFFFF, len(chunk))
    return bytes(out)


def inflate_all(buf: bytes) -> bytes:
    """Inflate a whole BGZF file held in memory (indexes: TBI and CSI are BGZF too)."""
    return b"".join(block.data for block in blocks(buf))
