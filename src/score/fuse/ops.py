"""The kernel's questions answered (mfusepy's high-level API): paths from the tree, bytes from the
block cache, errors as errno.

Every operation returns within bounded time: the tree is in memory, and reads end in data or in
an errno once the fetcher's bounded retries are spent (``EIO``), the server refuses (``EACCES``)
or the object has gone (``ENOENT``). The file system is read-only (``EROFS`` for any write).
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import stat
import threading
from typing import Any

import mfusepy

from score.domain import errors as e
from score.fuse.tree import DirNode, FileNode, Tree
from score.rangeio.cache import BlockCache, Stream
from score.rangeio.urls import RenewingUrls

log = logging.getLogger("score.mount")

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Objects do not change under a mount: the kernel may keep pages across opens, and names and
# attributes for an hour (as Score's mount).
KERNEL_OPTIONS: dict[str, str | bool] = {
    "kernel_cache": True,
    "entry_timeout": "3600",
    "attr_timeout": "3600",
    "negative_timeout": "3600",
}


def errno_for(exc: BaseException) -> int:
    """The errno a reader sees for a failure."""
    if isinstance(exc, e.NotFoundError):
        return errno.ENOENT
    if isinstance(exc, (e.ForbiddenError, e.UnauthenticatedError, e.ConflictError)) and not isinstance(
        exc, e.SignatureError
    ):
        return errno.EACCES  # no scope, or no longer published
    return errno.EIO


class ScoreOperations(mfusepy.Operations):  # type: ignore[misc]  # mfusepy is untyped
    """One instance per mount; called from libfuse's worker threads."""

    use_ns = True

    def __init__(self, tree: Tree, cache: BlockCache, urls: RenewingUrls) -> None:
        """Serve *tree*; read through *cache*; *urls* is checked on open (the server's verdict)."""
        self._tree = tree
        self._cache = cache
        self._urls = urls
        self._streams: dict[int, tuple[FileNode, Stream]] = {}
        self._handles = itertools.count(1)
        self._lock = threading.Lock()
        self._uid, self._gid = os.getuid(), os.getgid()
        self.bytes_read = 0
        self.opens = 0

    def _node(self, path: str) -> DirNode | FileNode:
        node = self._tree.lookup(path)
        if node is None:
            raise mfusepy.FuseOSError(errno.ENOENT)
        return node

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        """Directories ``r-x``, files ``r--``, owned by whoever mounted."""
        node = self._node(path)
        common = {
            "st_uid": self._uid,
            "st_gid": self._gid,
            "st_mtime": node.mtime_ns,
            "st_ctime": node.mtime_ns,
            "st_atime": node.mtime_ns,
        }
        if isinstance(node, DirNode):
            subdirs = sum(isinstance(c, DirNode) for c in node.children.values())
            return {**common, "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2 + subdirs, "st_size": 0}
        return {
            **common,
            "st_mode": stat.S_IFREG | 0o444,
            "st_nlink": 1,
            "st_size": node.size,
            "st_blocks": (node.size + 511) // 512,
            "st_blksize": self._cache.config.block_size,
        }

    def readdir(self, path: str, fh: int) -> list[str]:
        """``.``, ``..`` and the children."""
        node = self._node(path)
        if not isinstance(node, DirNode):
            raise mfusepy.FuseOSError(errno.ENOTDIR)
        return [".", "..", *node.children]

    def open(self, path: str, flags: int) -> int:
        """Read-only opens; the server is asked for the object's URL now, so a refusal shows at open."""
        node = self._node(path)
        if isinstance(node, DirNode):
            raise mfusepy.FuseOSError(errno.EISDIR)
        if flags & _WRITE_FLAGS:
            raise mfusepy.FuseOSError(errno.EROFS)
        if node.size:
            try:
                self._urls.get(node.object_id)
            except e.ScoreError as exc:
                log.warning("open %s (%s): %s", path, node.object_id, exc.message)
                raise mfusepy.FuseOSError(errno_for(exc)) from None
            except Exception as exc:  # a malformed answer: the opener gets EIO, never EINVAL and a traceback  # noqa: BLE001  a FUSE callback must turn any failure into an errno
                log.warning("open %s (%s): %s", path, node.object_id, type(exc).__name__)
                raise mfusepy.FuseOSError(errno.EIO) from None
        with self._lock:
            handle = next(self._handles)
            self._streams[handle] = (node, Stream())
            self.opens += 1
        return handle

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        """Bytes from the block cache (which fetches what it lacks)."""
        opened = self._streams.get(fh)
        if opened is None:
            raise mfusepy.FuseOSError(errno.EBADF)
        node, stream = opened
        try:
            data = self._cache.read(node.object_id, node.size, offset, size, stream)
        except e.ScoreError as exc:
            log.warning("read %s at %d (%s): %s", path, offset, node.object_id, exc.message)
            raise mfusepy.FuseOSError(errno_for(exc)) from None
        except Exception as exc:  # a timeout or a shut-down pool: the reader gets EIO, never a hang  # noqa: BLE001  a FUSE callback must turn any failure into an errno
            log.warning("read %s at %d (%s): %s", path, offset, node.object_id, type(exc).__name__)
            raise mfusepy.FuseOSError(errno.EIO) from None
        self.bytes_read += len(data)
        return data

    def release(self, path: str, fh: int) -> int:
        """Forget the handle's read-ahead state."""
        with self._lock:
            self._streams.pop(fh, None)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        """A read-only file system with as many files as objects and no free space."""
        return {
            "f_bsize": self._cache.config.block_size,
            "f_frsize": 512,
            "f_blocks": 0,
            "f_bfree": 0,
            "f_bavail": 0,
            "f_files": self._tree.files,
            "f_ffree": 0,
            "f_namemax": 255,
        }

    def destroy(self, path: str) -> None:
        """Unmounted: stop the read-ahead."""
        self._cache.close()
