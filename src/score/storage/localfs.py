"""File-system helpers of the local store: secrets, locks, kernel copies, full disks.

Atomic writes are :func:`score.domain.atomic_file.write_atomic`, shared with the client and the other adapters.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from score.domain.atomic_file import write_atomic
from score.domain.errors import DiskSpaceError, IntegrityError, InvalidRequestError, NotFoundError

COPY_BUFFER_BYTES = 8 * 1024 * 1024


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def disk_errors(what: str) -> Iterator[None]:
    """Turn a full disk (or quota) into a DiskSpaceError that says what could not be written.

    Raises:
        DiskSpaceError: the data directory's file system is full.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise DiskSpaceError(
                f"the server's store is out of disk space ({what}); nothing was kept: "
                "try again once the operator has freed space"
            ) from exc
        raise


def load_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """Read a secret from *path*, creating it (mode 0600) on first use; when two processes start at once,
    the first one's secret wins and both read it.

    Raises:
        InvalidRequestError: the file holds fewer than 16 bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        write_atomic(path, secrets.token_bytes(nbytes), mode=0o600, replace=False)
    data = path.read_bytes()
    if len(data) < 16:
        raise InvalidRequestError(f"secret file {path} is too short")
    return data


def open_part_file(tmp: Path) -> int:
    """Create the file a part's body is received into.

    Raises:
        NotFoundError: the upload is gone.
        DiskSpaceError: no room for even the file.
    """
    try:
        with disk_errors("receiving a part"):
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise NotFoundError("no such multipart upload (it was completed or cancelled)") from exc


@contextlib.contextmanager
def part_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the lock file *path* (created if missing) for the block."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def copy_into(src: Path, dst: Path, offset: int, size: int) -> None:
    """Copy *size* bytes of *src* into *dst* at *offset*, in the kernel where it can."""
    with open(src, "rb") as fin, open(dst, "r+b") as fout:
        done = 0
        while done < size:
            try:
                n = os.copy_file_range(fin.fileno(), fout.fileno(), size - done, done, offset + done)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                n = os.pwrite(
                    fout.fileno(), os.pread(fin.fileno(), min(COPY_BUFFER_BYTES, size - done), done), offset + done
                )
            if n <= 0:
                raise IntegrityError(f"the received part ended after {done} of {size} bytes")
            done += n
