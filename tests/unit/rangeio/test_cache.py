"""The mount's read path without FUSE: block cache, read-ahead, URL renewal, fetch retries.

The fetch function here serves slices of an in-memory object and counts requests; the real HTTP
path is covered by tests/e2e/test_mount.py.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from score.domain import errors as e
from score.domain.ranges import ByteRange
from score.rangeio.cache import BlockCache, CacheConfig, Stream
from score.rangeio.fetcher import EXPIRED_IN_A_ROW, RangeFetcher
from score.rangeio.urls import RenewingUrls, SignedUrl

KIB = 1024
BLOCK = 64 * KIB


class Source:
    """An object in memory behind a fetch function that records each request."""

    def __init__(self, size: int, seed: int = 1) -> None:
        self.data = random.Random(seed).randbytes(size)
        self.requests: list[tuple[int, int]] = []
        self.fail_next = 0
        self.gate: threading.Event | None = None
        self.hold: set[tuple[str, int]] = set()  # fetches that wait for the gate (all when empty)
        self._lock = threading.Lock()

    def fetch(self, object_id: str, start: int, buffers: list[memoryview]) -> None:
        length = sum(len(b) for b in buffers)
        if self.gate is not None and (not self.hold or (object_id, start) in self.hold):
            self.gate.wait(10)
        with self._lock:
            self.requests.append((start, length))
            if self.fail_next:
                self.fail_next -= 1
                raise e.UpstreamUnavailableError("store down")
        assert start >= 0 and start + length <= len(self.data)
        for b in buffers:
            b[:] = self.data[start : start + len(b)]
            start += len(b)


def _cache(src: Source, **kw: int) -> BlockCache:
    return BlockCache(
        src.fetch,
        CacheConfig(
            block_size=BLOCK,
            capacity=kw.get("capacity", 64 * BLOCK),
            read_ahead=kw.get("read_ahead", 16 * BLOCK),
            run_blocks=4,
            workers=kw.get("workers", 4),
        ),
    )


def test_random_reads_return_the_right_bytes_at_edges_and_past_the_end() -> None:
    size = 10 * BLOCK + 123
    src = Source(size)
    cache = _cache(src)
    rng = random.Random(7)
    cases = [(0, 1), (BLOCK - 1, 2), (BLOCK - 10, 3 * BLOCK), (size - 5, 100), (size, 10), (size + 99, 10), (0, size)]
    cases += [(rng.randrange(size), rng.randrange(1, 3 * BLOCK)) for _ in range(200)]
    for offset, length in cases:
        assert cache.read("obj", size, offset, length) == src.data[offset : offset + length], (offset, length)
    cache.close()


def test_a_random_read_fetches_only_its_blocks() -> None:
    src = Source(100 * BLOCK)
    cache = _cache(src)
    assert (
        cache.read("obj", 100 * BLOCK, 50 * BLOCK + 100, 4 * KIB, Stream()) == src.data[50 * BLOCK + 100 :][: 4 * KIB]
    )
    assert src.requests == [(50 * BLOCK, BLOCK)]
    cache.read("obj", 100 * BLOCK, 50 * BLOCK + 8000, 4 * KIB)  # same block: a hit
    assert len(src.requests) == 1 and cache.stats.hits == 1


def test_a_sequential_reader_is_served_by_long_read_ahead_requests() -> None:
    size = 200 * BLOCK + 7
    src = Source(size)
    cache = _cache(src)
    stream = Stream()
    got = bytearray()
    for offset in range(0, size, 16 * KIB):
        got += cache.read("obj", size, offset, 16 * KIB, stream)
    assert bytes(got) == src.data
    cache.close()
    assert sum(length for _, length in src.requests) == size  # every byte fetched once
    assert len(src.requests) < 200 / 3  # runs of several blocks, not one request per block
    assert cache.stats.prefetched > 150 and cache.stats.misses <= 2


def test_a_seek_stops_read_ahead() -> None:
    size = 100 * BLOCK
    src = Source(size)
    cache = _cache(src)
    stream = Stream()
    for offset in (0, 4 * KIB, 8 * KIB):
        cache.read("obj", size, offset, 4 * KIB, stream)
    cache.close()  # no more background fetches
    fetched_sequential = sum(length for _, length in src.requests)
    assert fetched_sequential <= 3 * BLOCK  # a short run reads ahead two blocks, not the whole window
    src2 = Source(size)
    cache2 = _cache(src2)
    stream2 = Stream()
    for offset in (10 * BLOCK, 60 * BLOCK, 30 * BLOCK, 90 * BLOCK):
        cache2.read("obj", size, offset, 4 * KIB, stream2)
    assert sorted(src2.requests) == [(10 * BLOCK, BLOCK), (30 * BLOCK, BLOCK), (60 * BLOCK, BLOCK), (90 * BLOCK, BLOCK)]


def test_the_cache_stays_within_its_capacity() -> None:
    size = 300 * BLOCK
    src = Source(size)
    cache = _cache(src, capacity=20 * BLOCK, read_ahead=8 * BLOCK)
    stream = Stream()
    peak = 0
    for offset in range(0, size, 32 * KIB):
        assert cache.read("obj", size, offset, 32 * KIB, stream) == src.data[offset : offset + 32 * KIB]
        peak = max(peak, cache.held_bytes)
    assert peak <= 20 * BLOCK and cache.stats.evicted > 0


def test_concurrent_readers_of_one_block_share_one_fetch() -> None:
    src = Source(10 * BLOCK)
    src.gate = threading.Event()
    cache = _cache(src)
    results: list[bytes] = []

    def reader() -> None:
        results.append(cache.read("obj", 10 * BLOCK, 5 * BLOCK + 10, 100))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    src.gate.set()
    for t in threads:
        t.join()
    assert results == [src.data[5 * BLOCK + 10 : 5 * BLOCK + 110]] * 8
    assert src.requests == [(5 * BLOCK, BLOCK)]


def test_a_failed_fetch_reaches_every_waiter_and_the_next_read_tries_again() -> None:
    src = Source(10 * BLOCK)
    cache = _cache(src)
    src.fail_next = 1
    with pytest.raises(e.UpstreamUnavailableError):
        cache.read("obj", 10 * BLOCK, 0, 10)
    assert cache.read("obj", 10 * BLOCK, 0, 10) == src.data[:10]
    cache.close()
    with pytest.raises(e.UpstreamUnavailableError, match="shutting down"):
        cache.read("obj", 10 * BLOCK, 3 * BLOCK, 10)


def test_a_reader_never_waits_behind_queued_read_ahead() -> None:
    src = Source(20 * BLOCK)
    src.gate = threading.Event()
    src.hold = {("one", BLOCK)}  # the read-ahead of "one" occupies the only read-ahead worker
    cache = _cache(src, workers=1)
    assert cache.read("one", 20 * BLOCK, 0, 4 * KIB, Stream()) == src.data[: 4 * KIB]
    assert cache.read("two", 20 * BLOCK, 0, 4 * KIB, Stream()) == src.data[: 4 * KIB]  # queues its read-ahead
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(cache.read("two", 20 * BLOCK, BLOCK + 10, 100)))
    reader.start()
    reader.join(5)
    assert got == [src.data[BLOCK + 10 : BLOCK + 110]]  # fetched on the demand pool, not behind "one"
    src.gate.set()
    cache.close()


def test_close_tells_every_waiting_reader() -> None:
    src = Source(20 * BLOCK)
    src.gate = threading.Event()
    cache = _cache(src)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            cache.read("obj", 20 * BLOCK, 0, 10)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    while not cache.stats.misses:
        threading.Event().wait(0.01)
    cache.close()
    t.join(5)
    assert not t.is_alive() and isinstance(errors[0], e.UpstreamUnavailableError)
    src.gate.set()


def test_no_read_ahead_when_it_is_off() -> None:
    src = Source(50 * BLOCK)
    cache = _cache(src, read_ahead=0)
    stream = Stream()
    for offset in range(0, 4 * BLOCK, 16 * KIB):
        cache.read("obj", 50 * BLOCK, offset, 16 * KIB, stream)
    assert cache.stats.prefetched == 0 and sum(n for _, n in src.requests) == 4 * BLOCK


def test_cache_settings_are_checked() -> None:
    with pytest.raises(e.ConfigError):
        CacheConfig(block_size=BLOCK, capacity=BLOCK, run_blocks=4)
    with pytest.raises(e.ConfigError):
        CacheConfig(block_size=0)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_urls_are_renewed_in_the_last_fifth_of_their_life() -> None:
    clock = Clock()
    issued: list[str] = []

    def source(object_id: str) -> SignedUrl:
        issued.append(f"{object_id}-{len(issued)}")
        return SignedUrl(issued[-1], clock.now + timedelta(minutes=15))

    urls = RenewingUrls(source, clock=clock)
    assert urls.get("a") == "a-0"
    clock.now += timedelta(minutes=11)
    assert urls.get("a") == "a-0"
    clock.now += timedelta(minutes=1, seconds=1)  # 12 min 1 s of 15: renewed
    assert urls.get("a") == "a-1"
    assert urls.get("b") == "b-2" and urls.issued == 3
    urls.expired("a", "a-0")  # an older URL: the current one stays
    assert urls.get("a") == "a-1"
    urls.expired("a", "a-1")
    assert urls.get("a") == "a-3"


def test_an_offered_url_is_used_until_its_last_stretch_and_never_replaces_a_held_one() -> None:
    clock = Clock()
    issued: list[str] = []

    def source(object_id: str) -> SignedUrl:
        issued.append(f"{object_id}-{len(issued)}")
        return SignedUrl(issued[-1], clock.now + timedelta(minutes=15))

    urls = RenewingUrls(source, clock=clock)
    urls.offer("a", SignedUrl("offered", clock.now + timedelta(minutes=15)))
    assert urls.get("a") == "offered" and urls.issued == 0  # no request
    urls.offer("a", SignedUrl("later", clock.now + timedelta(minutes=15)))
    assert urls.get("a") == "offered"  # the held one stays
    clock.now += timedelta(minutes=12, seconds=1)
    assert urls.get("a") == "a-0" and urls.issued == 1  # renewed from the source as any other


def test_short_lived_urls_are_used_for_half_their_life() -> None:
    clock = Clock()
    count = iter(range(100))

    def source(object_id: str) -> SignedUrl:
        return SignedUrl(f"u{next(count)}", clock.now + timedelta(seconds=4))

    urls = RenewingUrls(source, clock=clock, min_margin=timedelta(seconds=30))
    assert urls.get("a") == "u0"
    clock.now += timedelta(seconds=1)
    assert urls.get("a") == "u0"  # the 30 s margin would renew at once; half of 4 s is kept
    clock.now += timedelta(seconds=1, milliseconds=1)
    assert urls.get("a") == "u1"


def test_a_clock_ahead_of_the_server_does_not_renew_on_every_read() -> None:
    clock = Clock()
    count = iter(range(100))

    def source(object_id: str) -> SignedUrl:  # the server's clock is 20 min behind: URLs look expired
        return SignedUrl(f"u{next(count)}", (clock.now - timedelta(minutes=5)).replace(tzinfo=None))

    urls = RenewingUrls(source, clock=clock)
    assert [urls.get("a") for _ in range(50)] == ["u0"] * 50
    clock.now += timedelta(seconds=6)
    assert urls.get("a") == "u1"


def test_urls_without_an_expiry_are_kept_until_refused() -> None:
    urls = RenewingUrls(lambda oid: SignedUrl(oid, None))
    assert urls.get("x") == "x" and urls.get("x") == "x" and urls.issued == 1


def test_concurrent_first_reads_ask_the_server_once() -> None:
    gate = threading.Event()
    calls: list[str] = []

    def source(object_id: str) -> SignedUrl:
        gate.wait(5)
        calls.append(object_id)
        return SignedUrl("u", None)

    urls = RenewingUrls(source)
    threads = [threading.Thread(target=urls.get, args=("a",)) for _ in range(6)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert calls == ["a"]


class Store:
    """A ranged GET that fails as told, then serves."""

    def __init__(self, failures: list[e.ScoreError]) -> None:
        self.failures = failures
        self.urls: list[str] = []

    def __call__(
        self, url: str, rng: ByteRange, sink: object, cancel: threading.Event, *, hash_bytes: bool = True
    ) -> str:
        self.urls.append(url)
        if self.failures:
            raise self.failures.pop(0)
        sink(memoryview(b"x" * rng.length), 0)  # type: ignore[operator]
        return ""


def _fetcher(store: Store | None = None) -> tuple[RangeFetcher, list[str]]:
    issued: list[str] = []

    def source(object_id: str) -> SignedUrl:
        issued.append(f"url{len(issued)}")
        return SignedUrl(issued[-1], None)

    return RangeFetcher(RenewingUrls(source), store or Store([]), attempts=3, sleep=lambda s: None), issued


def test_fetch_retries_what_is_retryable_and_renews_expired_urls() -> None:
    store = Store([e.UpstreamUnavailableError("blip"), e.UrlExpiredError("expired"), e.UpstreamUnavailableError("x")])
    fetcher, issued = _fetcher(store)
    out = [memoryview(bytearray(2)), memoryview(bytearray(3))]
    fetcher.fetch("a", 10, out)
    assert [bytes(b) for b in out] == [b"xx", b"xxx"]
    assert store.urls == ["url0", "url0", "url1", "url1"] and issued == ["url0", "url1"]
    assert fetcher.retries == 2 and fetcher.requests == 1 and fetcher.bytes == 5


@pytest.mark.parametrize(
    "failures",
    [
        [e.UpstreamUnavailableError("down")] * 3,  # attempts spent
        [e.ForbiddenError("no scope")],  # not retryable: at once
        [e.UrlExpiredError("expired")] * EXPIRED_IN_A_ROW,  # clock skew: bounded too
    ],
)
def test_fetch_gives_up_within_bounds(failures: list[e.ScoreError]) -> None:
    store = Store(list(failures))
    fetcher, _ = _fetcher(store)
    with pytest.raises(type(failures[0])):
        fetcher.fetch("a", 0, [memoryview(bytearray(1))])
    assert len(store.urls) == len(failures)


def test_fetch_stops_when_cancelled() -> None:
    fetcher, _ = _fetcher(Store([]))
    fetcher.cancel.set()
    with pytest.raises(e.UpstreamUnavailableError, match="shutting down"):
        fetcher.fetch("a", 0, [memoryview(bytearray(1))])


def test_fetch_spreads_chunks_over_the_block_buffers() -> None:
    data = bytes(range(256)) * 40

    def store(url: str, rng: ByteRange, sink: object, cancel: threading.Event, *, hash_bytes: bool = True) -> str:
        body = data[rng.start : rng.end]
        for i in range(0, len(body), 777):  # chunks that straddle the buffers
            sink(memoryview(body[i : i + 777]), i)  # type: ignore[operator]
        return ""

    fetcher = RangeFetcher(RenewingUrls(lambda oid: SignedUrl("u", None)), store)
    sizes = [1000, 1, 4096, 3000]
    out = [memoryview(bytearray(n)) for n in sizes]
    fetcher.fetch("a", 100, out)
    assert b"".join(bytes(b) for b in out) == data[100 : 100 + sum(sizes)]


def test_a_failed_url_renewal_is_retried_like_a_failed_get() -> None:
    answers: list[e.ScoreError | None] = [e.UpstreamUnavailableError("server restarting"), None]

    def source(object_id: str) -> SignedUrl:
        failure = answers.pop(0)
        if failure is not None:
            raise failure
        return SignedUrl("u", None)

    fetcher = RangeFetcher(RenewingUrls(source), Store([]), attempts=3, sleep=lambda s: None)
    out = [memoryview(bytearray(3))]
    fetcher.fetch("a", 0, out)
    assert bytes(out[0]) == b"xxx" and fetcher.retries == 1
