"""Write a small file atomically: a reader (or a crash) finds the old content or the new, never a mix.

The one routine behind every state file the project writes in place: the client's download journal
and token cache, the FUSE metadata cache, the local store's records and small objects, the
embedded issuer's key. It lives in ``domain/`` not because it is domain logic but because
``domain/`` is the one package that the client, the adapters (storage, auth, registry) and the
server may all import (``.importlinter``); it needs only the standard library.

The steps: write a temporary file in the target's directory (a rename is atomic only within one
file system), fsync it, ``os.replace`` it over the target (or, with ``replace=False``, link it
there only if nothing is there yet), then fsync the directory so the rename itself survives a
crash. On any failure the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

TMP_PREFIX = ".score-tmp-"  # directory listings (the local store's) skip names that start with it


def fsync_dir(path: Path) -> None:
    """Flush the entries of directory *path* to disk (after a rename, link or unlink in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o666, replace: bool = True, make_parents: bool = False
) -> bool:
    """Put *data* at *path* atomically and durably.

    Args:
        path: the file to write.
        data: its whole new content.
        mode: permission bits of a new file (the umask applies, as for ``open``); 0o600 for secrets.
        replace: replace an existing file (the default); if False, the first writer wins and an
            existing file is left untouched (for a key two processes may create at once).
        make_parents: create the missing parent directories first.

    Returns:
        True when *path* now holds *data*; False only with ``replace=False`` when *path* already existed.

    Raises:
        OSError: the file could not be written (a full disk, permissions); *path* is unchanged.
    """
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            written = True
        else:
            try:
                os.link(tmp, path)
                written = True
            except FileExistsError:
                written = False
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
    return written
