"""Moving bytes over pre-signed URLs: part PUTs and ranged GETs. No token is ever sent here."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from score.attempts import Cancelled
from score.client.http.signed_urls import SignedUrlHttp, TlsTrust
from score.domain import errors as e
from score.domain.ranges import ByteRange

__all__ = ["Cancelled", "DataPlane", "pwrite_all"]


class DataPlane:
    """A pooled HTTP client for signed URLs, shared by all part workers."""

    def __init__(self, timeout: float = 60.0, ssl_context: TlsTrust | None = None) -> None:
        """Each worker thread keeps its own connections; *timeout* applies to connect and reads;
        *ssl_context* says which CAs to trust (or makes the context on first use).
        """
        self._http = SignedUrlHttp(timeout, ssl_context)

    def close(self) -> None:
        """Release connections."""
        self._http.close()

    def put_part(
        self, url: str, data: memoryview, md5_hex: str, cancel: threading.Event, *, etag_is_md5: bool = True
    ) -> str:
        """PUT one part with Content-MD5; return the store's ETag, checked to equal the MD5 when *etag_is_md5*.

        Under SSE-KMS the ETag is not an MD5; the store has checked Content-MD5 itself, and the
        server checks the ETag against the store's part list when the part is confirmed.

        Raises:
            IntegrityError: the store refused the bytes or returned another ETag.
            UrlExpiredError: the URL has expired.
            UpstreamUnavailableError: network failure (retryable).
        """
        etag = self._http.put(url, data, md5_hex, cancel)
        if etag_is_md5 and etag != md5_hex:
            raise e.IntegrityError(f"the store's ETag {etag!r} differs from the part's MD5 {md5_hex}")
        return etag

    def get_range(
        self,
        url: str,
        rng: ByteRange,
        sink: Callable[[memoryview, int], None],
        cancel: threading.Event,
        *,
        hash_bytes: bool = True,
    ) -> str:
        """GET a range through :meth:`SignedUrlHttp.get` (its docstring has the contract)."""
        return self._http.get(url, rng, sink, cancel, hash_bytes=hash_bytes)


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of *data* at *offset* (``os.pwrite`` may write less)."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n
