"""Replays of what Score's Java client sends, read from its sources (overture-stack/score), for the tests.

* :class:`JavaUpload` - score-client's upload (``S3UploadService``, ``ParallelPartObjectTransport``,
  ``ScoreStorageService``): a new upload asks for the status first and, on 404, initiates with
  ``overwrite=true``; every part is PUT to the URL of the spec, with no Content-MD5, and confirmed with
  ``md5`` and ``etag`` only when they are equal; finalize sends only the upload id. A resume reads the
  status: a part with an ``md5`` is done, and when its local bytes do not match its ``sourceMd5`` the part
  is deleted (``DELETE /upload/{id}/parts``) and sent again with the URL the status gave it.
* :class:`HtsjdkStream` - htsjdk's ``SeekableHTTPStream``, which score-client's ``view`` reads through:
  a HEAD first whose ``Content-Length`` is taken as the length whatever the status, then one GET per read
  with ``Range: bytes=<pos>-<min(pos + len - 1, length)>`` (sic: the end may be one past the last byte), and a
  416 read as the end of the file.
* :func:`java_retries` - the statuses score-client's ``ServiceRetryableResponseErrorHandler`` retries.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
import httpx

# ServiceRetryableResponseErrorHandler: 400 and 404 are NotRetryable, 401, 403 and 500 NotResumable;
# any other status is a RetryableException, retried by the RetryTemplate (storage.retryNumber times).
JAVA_FINAL_STATUSES = frozenset({400, 401, 403, 404, 500})


def java_retries(status: int) -> bool:
    """True when score-client would retry a call that answered *status*."""
    return status >= 400 and status not in JAVA_FINAL_STATUSES


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class JavaUpload:
    """score-client's upload of *data* as object *object_id*, call by call (``calls`` records them)."""

    http: httpx.Client  # the API: its base URL and the bearer token (serviceTemplate)
    object_id: str
    data: bytes
    store: httpx.Client | None = None  # the signed URLs, without the token (dataTemplate); default: http
    upload_id: str | None = None  # the client's upload state file (UploadStateStore)
    calls: list[str] = field(default_factory=list)  # "METHOD what status", what relative to /upload/{id}

    def _call(self, method: str, path: str, **params: Any) -> httpx.Response:
        r = self.http.request(method, path, params=params)
        what = path.removeprefix(f"/upload/{self.object_id}") or "/"
        self.calls.append(f"{method} {what} {r.status_code}")
        return r

    def status(self) -> httpx.Response:
        """``getProgress``: ``GET /upload/{id}/status?fileSize=``."""
        return self._call("GET", f"/upload/{self.object_id}/status", fileSize=len(self.data))

    def initiate(self) -> dict[str, Any]:
        """``initiateUpload``: always with ``overwrite=true`` (``resumeIfPossible`` and ``upload(redo)`` alike)."""
        r = self._call(
            "POST",
            f"/upload/{self.object_id}/uploads",
            fileSize=len(self.data),
            overwrite="true",
            md5=_md5(self.data),
        )
        assert r.status_code == 200, r.text
        spec: dict[str, Any] = r.json()
        self.upload_id = spec["uploadId"]
        return spec

    def send_part(self, part: dict[str, Any], body: bytes | None = None) -> None:
        """``uploadPart``: PUT the part's bytes to its URL (no Content-MD5), then ``finalizeUploadPart``."""
        url = part.get("url")
        assert url, f"no URL for part {part['partNumber']}: the Java client would fail (new URI(null))"
        chunk = body if body is not None else self.data[part["offset"] : part["offset"] + part["partSize"]]
        put = (self.store or self.http).put(url, content=chunk)
        self.calls.append(f"PUT part{part['partNumber']} {put.status_code}")
        assert put.status_code == 200, put.text
        etag = put.headers["ETag"].strip('"')
        md5 = _md5(chunk)
        assert md5 == etag, f"the Java client re-sends a part whose ETag is not its MD5 ({etag} != {md5})"
        params = {"uploadId": self.upload_id, "partNumber": part["partNumber"], "md5": md5, "etag": etag}
        confirmed = self._call("POST", f"/upload/{self.object_id}/parts", **params)
        assert confirmed.status_code == 200, confirmed.text

    def delete_part(self, part: dict[str, Any]) -> None:
        """``deleteUploadPart``, from ``isCorrupted``."""
        r = self._call(
            "DELETE", f"/upload/{self.object_id}/parts", uploadId=self.upload_id, partNumber=part["partNumber"]
        )
        assert r.status_code == 200, r.text

    def resume(self) -> httpx.Response:
        """``resumeIfPossible`` with the checksum pass (the first attempt of a run), then finalize."""
        r = self.status()
        assert r.status_code == 200, r.text
        progress = r.json()
        assert progress["uploadId"] == self.upload_id  # checkProgress: the local state's upload id
        for part in progress["parts"]:
            local = self.data[part["offset"] : part["offset"] + part["partSize"]]
            if part.get("md5") is not None:  # Part.isCompleted()
                if part.get("sourceMd5") is not None and part["sourceMd5"] == _md5(local):
                    continue
                self.delete_part(part)  # isCorrupted: delete, then send again with the same URL
            self.send_part(part)
        return self.finalize()

    def finalize(self) -> httpx.Response:
        """``finalizeUpload``: ``POST /upload/{id}?uploadId=`` and nothing else."""
        return self._call("POST", f"/upload/{self.object_id}", uploadId=self.upload_id)


