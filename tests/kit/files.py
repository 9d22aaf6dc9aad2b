"""Random test files and their MD5s, shared by the e2e tests and the benchmarks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MIB = 1024 * 1024


def random_file(path: Path, size: int) -> Path:
    """Write *size* random bytes (incompressible, as sequencing data nearly is)."""
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 16 * MIB)
            fh.write(os.urandom(n))
            left -= n
    return path


def md5_of(path: Path) -> str:
    """MD5 of a file."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * MIB):
            h.update(chunk)
    return h.hexdigest()


def md5_hex(data: bytes) -> str:
    """MD5 of bytes in memory."""
    return hashlib.md5(data).hexdigest()
