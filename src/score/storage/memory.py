"""In-process object store: the ObjectStore port over dictionaries, its signed URLs served by an httpx transport.

For tests (the fast tier) and experiments; nothing persists and nothing listens on a socket.

**URL scheme.** Signed URLs look like the local store's: ``http://memory.invalid/<key>?<query>``
(the base is a constructor argument), HMAC-signed by :class:`score.storage.urlsign.UrlSigner` over
the method, key, upload id, part number, offset, size, Content-MD5, range and expiry. ``.invalid``
never resolves, so a request that escapes the test fails loudly. The store's :attr:`transport` serves
them in process and is both a sync and an async httpx transport; route requests to it with
``httpx.Client(transport=store.transport)`` or ``mounts={store.base_url: store.transport}`` (next to
an ``httpx.ASGITransport`` for the app itself).

**What the data plane enforces**, as the local store and S3 do: the signature (a tampered URL,
another method or another key is a 403), expiry against the store's :class:`Clock` (403,
``url_expired``), the signed Content-MD5 header (403 when left out or changed), the bytes against it
(422, BadDigest), the signed part size (400) and a signed byte range (a different ``Range`` is a 403).
Errors are the server's JSON error body, so clients classify them as they do the local store's.

State (objects with their metadata, open uploads with their parts) lives under one lock, so
the store may be used from the app's event loop and from client threads at once.
:meth:`MemoryObjectStore.set_down` makes every port call fail as an unreachable store would.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

import httpx

from score.domain import errors as e
from score.domain.integrity import hex_to_b64, multipart_etag, normalize_md5
from score.domain.model import GetTarget, Listing, ObjectInfo, PendingUpload, StoredPart, UploadPartTarget
from score.domain.parts import PartLimits
from score.domain.ports import Clock, SystemClock
from score.domain.ranges import ByteRange, parse_header, parse_token
from score.storage.facts import StoreFacts
from score.storage.urlsign import UrlSigner

__all__ = ["DEFAULT_BASE_URL", "MemoryObjectStore", "MemoryTransport"]

DEFAULT_BASE_URL = "http://memory.invalid"

# The data plane answers as an object store would; the server's own table is server/errors.py.
_STATUS: list[tuple[type[e.ScoreError], int]] = [
    (e.RangeNotSatisfiableError, 416),
    (e.InvalidRequestError, 400),
    (e.SignatureError, 403),
    (e.NotFoundError, 404),
    (e.IntegrityError, 422),
    (e.UpstreamUnavailableError, 503),
]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - ETag semantics


@dataclass
class _Object:
    data: bytes
    etag: str
    md5: str | None
    modified: datetime


@dataclass
class _Part:
    etag: str
    offset: int
    data: bytes


@dataclass
class _Upload:
    key: str
    created: datetime
    md5: str | None
    parts: dict[int, _Part] = field(default_factory=dict)


class MemoryObjectStore(StoreFacts):
    """An ObjectStore whose objects and uploads live in this process (see the module docstring)."""

    def __init__(
        self,
        *,
        limits: PartLimits | None = None,
        clock: Clock | None = None,
        base_url: str = DEFAULT_BASE_URL,
        secret: bytes | None = None,
    ) -> None:
        """A store with part *limits*, checking URL expiry against *clock*, signing URLs under *base_url*."""
        # Parts and ETags follow S3's rules; part ETags are the parts' MD5s.
        self._set_facts("s3", limits or PartLimits(), etags_are_md5=True)
        self._clock = clock or SystemClock()
        self._base = base_url.rstrip("/")
        self._signer = UrlSigner(secret or secrets.token_bytes(32))
        self._lock = threading.Lock()
        self._objects: dict[str, _Object] = {}
        self._uploads: dict[str, _Upload] = {}
        self._down = False
        self.transport = MemoryTransport(self)

    @property
    def base_url(self) -> str:
        """Where the signed URLs point (served only by :attr:`transport`)."""
        return self._base

    # ---- test controls ---------------------------------------------------------------
    def set_down(self, down: bool = True) -> None:
        """Make every port call fail with StorageUnavailable (and :meth:`healthy` false) until called with False."""
        self._down = down

    def _up(self) -> None:
        if self._down:
            raise e.UpstreamUnavailableError("the in-memory store is down (set_down)")

    # ---- multipart ---------------------------------------------------------------------
    async def create_multipart(self, key: str, md5: str | None = None) -> str:
        """Start an upload; *md5* (hex), when known, goes on the object at completion."""
        self._up()
        upload_id = secrets.token_urlsafe(24)
        with self._lock:
            self._uploads[upload_id] = _Upload(key, self._clock.now(), normalize_md5(md5) if md5 else None)
        return upload_id

    def sign_upload_part(self, target: UploadPartTarget, md5_hex: str | None, expires_at: datetime) -> str:
        """Sign a part PUT; the URL fixes the part's offset, size and (when given) Content-MD5."""
        params = {
            "uploadId": target.upload_id,
            "partNumber": str(target.number),
            "offset": str(target.offset),
            "size": str(target.size),
            "contentMd5": hex_to_b64(md5_hex) if md5_hex else "",
        }
        return self._url("PUT", target.key, params, expires_at)

    def _url(self, method: str, key: str, params: dict[str, str], expires_at: datetime) -> str:
        query = self._signer.sign(method, key, params, expires_at)
        return f"{self._base}/{quote(key)}?{urlencode(query)}"

    def _upload(self, upload_id: str, key: str | None = None) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or (key is not None and upload.key != key):
            raise e.NotFoundError("no such multipart upload")
        return upload

    async def list_parts(self, key: str, upload_id: str, number: int | None = None) -> list[StoredPart]:
        """The parts received so far (only part *number* when given)."""
        self._up()
        with self._lock:
            held = self._upload(upload_id, key).parts
            return [
                StoredPart(n, p.etag, len(p.data)) for n, p in sorted(held.items()) if number is None or n == number
            ]

    async def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]], md5: str | None) -> None:
        """Assemble the object from the named parts, which must follow one another.

        Raises:
            NotFoundError: no such upload (completed or aborted already).
            IntegrityError: a part is missing, has another ETag, or leaves a gap.
        """
        self._up()
        with self._lock:
            upload = self._upload(upload_id, key)
            chunks: list[bytes] = []
            etags: list[str] = []
            offset = 0
            for number, etag in sorted(parts):
                part = upload.parts.get(number)
                if part is None or part.etag != etag:
                    raise e.IntegrityError(f"part {number} is missing or has another ETag in the store")
                if part.offset != offset:
                    raise e.IntegrityError(f"part {number} does not follow the previous part")
                chunks.append(part.data)
                etags.append(etag)
                offset += len(part.data)
            recorded = normalize_md5(md5) if md5 else upload.md5
            self._objects[key] = _Object(b"".join(chunks), multipart_etag(etags), recorded, self._clock.now())
            del self._uploads[upload_id]

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts; an absent upload is fine."""
        self._up()
        with self._lock:
            self._uploads.pop(upload_id, None)

    async def pending_uploads(self) -> list[PendingUpload]:
        """Every open upload, oldest first."""
        self._up()
        with self._lock:
            out = [PendingUpload(u.key, uid, u.created) for uid, u in self._uploads.items()]
        return sorted(out, key=lambda u: u.initiated)

    # ---- objects ---------------------------------------------------------------------------
    def sign_get(self, target: GetTarget, expires_at: datetime) -> str:
        """Sign a GET, bound to a range when one is given."""
        rng = target.byte_range
        return self._url("GET", target.key, {"range": rng.token() if rng and rng.length else ""}, expires_at)

    async def head(self, key: str) -> ObjectInfo | None:
        """Size, ETag and recorded MD5 of an object, or None."""
        self._up()
        with self._lock:
            obj = self._objects.get(key)
        if obj is None:
            return None
        return ObjectInfo(key=key, size=len(obj.data), last_modified=obj.modified, etag=obj.etag, md5=obj.md5)

    async def read_range(self, target: GetTarget) -> bytes:
        """An object's range (the whole object without one).

        Raises:
            NotFoundError: no such object.
        """
        self._up()
        with self._lock:
            obj = self._objects.get(target.key)
        if obj is None:
            raise e.NotFoundError(f"object {target.key} not found")
        rng = target.byte_range
        return obj.data if rng is None else obj.data[rng.start : rng.end]

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object."""
        self._up()
        with self._lock:
            self._objects[key] = _Object(bytes(data), _md5(data), None, self._clock.now())

    async def get_bytes(self, key: str) -> bytes | None:
        """A small object's bytes, or None."""
        self._up()
        with self._lock:
            obj = self._objects.get(key)
        return None if obj is None else obj.data

    async def delete(self, key: str) -> None:
        """Delete an object; an absent one is fine."""
        self._up()
        with self._lock:
            self._objects.pop(key, None)

    async def list(self, prefix: str, delimiter: str | None = None) -> Listing:
        """Keys under *prefix*, sorted; with a delimiter, one level plus the common prefixes below it."""
        self._up()
        with self._lock:
            names = sorted(k for k in self._objects if k.startswith(prefix))
        if not delimiter:
            return Listing(names, [])
        keys: list[str] = []
        prefixes: set[str] = set()
        for name in names:
            rest = name[len(prefix) :]
            cut = rest.find(delimiter)
            if cut < 0:
                keys.append(name)
            else:
                prefixes.add(prefix + rest[: cut + len(delimiter)])
        return Listing(keys, sorted(prefixes))

    async def healthy(self) -> bool:
        """True unless :meth:`set_down` says otherwise."""
        return not self._down

    # ---- data plane ----------------------------------------------------------------------
    def serve(self, method: str, url: httpx.URL, headers: httpx.Headers, body: bytes) -> httpx.Response:
        """Answer one request on a signed URL as an object store would (errors as the server's JSON body)."""
        try:
            return self._serve(method, url, headers, body)
        except e.ScoreError as exc:
            status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)
            payload = {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
            return httpx.Response(status, json=payload)

    def _serve(self, method: str, url: httpx.URL, headers: httpx.Headers, body: bytes) -> httpx.Response:
        base_path = urlsplit(self._base).path.rstrip("/")
        path = url.path
        if not path.startswith(base_path + "/"):
            raise e.NotFoundError("not a URL of this store")
        key = path[len(base_path) + 1 :]
        query = dict(url.params)
        if method not in ("GET", "HEAD", "PUT"):
            return httpx.Response(405, headers={"Allow": "GET, HEAD, PUT"})
        if method == "HEAD":  # a GET URL admits HEAD too, as the local store's does
            self._signer.verify_head(key, query, self._clock.now())
        else:
            self._signer.verify(method, key, query, self._clock.now())
        if method == "PUT":
            etag = self._receive_part(key, query, headers.get("content-md5"), body)
            return httpx.Response(200, headers={"ETag": f'"{etag}"'})
        return self._send_object(method, key, query, headers.get("range"))

    def _receive_part(self, key: str, query: dict[str, str], content_md5: str | None, body: bytes) -> str:
        signed_md5 = query.get("contentMd5")
        if signed_md5 and content_md5 != signed_md5:
            raise e.SignatureError("the request's Content-MD5 header is not the one the URL was signed for")
        size = int(query.get("size", "0"))
        if len(body) != size:
            raise e.InvalidRequestError(f"the body has {len(body)} bytes; the signed part size is {size}")
        etag = _md5(body)
        for expected in (signed_md5, content_md5):
            if expected and normalize_md5(expected) != etag:
                raise e.IntegrityError("BadDigest: the part's Content-MD5 does not match the bytes received")
        with self._lock:
            upload = self._uploads.get(query.get("uploadId", ""))
            if upload is None:
                raise e.NotFoundError("no such multipart upload (it was completed or cancelled)")
            if upload.key != key:
                raise e.SignatureError("the URL does not belong to this upload")
            upload.parts[int(query.get("partNumber", "0"))] = _Part(etag, int(query.get("offset", "0")), body)
        return etag

    def _send_object(self, method: str, key: str, query: dict[str, str], range_header: str | None) -> httpx.Response:
        with self._lock:
            obj = self._objects.get(key)
        if obj is None:
            raise e.NotFoundError("no such object")
        size = len(obj.data)
        signed = query.get("range")
        partial = True
        if signed:
            rng = parse_token(signed)
            if range_header and range_header.strip() != rng.header():
                raise e.SignatureError("the Range header differs from the range this URL was signed for")
            if rng.end > size:
                raise e.RangeNotSatisfiableError("the signed range is outside the object")
        elif range_header:
            rng = parse_header(range_header, size)
        else:
            rng, partial = ByteRange(0, size), False
        out = {"Accept-Ranges": "bytes", "Content-Length": str(rng.length), "ETag": f'"{obj.etag}"'}
        if partial:
            out["Content-Range"] = f"bytes {rng.start}-{max(rng.end - 1, rng.start)}/{size}"
        content = b"" if method == "HEAD" else obj.data[rng.start : rng.end]
        return httpx.Response(206 if partial else 200, headers=out, content=content)

    def __repr__(self) -> str:
        """Counts only: never the signing secret."""
        return f"MemoryObjectStore(objects={len(self._objects)}, uploads={len(self._uploads)})"


class MemoryTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serves a :class:`MemoryObjectStore`'s signed URLs to sync and async httpx clients, in process."""

    def __init__(self, store: MemoryObjectStore) -> None:
        """Serve *store*."""
        self._store = store

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a sync client's request."""
        body = request.read()
        return self._store.serve(request.method, request.url, request.headers, body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer an async client's request."""
        body = await request.aread()
        return self._store.serve(request.method, request.url, request.headers, body)
