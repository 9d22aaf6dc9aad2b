"""Google Cloud Storage through google-cloud-storage, with V4 signed URLs.

Mapping of the multipart port onto GCS (which has no multipart API that its emulators support):

- an upload is a record in :class:`score.storage.ledger.UploadLedger`;
- part *n* is its own object ``.score-multipart/<uploadId>/<nnnnn>``, PUT through a V4 URL whose
  signature covers ``Content-MD5``, so GCS refuses other bytes; its ``md5Hash`` is the part's
  ETag, which the server checks when a part is confirmed;
- completing composes the parts into the object (32 sources per compose, in a tree for more)
  and deletes them. A composed object has only a CRC32C, so the whole-object MD5 is kept in the
  ``md5chksum`` metadata (and in Score's ``.meta``);
- resuming lists the part objects.

The SDK is blocking: each call goes through :func:`score.storage.errors.run_blocking` (a worker thread,
and the GCS table of error codes). This module
imports google-cloud-storage's stack; only ``server.stores.gcs`` imports it, when the store is GCS.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from google.api_core.exceptions import NotFound

from score.domain.errors import IntegrityError, NotFoundError, ScoreError
from score.domain.integrity import hex_to_b64, normalize_md5
from score.domain.model import GetTarget, Listing, ObjectInfo, PendingUpload, StoredPart, UploadPartTarget
from score.domain.parts import PartLimits
from score.storage.errors import ABSENT, AlreadyExistsError, gcs_table, run_blocking
from score.storage.facts import StoreFacts
from score.storage.ledger import PREFIX, UploadLedger
from score.storage.stored_md5 import stored_md5

log = logging.getLogger("score.storage.gcs")
_ERRORS = gcs_table()
COMPOSE_MAX_SOURCES = 32  # GCS's limit per compose request
WORKERS = 16  # parallel deletes and composes


def part_key(upload_id: str, number: int) -> str:
    """The object that holds part *number* of an upload."""
    return f"{PREFIX}{upload_id}/{number:05d}"


def compose_plan(sources: list[str], upload_id: str) -> tuple[list[list[tuple[str, list[str]]]], list[str]]:
    """Reduce *sources* to at most 32 objects: ``(levels of compose steps, final sources)``.

    Each level's steps ``(destination, sources)`` are independent of one another; the
    intermediates are named under the upload, so aborting or completing deletes them too.
    """
    levels: list[list[tuple[str, list[str]]]] = []
    while len(sources) > COMPOSE_MAX_SOURCES:
        steps = [
            (f"{PREFIX}{upload_id}/c{len(levels)}-{i // COMPOSE_MAX_SOURCES:05d}", sources[i : i + COMPOSE_MAX_SOURCES])
            for i in range(0, len(sources), COMPOSE_MAX_SOURCES)
        ]
        levels.append(steps)
        sources = [dest for dest, _ in steps]
    return levels, sources


class GcsObjectStore(StoreFacts):
    """The :class:`score.domain.ports.ObjectStore` for Google Cloud Storage."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        sign: Callable[..., str],
        limits: PartLimits,
        *,
        md5_metadata_key: str = "md5chksum",
        timeout: float = 60.0,
    ) -> None:
        """Wrap a ``storage.Client``; *sign(blob, method, expires_at, headers)* makes a V4 URL."""
        self._client = client
        self._bucket_name = bucket
        self._bucket = client.bucket(bucket)
        self._sign = sign
        # GCS is reported as s3 (clients use ranged GETs on signed URLs); a single object's ETag is its MD5.
        self._set_facts("s3", limits, etags_are_md5=True)
        self._md5_key = md5_metadata_key.lower()
        self._timeout = timeout
        self._ledger = UploadLedger(self.put_bytes, self.get_bytes, self.delete, self.list)

    # ---- helpers -----------------------------------------------------------------------
    def _md5_of(self, blob: Any) -> str | None:
        """The object's own MD5 (single objects), else its ``md5chksum`` metadata (composites)."""
        return stored_md5(blob.md5_hash, blob.metadata, self._md5_key)

    def _parts(self, upload_id: str) -> list[StoredPart]:
        out = []
        for blob in self._client.list_blobs(self._bucket_name, prefix=f"{PREFIX}{upload_id}/", timeout=self._timeout):
            name = blob.name.rsplit("/", 1)[-1]
            if name.isdigit() and blob.md5_hash:
                out.append(StoredPart(int(name), normalize_md5(blob.md5_hash), int(blob.size)))
        return sorted(out, key=lambda p: p.number)

    def _delete_all(self, keys: list[str]) -> None:
        def drop(key: str) -> None:
            with contextlib.suppress(NotFound):  # already gone: this runs in the pool, below run_blocking
                self._bucket.blob(key).delete(timeout=self._timeout)

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(drop, keys))

    # ---- multipart ---------------------------------------------------------------------
    async def create_multipart(self, key: str, md5: str | None = None) -> str:
        """Record the upload; its parts are separate objects until completion."""
        return (await self._ledger.open(key, md5)).upload_id

    def sign_upload_part(self, target: UploadPartTarget, md5_hex: str | None, expires_at: datetime) -> str:
        """A V4 PUT URL for the part's object; with *md5_hex* the signature covers Content-MD5."""
        headers = {"Content-MD5": hex_to_b64(md5_hex)} if md5_hex else {}
        return self._sign(part_key(target.upload_id, target.number), "PUT", expires_at, headers)

    async def list_parts(self, key: str, upload_id: str, number: int | None = None) -> list[StoredPart]:
        """The part objects of the upload with their MD5s."""
        await self._ledger.find(key, upload_id)
        if number is None:
            return await run_blocking(_ERRORS, "listing parts", self._parts, upload_id)
        try:
            blob = await run_blocking(
                _ERRORS, "listing parts", self._bucket.get_blob, part_key(upload_id, number), timeout=self._timeout
            )
        except ABSENT:
            return []
        if blob is None or not blob.md5_hash:
            return []
        return [StoredPart(number, normalize_md5(blob.md5_hash), int(blob.size))]

    async def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]], md5: str | None) -> None:
        """Compose the confirmed parts into *key* with the MD5 as metadata, then delete the parts."""
        upload = await self._ledger.find(key, upload_id)
        held = {p.number: p.etag for p in await run_blocking(_ERRORS, "listing parts", self._parts, upload_id)}
        for number, etag in parts:
            if held.get(number) != etag:
                raise IntegrityError(f"the store holds part {number} with another MD5 or not at all; upload it again")
        whole = md5 or upload.md5
        sources = [part_key(upload_id, n) for n, _ in sorted(parts)]
        intermediates = await run_blocking(
            _ERRORS, "completing an upload", self._compose, key, upload_id, sources, whole
        )
        await self._ledger.close(upload_id)
        try:
            await run_blocking(_ERRORS, "removing parts", self._delete_all, sources + intermediates)
        except ScoreError:
            log.warning("an upload's part objects were not all deleted; they stay under %s%s/", PREFIX, upload_id)

    def _compose(self, key: str, upload_id: str, sources: list[str], md5: str | None) -> list[str]:
        """Compose *sources* into *key*; return the intermediate objects made on the way."""
        levels, top = compose_plan(sources, upload_id)

        def compose(step: tuple[str, list[str]]) -> None:
            dest, group = step
            self._bucket.blob(dest).compose([self._bucket.blob(s) for s in group], timeout=self._timeout)

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for steps in levels:
                list(pool.map(compose, steps))
        target = self._bucket.blob(key)
        target.content_type = "application/octet-stream"
        target.metadata = {self._md5_key: hex_to_b64(md5)} if md5 else None
        target.compose([self._bucket.blob(s) for s in top], timeout=self._timeout)
        return [dest for steps in levels for dest, _ in steps]

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Forget the upload and delete its part objects."""
        await self._ledger.close(upload_id)
        names = await self.list(f"{PREFIX}{upload_id}/")
        await run_blocking(_ERRORS, "aborting an upload", self._delete_all, names.keys)

    async def pending_uploads(self) -> list[PendingUpload]:
        """Every recorded upload."""
        return await self._ledger.all()

    # ---- downloads ---------------------------------------------------------------------
    def sign_get(self, target: GetTarget, expires_at: datetime) -> str:
        """A V4 GET URL; with a range the signature covers the ``Range`` header (as the S3 URLs do)."""
        headers = (
            {"Range": target.byte_range.header()} if target.byte_range is not None and target.byte_range.length else {}
        )
        return self._sign(target.key, "GET", expires_at, headers)

    async def head(self, key: str) -> ObjectInfo | None:
        """The object's metadata, or None."""
        try:
            blob = await run_blocking(_ERRORS, "reading an object", self._bucket.get_blob, key, timeout=self._timeout)
        except ABSENT:
            return None
        if blob is None:
            return None
        return ObjectInfo(
            key=key,
            size=int(blob.size),
            last_modified=blob.updated,
            etag=blob.etag,
            md5=self._md5_of(blob),
            location=self._bucket_name,
        )

    async def read_range(self, target: GetTarget) -> bytes:
        """A ranged read (the whole object without a range)."""
        rng = target.byte_range
        kwargs: dict[str, Any] = {"start": rng.start, "end": rng.end - 1} if rng is not None and rng.length else {}
        try:
            data = await run_blocking(
                _ERRORS,
                "reading an object",
                self._bucket.blob(target.key).download_as_bytes,
                timeout=self._timeout,
                checksum=None,
                **kwargs,
            )
        except ABSENT as exc:
            raise NotFoundError(f"object {target.key} not found") from exc
        return bytes(data)

    # ---- small objects -------------------------------------------------------------------
    async def put_bytes(self, key: str, data: bytes) -> None:
        """Upload a small object (replacing any object there)."""
        await run_blocking(
            _ERRORS,
            "writing state",
            self._bucket.blob(key).upload_from_string,
            data,
            content_type="application/octet-stream",
            timeout=self._timeout,
        )

    async def get_bytes(self, key: str) -> bytes | None:
        """A whole small object, or None."""
        try:
            return await self.read_range(GetTarget(key))
        except NotFoundError:
            return None

    async def delete(self, key: str) -> None:
        """Delete an object (absent objects are fine)."""
        try:
            await run_blocking(_ERRORS, "deleting state", self._bucket.blob(key).delete, timeout=self._timeout)
        except ABSENT:
            pass

    async def list(self, prefix: str, delimiter: str | None = None) -> Listing:
        """List objects under *prefix*; with a delimiter, the prefixes below it."""

        def walk() -> Listing:
            pages = self._client.list_blobs(
                self._bucket_name, prefix=prefix, delimiter=delimiter, timeout=self._timeout
            )
            keys = [b.name for b in pages]
            return Listing(keys=sorted(keys), prefixes=sorted(pages.prefixes))

        return await run_blocking(_ERRORS, "listing", walk)

    async def healthy(self) -> bool:
        """The bucket exists and the credentials work."""
        try:
            return bool(await run_blocking(_ERRORS, "health check", self._bucket.exists, timeout=self._timeout))
        except ScoreError:
            return False

    async def ensure_buckets(self) -> None:
        """Create the bucket if it is missing (development and tests)."""
        if await self.healthy():
            return
        try:
            await run_blocking(_ERRORS, "creating a bucket", self._client.create_bucket, self._bucket_name)
        except AlreadyExistsError:
            pass
