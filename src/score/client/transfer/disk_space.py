"""Free-space checks for downloads: what is still needed, against what the file system has free
minus what the downloads already in flight still need; and what a write that fails anyway means.

The check is made before a download starts; the disk can still fill up under it (another program,
another user), so a failed write is translated too (:func:`write_error`).
"""

from __future__ import annotations

import errno
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from score.client.transfer.progress import Progress, human
from score.domain import errors as e


def existing_ancestor(path: Path) -> Path:
    """*path*, or its nearest ancestor that exists (where its free space is measured)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def allocated(path: Path) -> int:
    """Bytes a (possibly sparse) partial file already occupies; 0 when it does not exist."""
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def check_free(
    where: Path, need: int, subject: str, *, others: int = 0, disk_usage: Callable[[Path], Any] | None = None
) -> None:
    """Raise unless the file system of *where* (or its nearest existing ancestor) has *need* bytes free
    beyond the *others* already promised.

    Raises:
        DiskSpaceError: naming *subject*, the amounts and the directory.
    """
    probe = existing_ancestor(where)
    free = int((disk_usage or shutil.disk_usage)(probe).free) - others
    if need > free:
        raise e.DiskSpaceError(
            f"{subject} needs {human(need)} more but {probe} has {human(max(free, 0))} free"
            + (" besides the downloads in flight" if others else "")
        )


def is_disk_full(exc: OSError) -> bool:
    """The write failed for want of space (or of quota)."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def write_error(exc: OSError, path: Path) -> e.ScoreError:
    """What a failed write of a download's *path* means to its user.

    Returns:
        DiskSpaceError for a full file system or an exhausted quota (not retryable: fetching the
        bytes again cannot help), else a plain error naming the file.
    """
    if exc.errno == errno.EDQUOT:
        return e.DiskSpaceError(
            f"the disk quota of the output directory is exhausted: writing {path} failed "
            f"({exc.strerror}); the parts written so far are kept"
        )
    if is_disk_full(exc):
        return e.DiskSpaceError(
            f"the output file system is full: writing {path} failed ({exc.strerror}); the parts written so far are kept"
        )
    return e.ScoreError(f"cannot write {path}: {exc.strerror or exc}")


@dataclass(eq=False)
class Claim:
    """Space one download still had to find when it started."""

    need: int
    progress: Progress | None = None

    def remaining(self) -> int:
        """What of the claim is not yet written."""
        written = self.progress.done - self.progress.baseline if self.progress else 0
        return max(self.need - written, 0)


@dataclass
class SpaceBook:
    """The claims of the downloads in flight; thread-safe."""

    disk_usage: Callable[[Path], Any] | None = None  # shutil.disk_usage
    _claims: set[Claim] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, target: Path, size: int, partial: Path) -> Claim:
        """Claim what *target* still needs (*size* less what *partial* holds).

        Raises:
            DiskSpaceError: the file system cannot hold it beside the other claims (nothing is claimed).
        """
        need = max(size - allocated(partial), 0)
        with self._lock:
            others = sum(c.remaining() for c in self._claims)
            check_free(target.parent, need, str(target), others=others, disk_usage=self.disk_usage)
            c = Claim(need)
            self._claims.add(c)
            return c

    def release(self, c: Claim) -> None:
        """The download is over (done or failed)."""
        with self._lock:
            self._claims.discard(c)
