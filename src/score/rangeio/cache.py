"""A bounded block cache over a :class:`RangeFetcher`, with sequential read-ahead.

Objects are cut into fixed blocks (256 KiB by default), the unit of caching, each in its own buffer. A read waits only for
the blocks it covers and fetches the missing ones itself, in the caller's thread, as one ranged
GET; so a random 4 KiB read costs one small request. When a :class:`Stream` (one open file) reads
sequentially, the blocks ahead of it are fetched in the background, in GETs of up to *run_blocks*
blocks, over a window that doubles with each sequential read up to *read_ahead* bytes. Readers of
the same block share one fetch. The least recently used blocks go once *capacity* bytes are held.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from score.domain import errors as e

MIB = 1024 * 1024
Fetch = Callable[[str, int, list[memoryview]], None]
"""``fetch(object_id, start, buffers)``: fill the buffers with the object's bytes from *start* on."""
_Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """Sizes of the cache and of the read-ahead."""

    block_size: int = 256 * 1024
    capacity: int = 256 * MIB
    read_ahead: int = 32 * MIB
    run_blocks: int = 32  # blocks per read-ahead GET: 8 MiB
    workers: int = 8
    wait_seconds: float = 120.0  # a read never waits longer than this for another reader's fetch

    def __post_init__(self) -> None:
        if self.block_size <= 0 or self.run_blocks <= 0 or self.workers <= 0:
            raise e.ConfigError("block size, run length and workers must be positive")
        if self.capacity < self.block_size * self.run_blocks:
            raise e.ConfigError(f"the cache must hold at least {self.block_size * self.run_blocks // MIB} MiB")


