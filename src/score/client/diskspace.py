"""Free-space checks for downloads: what is still needed, against what the file system has free
minus what the downloads already in flight still need."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from score.client.progress import Progress, human
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


def check_free(where: Path, need: int, subject: str, *, others: int = 0,
               disk_usage: Callable[[Path], Any] | None = None) -> None:
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
