"""CRAM: the file definition and header container (reference names), the CRAI index and the EOF
container (CRAM spec sections 6-9 and 12).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import struct
import zlib
from dataclasses import dataclass

from score.domain.errors import InvalidRequestError
from score.formats.bam import NeedMore

EOF_V3 = bytes.fromhex("0f000000ffffffff0fe0454f4600000000010005bdd94f0001000606010001000100ee63014b")
EOF_V2 = bytes.fromhex("0b000000ffffffff0fe0454f460000000001000001000606010001000100")


@dataclass(frozen=True, slots=True)
class CraiEntry:
    """One slice: reference id (-1 unplaced), 1-based start, span, container offset in the file."""

    ref: int
    start: int
    span: int
    container: int


def _varint(buf: bytes, pos: int, long: bool) -> tuple[int, int]:
    """ITF8 (*long* False) or LTF8: the value and the position after it."""
    if pos >= len(buf):
        raise NeedMore
    b0 = buf[pos]
    n = 0
    while n < 8 and b0 & (0x80 >> n):
        n += 1
    if not long and n >= 4:  # ITF8's five-byte form keeps only the low 4 bits of the last byte
        if pos + 5 > len(buf):
            raise NeedMore
        v = (
            ((b0 & 0x0F) << 28)
            | (buf[pos + 1] << 20)
            | (buf[pos + 2] << 12)
            | (buf[pos + 3] << 4)
            | (buf[pos + 4] & 0x0F)
        )
        return (v - (1 << 32) if v & (1 << 31) else v), pos + 5
    if pos + n + 1 > len(buf):
        raise NeedMore
    value = b0 & (0xFF >> (n + 1)) if n < 8 else 0
    for i in range(1, n + 1):
        value = (value << 8) | buf[pos + i]
    if not long and value & (1 << 31):
        value -= 1 << 32
    return value, pos + n + 1


def _inflate(method: int, data: bytes) -> bytes:
    try:
        if method == 0:
            return data
        if method == 1:
            return gzip.decompress(data)
        if method == 2:
            return bz2.decompress(data)
        if method == 3:
            return lzma.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        raise InvalidRequestError("the CRAM header block does not decompress") from None
    raise InvalidRequestError(f"the CRAM header block uses compression method {method}, which htsget here cannot read")


def parse_cram_header(buf: bytes) -> tuple[int, list[str]]:
    """The CRAM major version and the reference names (``@SQ SN:``, in order) of the SAM header.

    Raises:
        NeedMore: *buf* ends inside the header container.
        InvalidRequestError: not CRAM.
    """
    if len(buf) < 26:
        raise NeedMore
    if buf[:4] != b"CRAM":
        raise InvalidRequestError("the object is not a CRAM file")
    major = buf[4]
    pos = 26 + 4  # the container's length
    if len(buf) < pos:
        raise NeedMore
    for _ in range(4):  # reference id, start, span, records
        _, pos = _varint(buf, pos, long=False)
    _, pos = _varint(buf, pos, long=major >= 3)  # record counter
    _, pos = _varint(buf, pos, long=major >= 3)  # bases
    _, pos = _varint(buf, pos, long=False)  # blocks
    landmarks, pos = _varint(buf, pos, long=False)
    for _ in range(landmarks):
        _, pos = _varint(buf, pos, long=False)
    pos += 4 if major >= 3 else 0  # CRC32
    if pos + 2 > len(buf):
        raise NeedMore
    method = buf[pos]
    pos += 2  # method, content type
    _, pos = _varint(buf, pos, long=False)  # content id
    size, pos = _varint(buf, pos, long=False)
    _, pos = _varint(buf, pos, long=False)  # raw size
    if pos + size > len(buf):
        raise NeedMore
    raw = _inflate(method, buf[pos : pos + size])
    if len(raw) < 4:
        raise InvalidRequestError("the CRAM header block is too short")
    length = struct.unpack_from("<i", raw)[0]
    text = raw[4 : 4 + length].decode("utf-8", "replace")
    names = [m.group(1) for m in re.finditer(r"^@SQ\t(?:.*\t)?SN:([^\t\n]+)", text, re.MULTILINE)]
    return major, names


def parse_crai(raw: bytes) -> list[CraiEntry]:
    """Parse a CRAI (gzipped text, six columns per slice).

    Raises:
        InvalidRequestError: not a CRAI.
    """
    try:
        text = gzip.decompress(raw).decode("ascii") if raw[:2] == b"\x1f\x8b" else raw.decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error):
        raise InvalidRequestError("the index is not a CRAI") from None
    out = []
    for line in text.splitlines():
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) < 6:
            raise InvalidRequestError("the index is not a CRAI (expected six columns)")
        try:
            out.append(CraiEntry(int(fields[0]), int(fields[1]), int(fields[2]), int(fields[3])))
        except ValueError:
            raise InvalidRequestError("the index is not a CRAI (non-numeric column)") from None
    return out


def eof_length(major: int, tail: bytes) -> int:
    """How many bytes at the end of the file are its EOF container (0 if it has none)."""
    eof = EOF_V3 if major >= 3 else EOF_V2
    return len(eof) if tail.endswith(eof) else 0