@dataclass
class HtsjdkStream:
    """htsjdk's ``SeekableHTTPStream`` over one URL (``length`` from the HEAD, whatever it answered)."""

    http: httpx.Client
    url: str
    length: int = -1
    position: int = 0
    head_status: int = 0

    def __post_init__(self) -> None:
        head = self.http.head(self.url)  # HttpUtils.getHeaderField(url, "Content-Length")
        self.head_status = head.status_code
        value = head.headers.get("Content-Length")
        if value is not None:
            self.length = int(value)

    def seek(self, position: int) -> None:
        """Move the read position."""
        self.position = position

    def eof(self) -> bool:
        """``position >= contentLength``."""
        return self.position >= self.length

    def read(self, size: int) -> bytes:
        """One ranged GET of up to *size* bytes from the position; b"" at the end (a 416)."""
        end = self.position + size - 1
        if self.length > 0:
            end = min(end, self.length)  # htsjdk's bound: one byte past the end at the last read
        r = self.http.get(self.url, headers={"Range": f"bytes={self.position}-{end}"})
        if r.status_code == 416:
            return b""
        assert r.status_code in (200, 206), r.text
        got = r.content[:size]
        self.position += len(got)
        return got

    def read_all(self, block: int) -> bytes:
        """Read from the start to the end in *block*-sized reads, as a BAM reader's buffer does."""
        self.seek(0)
        out = bytearray()
        while not self.eof():
            chunk = self.read(block)
            if not chunk:
                break
            out += chunk
        return bytes(out)


@contextlib.contextmanager
def sync_client(app: Any, token: str | None) -> Iterator[httpx.Client]:
    """A synchronous httpx client into an in-process app (``tests.kit.inprocess.App``): API and store URLs."""
    with anyio.from_thread.start_blocking_portal() as portal:
        inner = app.async_client(token)

        def handle(request: httpx.Request) -> httpx.Response:
            async def send() -> httpx.Response:
                r = await inner.request(request.method, request.url, headers=request.headers, content=request.read())
                await r.aread()
                return r

            r = portal.call(send)
            return httpx.Response(r.status_code, headers=r.headers, content=r.content)

        client = httpx.Client(base_url=str(inner.base_url), transport=httpx.MockTransport(handle))
        try:
            yield client
        finally:
            client.close()
            portal.call(inner.aclose)
