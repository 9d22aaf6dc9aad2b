"""Hashing a downloaded file (or a range of it) from disk, part by part, against the server's MD5s."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from score.client.transfer.progress import Progress
from score.wire.client_models import ObjectSpecification, Part

READ_CHUNK = 4 * 1024 * 1024


def read_buffer(parts: list[Part]) -> memoryview:
    """A read buffer for hashing *parts* from disk: ``READ_CHUNK``, or less for small parts (a batch of
    small files would otherwise allocate and clear 4 MiB per file).
    """
    return memoryview(bytearray(min(READ_CHUNK, max((p.partSize for p in parts), default=1))))


def difference(
    fd: int, spec: ObjectSpecification, parts: list[Part], wants: dict[int, str], progress: Progress
) -> str | None:
    """How the file *fd* (the object, or the range *parts* cover) differs from the server's MD5s: the
    object's, else *wants* by part number; None when it does not.
    """
    buf = read_buffer(parts)
    start = parts[0].offset if parts else 0
    whole = hashlib.md5()  # noqa: S324 - the wire checksum
    for p in parts:
        md5 = whole if spec.objectMd5 else hashlib.md5()  # noqa: S324
        hash_range(fd, p.offset - start, p.partSize, md5, buf)
        progress.add(p.partSize)
        if not spec.objectMd5 and md5.hexdigest() != wants[p.partNumber]:
            return (
                f"its bytes {p.offset}-{p.offset + p.partSize - 1} have MD5 {md5.hexdigest()}, not the "
                f"{wants[p.partNumber]}"
            )
    if spec.objectMd5 and whole.hexdigest() != spec.objectMd5.lower():
        return f"its MD5 {whole.hexdigest()} is not the {spec.objectMd5.lower()}"
    return None


def hash_range(fd: int, pos: int, length: int, digest: Any, buf: memoryview) -> int:
    """Feed ``length`` bytes of *fd* from *pos* into *digest* through *buf*; return the bytes not found."""
    while length > 0:
        n = os.preadv(fd, [buf[: min(len(buf), length)]], pos)
        if n <= 0:
            break
        digest.update(buf[:n])
        pos += n
        length -= n
    return length
