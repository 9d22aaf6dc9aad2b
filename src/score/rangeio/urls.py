"""One pre-signed URL per object, renewed before it expires (and at once when the store says it has)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class SignedUrl:
    """A URL and the moment it stops working (None when nobody says)."""

    url: str
    expires_at: datetime | None


MIN_LEASE = timedelta(seconds=5)  # how long a URL that already looks expired is used (clock skew)
UrlSource = Callable[[str], SignedUrl]
"""Asks the server for a fresh whole-object URL of an object id (may raise a ``ScoreError``)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Held:
    url: SignedUrl
    renew_at: datetime | None


class RenewingUrls:
    """Hands out each object's current URL; asks *source* again once a URL is in its last stretch.

    The stretch is a fifth of the URL's lifetime, at least *min_margin* but at most half the
    lifetime, so a 15-minute URL is replaced after 12 minutes and a read never starts on a URL
    about to lapse. Safe to share
    between threads: concurrent readers of one object wait for one renewal instead of each
    asking the server.
    """

    def __init__(
        self,
        source: UrlSource,
        *,
        clock: Callable[[], datetime] = _utcnow,
        min_margin: timedelta = timedelta(seconds=30),
    ) -> None:
        """Nothing is fetched until :meth:`get`."""
        self._source = source
        self._clock = clock
        self._min_margin = min_margin
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def _object_lock(self, object_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(object_id, threading.Lock())

    def get(self, object_id: str) -> str:
        """The object's URL, fetched or renewed first when needed.

        Raises:
            ScoreError: from the source (403 without the scope, 404 gone, 503...).
        """
        with self._object_lock(object_id):
            held = self._held.get(object_id)
            now = self._clock()
            if held is not None and (held.renew_at is None or now < held.renew_at):
                return held.url.url
            fresh = self._source(object_id)
            self.issued += 1
            self._hold(object_id, fresh, now)
            return fresh.url

    def offer(self, object_id: str, url: SignedUrl) -> None:
        """Keep *url*, which the caller got from the server anyway, unless one is held already (saves a request)."""
        with self._object_lock(object_id):
            if object_id not in self._held:
                self._hold(object_id, url, self._clock())

    def _hold(self, object_id: str, fresh: SignedUrl, now: datetime) -> None:
        """Hold *fresh* until the last stretch of its lifetime (caller holds the object's lock)."""
        renew_at = None
        expires = fresh.expires_at
        if expires is not None:
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            lifetime = expires - now
            if lifetime >= timedelta(seconds=1):
                renew_at = expires - min(max(self._min_margin, lifetime / 5), lifetime / 2)
            else:  # a clock ahead of the server's: renewing would not help; the store decides
                renew_at = now + MIN_LEASE
        self._held[object_id] = _Held(fresh, renew_at)

    def expired(self, object_id: str, url: str) -> None:
        """The store refused *url* as expired: forget it, unless another reader has renewed it already."""
        with self._object_lock(object_id):
            held = self._held.get(object_id)
            if held is not None and held.url.url == url:
                del self._held[object_id]
