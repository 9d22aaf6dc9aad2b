"""Tokens already verified, so that a client's next requests skip the signature check until expiry.

The cache is keyed by the SHA-256 digest of the token's exact text: a lookup is a dict lookup of
that digest (never a comparison of token strings, so no timing oracle on a token's prefix), and
neither the token nor its digest is ever logged. An entry lives until the token's ``exp`` and at
most :data:`MAX_AGE_S` (so a key withdrawn from a provider's JWKS stops being honoured soon after),
and the cache holds at most :data:`MAX_TOKENS` entries, the least recently used dropped first. It is
per process: nothing is shared between the server's workers or replicas.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from score.domain.model import Principal

MAX_TOKENS = 10_000
MAX_AGE_S = 300.0


def token_digest(token: str) -> bytes:
    """The cache key of *token*."""
    return hashlib.sha256(token.encode()).digest()


class VerifiedTokens:
    """A bounded LRU of verified tokens' principals, each valid until its deadline."""

    def __init__(
        self, limit: int = MAX_TOKENS, max_age: float = MAX_AGE_S, now: Callable[[], float] = time.time
    ) -> None:
        """Keep at most *limit* tokens, each at most *max_age* seconds; *now* is the wall clock (epoch seconds)."""
        self._items: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._limit = limit
        self._max_age = max_age
        self._now = now
        self._lock = threading.Lock()  # verification may run in worker threads (JWKS, introspection)

    def get(self, digest: bytes) -> Principal | None:
        """The principal of the token with *digest* while its entry is valid, else None."""
        with self._lock:
            hit = self._items.get(digest)
            if hit is None:
                return None
            if self._now() >= hit[0]:
                del self._items[digest]
                return None
            self._items.move_to_end(digest)
            return hit[1]

    def put(self, digest: bytes, principal: Principal) -> None:
        """Remember *principal* for the token with *digest* (not at all when it has no expiry)."""
        if principal.expires_at is None:
            return
        now = self._now()
        deadline = min(principal.expires_at.timestamp(), now + self._max_age)
        if deadline <= now:
            return
        with self._lock:
            self._items[digest] = (deadline, principal)
            self._items.move_to_end(digest)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
