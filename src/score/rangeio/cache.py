"""A bounded block cache over a :class:`RangeFetcher`, with sequential read-ahead.

Objects are cut into fixed blocks (256 KiB by default), the unit of caching, each in its own buffer. A read waits only
for the blocks it covers and has the missing ones fetched at once as one ranged GET on a pool of its
own (never queued behind read-ahead); so a random 4 KiB read costs one small request. Fetches run
on threads this module owns: libfuse's threads lose Python's thread-local state between calls, so
per-thread connections would leak there. When a :class:`Stream` (one open file) reads
sequentially, the blocks ahead of it are fetched in the background, in GETs of up to *run_blocks*
blocks, over a window that doubles with each sequential read up to *read_ahead* bytes. Readers of
the same block share one fetch. The least recently used blocks go once *capacity* bytes are held.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
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
        if config.read_ahead <= 0:
            return None
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


class _Run:
    """Consecutive missing blocks fetched by one GET; started once, by whichever pool gets to it first."""

    __slots__ = ("futures", "object_id", "object_size", "started")

    def __init__(self, object_id: str, object_size: int) -> None:
        self.object_id = object_id
        self.object_size = object_size
        self.futures: dict[int, Future[memoryview]] = {}
        self.started = False


class BlockCache:
    """Shared by every open file of a mount; thread-safe."""

    def __init__(self, fetch: Fetch, config: CacheConfig | None = None) -> None:
        """Fetch missing bytes with ``fetch(object_id, start, buffers)``."""
        self._fetch = fetch
        self.config = config or CacheConfig()
        self._blocks: OrderedDict[_Key, memoryview] = OrderedDict()
        self._held = 0
        self._inflight: dict[_Key, _Run] = {}
        self._lock = threading.Lock()
        self._demand = ThreadPoolExecutor(self.config.workers, "score-fetch")
        self._ahead = ThreadPoolExecutor(self.config.workers, "score-readahead")
        self._closed = False
        self.stats = CacheStats()

    def close(self) -> None:
        """Stop fetching (queued fetches are dropped, their readers told) and free the blocks."""
        with self._lock:
            self._closed = True
            self._blocks.clear()
            self._held = 0
            waiting = [f for run in self._inflight.values() for f in run.futures.values()]
            self._inflight.clear()
        for pool in (self._demand, self._ahead):
            pool.shutdown(wait=False, cancel_futures=True)
        for future in waiting:
            _settle(future, error=e.UpstreamUnavailableError("the mount is shutting down"))

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
        waits, runs = self._claim(object_id, object_size, first, last, demand=True)
        for run in runs:  # new runs, and read-ahead runs this read needs that have not started yet
            self._submit(self._demand, run)
        if stream is not None:
            ahead = stream.advise(offset, end, self.config, (object_size - 1) // bs)
            if ahead is not None:
                try:
                    _, queued = self._claim(object_id, object_size, *ahead, demand=False)
                except e.ScoreError:
                    queued = []  # closed meanwhile: the waits below say so
                for run in queued:
                    self._submit(self._ahead, run)
        parts = []
        for index, future in waits:
            block = future.result(timeout=self.config.wait_seconds)
            lo = max(offset - index * bs, 0)
            hi = min(end - index * bs, len(block))
            parts.append(block[lo:hi])
        return parts[0].tobytes() if len(parts) == 1 else b"".join(parts)

    def _claim(
        self, object_id: str, object_size: int, first: int, last: int, *, demand: bool
    ) -> tuple[list[tuple[int, Future[memoryview]]], list[_Run]]:
        """Futures for blocks *first..last*, and the runs to submit: the missing blocks in new runs
        and, for a demand read, queued read-ahead runs it is waiting for (so it never waits in that queue).
        """
        waits: list[tuple[int, Future[memoryview]]] = []
        runs: list[_Run] = []
        current: _Run | None = None
        with self._lock:
            if self._closed:
                raise e.UpstreamUnavailableError("the mount is shutting down")
            for index in range(first, last + 1):
                key = (object_id, index)
                block = self._blocks.get(key)
                pending = self._inflight.get(key)
                if block is not None or pending is not None:
                    current = None
                    if not demand:
                        continue
                    if block is not None:
                        self._blocks.move_to_end(key)
                        self.stats.hits += 1
                        done: Future[memoryview] = Future()
                        done.set_result(block)
                        waits.append((index, done))
                    else:
                        assert pending is not None
                        waits.append((index, pending.futures[index]))
                        if not pending.started and pending not in runs:
                            runs.append(pending)
                    continue
                if current is None or len(current.futures) >= self.config.run_blocks:
                    current = _Run(object_id, object_size)
                    runs.append(current)
                future: Future[memoryview] = Future()
                current.futures[index] = future
                self._inflight[key] = current
                if demand:
                    self.stats.misses += 1
                    waits.append((index, future))
                else:
                    self.stats.prefetched += 1
        return waits, runs

    def _submit(self, pool: ThreadPoolExecutor, run: _Run) -> None:
        try:
            pool.submit(self._run, run)
        except RuntimeError:  # shut down meanwhile
            self._fail(run, e.UpstreamUnavailableError("the mount is shutting down"))

    def _run(self, run: _Run) -> None:
        """Fetch a run of consecutive blocks with one GET and publish them (once, whoever calls first)."""
        with self._lock:
            if run.started:
                return
            run.started = True
        bs = self.config.block_size
        first, last = min(run.futures), max(run.futures)
        try:
            blocks = {
                i: memoryview(bytearray(min((i + 1) * bs, run.object_size) - i * bs)) for i in range(first, last + 1)
            }
            self._fetch(run.object_id, first * bs, list(blocks.values()))
        except BaseException as exc:  # every waiter must hear of it, whatever it is  # noqa: BLE001  every waiter must hear of any failure
            self._fail(run, exc)
            return
        with self._lock:
            for index, block in blocks.items():
                key = (run.object_id, index)
                if self._inflight.get(key) is run:
                    del self._inflight[key]
                if not self._closed:
                    self._blocks[key] = block
                    self._held += len(block)
            while self._held > self.config.capacity and self._blocks:
                _, old = self._blocks.popitem(last=False)
                self._held -= len(old)
                self.stats.evicted += 1
        for index, future in run.futures.items():
            _settle(future, result=blocks[index])

    def _fail(self, run: _Run, exc: BaseException) -> None:
        with self._lock:
            for index in run.futures:
                key = (run.object_id, index)
                if self._inflight.get(key) is run:
                    del self._inflight[key]
        for future in run.futures.values():
            _settle(future, error=exc)


def _settle(future: Future[memoryview], result: memoryview | None = None, error: BaseException | None = None) -> None:
    """Resolve *future* unless :meth:`BlockCache.close` already has."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]
    except InvalidStateError:
        pass
