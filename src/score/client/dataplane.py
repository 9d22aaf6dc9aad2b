"""Moving bytes over pre-signed URLs: part PUTs and ranged GETs. No token is ever sent here."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator

import httpx

from score.client.api import error_from_response, transport_error
from score.domain import errors as e
from score.domain.integrity import hex_to_b64, normalize_etag
from score.domain.ranges import ByteRange

SEND_CHUNK = 1024 * 1024
WRITE_CHUNK = 4 * 1024 * 1024
_S3_EXPIRED = re.compile(rb"Request has expired|<Code>ExpiredToken</Code>|AuthenticationFailed.*expired", re.S)


class Cancelled(Exception):
    """The transfer was cancelled (Ctrl-C or another part failed fatally)."""


def store_error(response: httpx.Response) -> e.ScoreError:
    """Classify an object store's refusal (our JSON, or S3/Azure XML)."""
    response.read()
    if response.status_code == 403 and _S3_EXPIRED.search(response.content):
        return e.UrlExpiredError("the pre-signed URL has expired")
    if response.status_code == 400 and b"BadDigest" in response.content:
        return e.IntegrityError("the store refused the part: its Content-MD5 does not match")
    err = error_from_response(response)
    if isinstance(err, e.InvalidRequestError) and not isinstance(err, e.RangeNotSatisfiableError):
        err.retryable = True  # e.g. S3 RequestTimeout / a truncated body
    return err


class DataPlane:
    """A pooled HTTP client for signed URLs, shared by all part workers."""

    def __init__(self, connections: int, timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        """Allow up to *connections* concurrent requests."""
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._http = httpx.Client(timeout=timeout, limits=limits, transport=transport)

    def close(self) -> None:
        """Release connections."""
        self._http.close()

    def put_part(self, url: str, data: memoryview, md5_hex: str, cancel: threading.Event) -> str:
        """PUT one part with Content-MD5; return the store's ETag after checking it equals the MD5.

        Raises:
            IntegrityError: the store refused the bytes or returned another ETag.
            UrlExpiredError: the URL has expired.
            UpstreamUnavailableError: network failure (retryable).
        """

        def body() -> Iterator[bytes]:
            for i in range(0, len(data), SEND_CHUNK):
                if cancel.is_set():
                    raise Cancelled
                yield bytes(data[i : i + SEND_CHUNK])

        headers = {"Content-Length": str(len(data)), "Content-MD5": hex_to_b64(md5_hex)}
        try:
            response = self._http.put(url, content=body(), headers=headers)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "part upload failed") from exc
        if response.status_code >= 400:
            raise store_error(response)
        etag = normalize_etag(response.headers.get("etag", ""))
        if etag != md5_hex:
            raise e.IntegrityError(f"the store's ETag {etag!r} differs from the part's MD5 {md5_hex}")
        return etag

    def get_range(
        self,
        url: str,
        rng: ByteRange,
        sink: Callable[[bytes, int], None],
        cancel: threading.Event,
    ) -> str:
        """GET a range, handing each chunk to ``sink(chunk, offset_within_range)``; return its MD5.

        Raises:
            IntegrityError: the store sent more or fewer bytes than asked for.
            UrlExpiredError / SignatureError: the URL was refused.
            UpstreamUnavailableError: network failure (retryable).
        """
        md5 = hashlib.md5()  # noqa: S324
        got = 0
        buf = bytearray()
        headers = {"Range": rng.header()} if rng.length else {}
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code >= 400:
                    raise store_error(response)
                for chunk in response.iter_raw():
                    if cancel.is_set():
                        raise Cancelled
                    md5.update(chunk)
                    buf += chunk
                    if len(buf) >= WRITE_CHUNK:
                        sink(bytes(buf), got)
                        got += len(buf)
                        buf.clear()
                        if got > rng.length:
                            break
                if buf:
                    sink(bytes(buf), got)
                    got += len(buf)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "part download failed") from exc
        if got != rng.length:
            raise e.IntegrityError(f"the store sent {got} bytes for a {rng.length}-byte range", retryable=True)
        return md5.hexdigest()


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of *data* at *offset* (``os.pwrite`` may write less)."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n
