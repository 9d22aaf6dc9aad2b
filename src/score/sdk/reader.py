"""Read objects in place: seekable, read-only binary files over pre-signed ranged GETs.

What ``score-client mount`` reads through, without FUSE: one :class:`~score.rangeio.cache.BlockCache` (blocks,
read-ahead for sequential readers, shared fetches) over a :class:`~score.rangeio.fetcher.RangeFetcher` (bounded
retries) and :class:`~score.rangeio.urls.RenewingUrls` (a URL renewed before it expires, and at once when the
store says it has). Every file a :class:`Reader` opens shares its cache and connections.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass

from score.client.http.server_api import ServerApi
from score.client.http.url_expiry import url_expiry
from score.client.transfer.data_plane import DataPlane
from score.domain import errors as e
from score.rangeio.cache import BlockCache, CacheConfig, Stream
from score.rangeio.fetcher import RangeFetcher
from score.rangeio.urls import RenewingUrls, SignedUrl

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ObjectStat:
    """What the server says of an object: its id, size and MD5 (None when the server does not know it)."""

    object_id: str
    size: int
    md5: str | None


class ObjectFile(io.RawIOBase):
    """One object as a read-only, seekable raw binary file (wrap it in ``io.BufferedReader`` for small reads)."""

    def __init__(self, stat: ObjectStat, cache: BlockCache, on_close: Callable[[], None] | None = None) -> None:
        """Read *stat*'s object through *cache*; *on_close* runs once when the file is closed."""
        super().__init__()
        self.stat = stat
        self.name = stat.object_id
        self._cache = cache
        self._stream = Stream()
        self._pos = 0
        self._on_close = on_close

    def readable(self) -> bool:
        """True."""
        return True

    def seekable(self) -> bool:
        """True: any offset, as often as wanted (each read is a ranged GET of the blocks it lacks)."""
        return True

    def writable(self) -> bool:
        """False: objects are immutable."""
        return False

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill *buffer* from the current position; 0 at the end of the object.

        Raises:
            ScoreError: the bytes could not be fetched (bounded retries; the next read tries again).
        """
        if self.closed:
            raise ValueError("I/O operation on closed file")
        view = memoryview(buffer).cast("B")
        data = self._cache.read(self.stat.object_id, self.stat.size, self._pos, len(view), self._stream)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to *offset* from the start, the current position or the end; the new position."""
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.stat.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def tell(self) -> int:
        """The current position."""
        return self._pos

    def close(self) -> None:
        """Close the file (its reader's cache stays for the other files)."""
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()


class Reader:
    """Opens objects of one server for reading; thread-safe; :meth:`close` stops every fetch."""

    def __init__(
        self,
        api: ServerApi,
        data: DataPlane,
        *,
        cache_bytes: int = 256 * MIB,
        read_ahead_bytes: int = 32 * MIB,
        workers: int = 8,
        attempts: int = 4,
    ) -> None:
        """Ask *api* for URLs and sizes, fetch through *data* (each range *attempts* times at most); a shared
        cache of *cache_bytes* (``score-client mount`` reads through one too).
        """
        self._api = api
        self.urls = RenewingUrls(self._source)
        self._sizes: dict[str, ObjectStat] = {}
        self._lock = threading.Lock()
        self.fetcher = RangeFetcher(self.urls, data.get_range, attempts=attempts)
        config = CacheConfig(capacity=cache_bytes, read_ahead=read_ahead_bytes, workers=workers)
        self.cache = BlockCache(self.fetcher.fetch, config)

    def _source(self, object_id: str) -> SignedUrl:
        url, expires, size = self._api.whole_object(object_id)
        with self._lock:
            known = self._sizes.get(object_id)
            if known is None or known.size != size:
                self._sizes[object_id] = ObjectStat(object_id, size, known.md5 if known else None)
        return SignedUrl(url, expires or url_expiry(url))

    def stat(self, object_id: str) -> ObjectStat:
        """The object's size and MD5, asked of the server (one whole-object spec, ``external=true``).

        Raises:
            ScoreError: not found, not allowed, not published, or the server unreachable.
        """
        spec = self._api.download_spec(object_id, external=True)
        found = ObjectStat(object_id, spec.objectSize, spec.objectMd5 or None)
        with self._lock:
            self._sizes[object_id] = found
        url = spec.parts[0].url if spec.parts else None
        if url:  # the first read need not ask again
            self.urls.offer(object_id, SignedUrl(url, spec.urlsExpireAt or url_expiry(url)))
        return found

    def open(self, object_id: str, buffering: int = 1 * MIB) -> io.BufferedReader:
        """The object as a seekable read-only binary file (buffered by *buffering* bytes).

        Raises:
            ScoreError: as :meth:`stat`.
        """
        stat = self.stat(object_id)
        raw = ObjectFile(stat, self.cache)
        return io.BufferedReader(raw, buffer_size=max(buffering, io.DEFAULT_BUFFER_SIZE))

    def read_range(self, object_id: str, start: int, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the object (to its end when *end* is None; negative offsets count from it).

        Raises:
            ScoreError: as :meth:`stat`.
        """
        with self._lock:
            stat = self._sizes.get(object_id)
        if stat is None:
            stat = self.stat(object_id)
        size = stat.size
        first = max(size + start, 0) if start < 0 else min(start, size)
        last = size if end is None else (max(size + end, 0) if end < 0 else min(end, size))
        if last <= first:
            return b""
        return self.cache.read(object_id, size, first, last - first)

    def close(self) -> None:
        """Stop fetching and free the cache (open files fail their next read)."""
        self.fetcher.cancel.set()
        self.cache.close()


def not_writable(what: str) -> e.InvalidRequestError:
    """The error for a write to a read-only Score file system or file."""
    return e.InvalidRequestError(f"{what}: Score objects are read-only here (upload with score-client upload)")
