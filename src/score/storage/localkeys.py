"""Keys to paths in the local store without resolving every path, and its per-object metadata cache.

A key that passed the textual checks (no empty, ``.`` or ``..`` segments, not absolute) can leave the
store's directory only through a symlink. :class:`KeyDirs` resolves each directory a key lives in once
per process and remembers the directories found inside the store (the server creates them itself, as
plain directories); :func:`final_inside` checks a key's last segment on every call with one ``lstat``,
and resolves it only when it is a symlink. So a request costs one system call here instead of a
``realpath`` of the whole path.

:class:`ObjmetaCache` keeps an object's small metadata record (ETag, MD5) keyed by the identity of both
files (inode, modification time and size of the object's bytes and of the record): a completed upload
or an overwrite writes a new inode, so a changed object can never be answered from the cache.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from pathlib import Path

MAX_DIRS = 4096
MAX_RECORDS = 4096

Identity = tuple[int, int, int, int, int, int]


class KeyDirs:
    """Directories known to lie inside the store (bounded; forgotten when directories are removed)."""

    def __init__(self, limit: int = MAX_DIRS) -> None:
        """Remember at most *limit* directories."""
        self._known: set[str] = set()
        self._limit = limit

    def inside(self, directory: Path, root: Path) -> bool:
        """True when *directory* (resolved, symlinks followed) lies below the resolved *root*."""
        name = str(directory)
        if name in self._known:
            return True
        if not directory.resolve().is_relative_to(root):
            return False
        if directory.is_dir():  # a directory not there yet is checked again once it exists
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known.add(name)
        return True

    def forget(self) -> None:
        """Drop what is known (after directories were removed: a path may later name something else)."""
        self._known.clear()


def final_inside(path: Path, root: Path) -> bool:
    """True unless *path* is a symlink leading out of the resolved *root* (a missing path is inside)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    return not stat.S_ISLNK(st.st_mode) or path.resolve().is_relative_to(root)


def identity(data: os.stat_result, record: os.stat_result) -> Identity:
    """What changes whenever either the object's bytes or its record are written again."""
    return (data.st_ino, data.st_mtime_ns, data.st_size, record.st_ino, record.st_mtime_ns, record.st_size)


class ObjmetaCache:
    """A bounded LRU of metadata records by key and :func:`identity` (one per process, immutable data only)."""

    def __init__(self, limit: int = MAX_RECORDS) -> None:
        """Keep at most *limit* records."""
        self._items: OrderedDict[str, tuple[Identity, dict[str, str]]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()  # the store's blocking calls run in worker threads

    def get(self, key: str, ident: Identity) -> dict[str, str] | None:
        """The record cached for *key* at *ident* (a copy), or None."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] != ident:
                return None
            self._items.move_to_end(key)
        return dict(hit[1])

    def put(self, key: str, ident: Identity, record: dict[str, str]) -> None:
        """Remember *record* for *key* at *ident*."""
        with self._lock:
            self._items[key] = (ident, dict(record))
            self._items.move_to_end(key)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
