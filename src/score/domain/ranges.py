"""Byte ranges: validation against an object size and HTTP ``Range`` header text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from score.domain.errors import InvalidRequestError, RangeNotSatisfiableError


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive-exclusive byte range ``[start, start + length)``."""

    start: int
    length: int

    @property
    def end(self) -> int:
        """Offset one past the last byte."""
        return self.start + self.length

    def header(self) -> str:
        """Render as an HTTP Range header value (``bytes=a-b``, inclusive end)."""
        return f"bytes={self.start}-{self.end - 1}"

    def token(self) -> str:
        """Render as the compact ``a-b`` form used in signed URLs (inclusive end)."""
        return f"{self.start}-{self.end - 1}"


def resolve_range(offset: int, length: int, size: int) -> ByteRange:
    """Turn Score's ``offset``/``length`` (``-1`` = to the end) into a range within *size*.

    Raises:
        InvalidRequestError: for a negative offset or a length below -1.
        RangeNotSatisfiableError: when the range reaches past the object's end.
    """
    if offset < 0:
        raise InvalidRequestError("offset must not be negative")
    if length < -1:
        raise InvalidRequestError("length must be -1 (to the end) or a non-negative number")
    if offset > size or (offset == size and size > 0 and length != 0):
        raise RangeNotSatisfiableError(f"offset {offset} is beyond the object's size {size}")
    if length == -1:
        length = size - offset
    if offset + length > size:
        raise RangeNotSatisfiableError(f"range offset={offset} length={length} reaches past the object's size {size}")
    return ByteRange(offset, length)


def parse_token(token: str) -> ByteRange:
    """Parse the ``a-b`` form (inclusive end) produced by :meth:`ByteRange.token`.

    Raises:
        InvalidRequestError: when *token* is malformed.
    """
    m = re.fullmatch(r"(\d+)-(\d+)", token)
    if not m or int(m.group(2)) < int(m.group(1)):
        raise InvalidRequestError("malformed range")
    start = int(m.group(1))
    return ByteRange(start, int(m.group(2)) - start + 1)


def parse_header(value: str, size: int) -> ByteRange:
    """Parse a single-range ``Range`` header against an object of *size* bytes.

    Supports ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``.

    Raises:
        RangeNotSatisfiableError: when the header is malformed or outside the object.
    """
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        raise RangeNotSatisfiableError(f"unsupported Range header {value[:60]!r}")
    if m.group(1) == "":
        n = min(int(m.group(2)), size)
        return ByteRange(size - n, n)
    start = int(m.group(1))
    end = int(m.group(2)) + 1 if m.group(2) else size
    end = min(end, size)
    if start >= size or end <= start:
        raise RangeNotSatisfiableError(f"Range {value[:60]!r} is outside an object of {size} bytes")
    return ByteRange(start, end - start)
