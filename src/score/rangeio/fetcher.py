"""Fetch a byte range of an object into buffers: current URL, one ranged GET, bounded retries.

Every failure ends in a ``ScoreError`` within a bounded time (the GET's own timeout times the
attempts), so a reader is never left hanging on a dead store. Retries follow ``score.attempts``.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable
from typing import Protocol

from score.attempts import EXPIRED_IN_A_ROW, RetryPolicy, Sleep, attempt, url_refresh
from score.domain import errors as e
from score.domain.ranges import ByteRange
from score.rangeio.urls import RenewingUrls

__all__ = ["EXPIRED_IN_A_ROW", "RangeFetcher", "RangeGet"]  # EXPIRED_IN_A_ROW: expiries before a fetch gives up


class RangeGet(Protocol):
    """A ranged GET on a signed URL handing chunks to *sink* (the client's ``SignedUrlHttp.get``)."""

    def __call__(
        self,
        url: str,
        rng: ByteRange,
        sink: Callable[[memoryview, int], None],
        cancel: threading.Event,
        *,
        hash_bytes: bool = True,
    ) -> str:
        """GET *rng* of *url*; raise ``ScoreError`` on refusal or failure."""
        ...


class RangeFetcher:
    """``fetch(object_id, start, buffers)``, safe to call from many threads."""

    def __init__(
        self,
        urls: RenewingUrls,
        get: RangeGet,
        *,
        attempts: int = 4,
        backoff_seconds: float = 0.2,
        sleep: Sleep | None = None,
    ) -> None:
        """Retry retryable failures *attempts* times in all, backing off exponentially (with full jitter,
        capped at ``RetryPolicy.cap_seconds``) from *backoff_seconds*; *sleep* replaces the real clock (tests).
        """
        self._urls = urls
        self._get = get
        self._retry = RetryPolicy(attempts, backoff_seconds)
        self._sleep = sleep
        self.cancel = threading.Event()
        self.requests = 0
        self.bytes = 0
        self.retries = 0
        self._lock = threading.Lock()

    def fetch(self, object_id: str, start: int, buffers: list[memoryview]) -> None:
        """Fill *buffers*, one after the other, with the object's bytes from *start* on.

        Each cache block owns its buffer, so an evicted block frees its memory at once.

        Raises:
            ForbiddenError / UnauthenticatedError: the server no longer lets the token read it.
            NotFoundError: the object is gone.
            UrlExpiredError: fresh URLs keep arriving expired (clock skew).
            UpstreamUnavailableError / IntegrityError: the store kept failing.
        """
        ends = list(itertools.accumulate(len(b) for b in buffers))
        length = ends[-1] if ends else 0

        def sink(chunk: memoryview, offset: int) -> None:
            at = bisect.bisect_right(ends, offset)
            while chunk:
                base = ends[at] - len(buffers[at])
                n = min(len(chunk), ends[at] - offset)
                buffers[at][offset - base : offset - base + n] = chunk[:n]
                chunk, offset, at = chunk[n:], offset + n, at + 1

        url = ""

        def once() -> None:
            nonlocal url
            if self.cancel.is_set():
                raise e.UpstreamUnavailableError("the mount is shutting down", retryable=False)
            url = ""
            url = self._urls.get(object_id)  # a renewal can fail and be retried like a GET
            self._get(url, ByteRange(start, length), sink, self.cancel, hash_bytes=False)

        def give_up(exc: e.UrlExpiredError, _times: int) -> e.UrlExpiredError:
            self._urls.expired(object_id, url)  # forgotten all the same: the next read asks afresh
            return exc

        def counted(exc: e.ScoreError) -> None:
            if not isinstance(exc, e.UrlExpiredError):  # a renewed URL is not a retry of the store
                with self._lock:
                    self.retries += 1

        attempt(
            once,
            self._retry,
            sleep=self._sleep,
            expiry=url_refresh(lambda _exc: self._urls.expired(object_id, url), exhausted=give_up),
            on_retry=counted,
        )
        with self._lock:
            self.requests += 1
            self.bytes += length