class Stream:
    """Read-ahead state of one open file: where its sequential run began, how far it has read, and up
    to which block read-ahead has been asked for.

    The window is twice what the run has read so far (at least two blocks, at most *read_ahead*),
    as the kernel's own read-ahead grows: a few KiB read at a BAM offset fetch two blocks ahead,
    a long scan keeps *read_ahead* bytes in flight.
    """

    def __init__(self) -> None:
        """A fresh file: its first read at offset 0 counts as the start of a sequential scan."""
        self._lock = threading.Lock()
        self._start = 0
        self._next = 0
        self._frontier = -1

    def advise(self, offset: int, end: int, config: CacheConfig, last_block: int) -> tuple[int, int] | None:
        """Record a read of ``[offset, end)``; return the blocks to fetch ahead now (first, last), if any.

        Read-ahead is asked for in whole runs, so each GET is long, except at the object's end.
        """
        bs = config.block_size
        with self._lock:
            last = (end - 1) // bs
            if abs(offset - self._next) > 2 * bs:  # a seek: a new run starts, nothing is read ahead
                self._start, self._next, self._frontier = offset, end, last
                return None
            self._next = max(self._next, end)
            window = min(max(2, -(-2 * (self._next - self._start) // bs)), max(1, config.read_ahead // bs))
            first = max(last + 1, self._frontier + 1)
            target = min(last + window, last_block)
            if first > target or (target - first + 1 < min(config.run_blocks, window) and target < last_block):
                return None
            self._frontier = target
            return first, target


@dataclass
class CacheStats:
    """Counters for the shutdown summary and the benchmark."""

    hits: int = 0
    misses: int = 0
    prefetched: int = 0
    evicted: int = 0


class BlockCache:
    """Shared by every open file of a mount; thread-safe."""

    def __init__(self, fetch: Fetch, config: CacheConfig | None = None) -> None:
        """Fetch missing bytes with ``fetch(object_id, start, buffers)``."""
        self._fetch = fetch
        self.config = config or CacheConfig()
        self._blocks: OrderedDict[_Key, memoryview] = OrderedDict()
        self._held = 0
        self._inflight: dict[_Key, Future[memoryview]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.config.workers, "score-readahead")
        self._closed = False
        self.stats = CacheStats()

    def close(self) -> None:
        """Stop read-ahead (queued fetches are dropped) and free the blocks."""
        with self._lock:
            self._closed = True
            self._blocks.clear()
            self._held = 0
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def held_bytes(self) -> int:
        """Bytes of blocks in the cache now."""
        return self._held

    def read(self, object_id: str, object_size: int, offset: int, size: int, stream: Stream | None = None) -> bytes:
        """Bytes ``[offset, offset + size)`` of the object (fewer at its end, none past it).

        Raises:
            ScoreError: the fetch of a covered block failed (the next read tries again).
        """
        end = min(offset + size, object_size)
        if offset >= end:
            return b""
        bs = self.config.block_size
        first, last = offset // bs, (end - 1) // bs
        waits, mine = self._claim(object_id, object_size, first, last, demand=True)
        if stream is not None:
            ahead = stream.advise(offset, end, self.config, (object_size - 1) // bs)
            if ahead is not None:
                _, queued = self._claim(object_id, object_size, *ahead, demand=False)
                for run in queued:
                    self._submit(object_id, object_size, run)
        for run in mine:
            self._run(object_id, object_size, run)
        parts = []
        for index, future in waits:
            block = future.result(timeout=self.config.wait_seconds)
            lo = max(offset - index * bs, 0)
            hi = min(end - index * bs, len(block))
            parts.append(block[lo:hi])
        return parts[0].tobytes() if len(parts) == 1 else b"".join(parts)

    def _claim(
        self, object_id: str, object_size: int, first: int, last: int, *, demand: bool
    ) -> tuple[list[tuple[int, Future[memoryview]]], list[dict[int, Future[memoryview]]]]:
        """Futures for blocks *first..last*; the missing ones are claimed in runs the caller must fetch."""
        waits: list[tuple[int, Future[memoryview]]] = []
        runs: list[dict[int, Future[memoryview]]] = []
        current: dict[int, Future[memoryview]] = {}
        with self._lock:
            if self._closed:
                raise e.UpstreamUnavailableError("the mount is shutting down")
            for index in range(first, last + 1):
                key = (object_id, index)
                block = self._blocks.get(key)
                future = self._inflight.get(key)
                if block is not None or future is not None:
                    if current:
                        runs.append(current)
                        current = {}
                    if demand:
                        if block is not None:
                            self._blocks.move_to_end(key)
                            self.stats.hits += 1
                            done: Future[memoryview] = Future()
                            done.set_result(block)
                            future = done
                        waits.append((index, future))  # type: ignore[arg-type]
                    continue
                future = Future()
                self._inflight[key] = future
                current[index] = future
                if demand:
                    self.stats.misses += 1
                    waits.append((index, future))
                else:
                    self.stats.prefetched += 1
                if len(current) >= self.config.run_blocks:
                    runs.append(current)
                    current = {}
            if current:
                runs.append(current)
        return waits, runs

    def _submit(self, object_id: str, object_size: int, run: dict[int, Future[memoryview]]) -> None:
        try:
            self._pool.submit(self._run, object_id, object_size, run)
        except RuntimeError:  # shut down meanwhile
            self._fail(object_id, run, e.UpstreamUnavailableError("the mount is shutting down"))

    def _run(self, object_id: str, object_size: int, run: dict[int, Future[memoryview]]) -> None:
        """Fetch a run of consecutive blocks with one GET and publish them."""
        bs = self.config.block_size
        first, last = min(run), max(run)
        blocks = {i: memoryview(bytearray(min((i + 1) * bs, object_size) - i * bs)) for i in range(first, last + 1)}
        try:
            self._fetch(object_id, first * bs, list(blocks.values()))
        except BaseException as exc:  # every waiter must hear of it, whatever it is
            self._fail(object_id, run, exc)
            return
        with self._lock:
            for index, block in blocks.items():
                key = (object_id, index)
                self._inflight.pop(key, None)
                if not self._closed:
                    self._blocks[key] = block
                    self._held += len(block)
            while self._held > self.config.capacity and self._blocks:
                _, old = self._blocks.popitem(last=False)
                self._held -= len(old)
                self.stats.evicted += 1
        for index, future in run.items():
            future.set_result(blocks[index])

    def _fail(self, object_id: str, run: dict[int, Future[memoryview]], exc: BaseException) -> None:
        with self._lock:
            for index in run:
                self._inflight.pop((object_id, index), None)
        for future in run.values():
            future.set_exception(exc)
