"""S3-compatible object store (AWS S3, Ceph radosgw, MinIO) through boto3/botocore.

botocore presigns UploadPart (obstore cannot add ``partNumber``/``uploadId`` to a signature).
Every boto3 call is blocking, so each goes through :func:`score.storage.errors.run_blocking` (a worker
thread, and the S3 table of error codes); the botocore client is
thread-safe and keeps its own connection pool. Bucket choice (Score's object/state buckets and
bucket pool) lives in :mod:`score.storage.s3_layout`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from score.domain.errors import NotFoundError, ScoreError, UpstreamUnavailableError
from score.domain.integrity import hex_to_b64, normalize_etag
from score.domain.model import GetTarget, Listing, ObjectInfo, PendingUpload, StoredPart, UploadPartTarget
from score.domain.parts import PartLimits
from score.storage.errors import (
    ABSENT,
    AlreadyExistsError,
    NoSuchBucketError,
    NoSuchObjectError,
    NoSuchUploadError,
    run_blocking,
    s3_table,
)
from score.storage.facts import StoreFacts
from score.storage.s3_layout import BucketLayout, Role
from score.storage.stored_md5 import stored_md5

log = logging.getLogger("score.storage.s3")


COPY_PART_BYTES = 1024 * 1024 * 1024  # server-side copy in 1 GiB ranges (S3 allows up to 5 GiB)
SINGLE_COPY_LIMIT = 5 * 1024 * 1024 * 1024
DELETE_BATCH = 1000  # S3's DeleteObjects limit
CREATED_MD5_REMEMBERED = 4096  # uploads this process started with an MD5, so complete needs no HEAD for it
_ERRORS = s3_table()


class S3ObjectStore(StoreFacts):
    """The :class:`score.domain.ports.ObjectStore` for S3-compatible stores."""

    def __init__(
        self,
        client: Any,
        layout: BucketLayout,
        limits: PartLimits,
        *,
        endpoint: str | None = None,
        host_override: str | None = None,
        kms_key_id: str | None = None,
        md5_metadata_key: str = "md5chksum",
    ) -> None:
        """Wrap a botocore S3 *client*; *host_override* replaces *endpoint* in signed URLs (Score's proxy option)."""
        self._s3 = client
        self._layout = layout
        # Under SSE-KMS, S3's ETags are not MD5s.
        self._set_facts("s3", limits, etags_are_md5=kms_key_id is None)
        self._endpoint = (endpoint or "").rstrip("/")
        self._override = (host_override or "").rstrip("/")
        self._kms = kms_key_id
        self._md5_key = md5_metadata_key.lower()
        # upload id -> the MD5 its CreateMultipartUpload recorded as metadata (the object completed
        # from it carries that metadata); another replica's uploads are not here and get the HEAD
        self._created_md5: OrderedDict[str, str] = OrderedDict()

    @property
    def client(self) -> Any:
        """The botocore client (for tools and tests)."""
        return self._s3

    @property
    def layout(self) -> BucketLayout:
        """The bucket naming in use."""
        return self._layout

    # ---- helpers -----------------------------------------------------------------------
    def _sse(self) -> dict[str, str]:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms} if self._kms else {}

    def _md5_metadata(self, md5: str | None) -> dict[str, str]:
        return {self._md5_key: hex_to_b64(md5)} if md5 else {}

    def _presign(self, operation: str, params: dict[str, Any], expires_at: datetime, method: str) -> str:
        seconds = int((expires_at - datetime.now(UTC)).total_seconds())
        url: str = self._s3.generate_presigned_url(
            operation, Params=params, ExpiresIn=max(1, min(seconds, 7 * 24 * 3600)), HttpMethod=method
        )
        if self._override and self._endpoint and url.startswith(self._endpoint):
            url = self._override + url[len(self._endpoint) :]
        return url

    # ---- multipart ---------------------------------------------------------------------
    async def create_multipart(self, key: str, md5: str | None = None) -> str:
        """CreateMultipartUpload (SSE-KMS when configured; the MD5 as metadata when known)."""
        out = await run_blocking(
            _ERRORS,
            "starting an upload",
            self._s3.create_multipart_upload,
            Bucket=self._layout.write_bucket(key),
            Key=key,
            Metadata=self._md5_metadata(md5),
            **self._sse(),
        )
        upload_id = str(out["UploadId"])
        if md5:
            self._created_md5[upload_id] = md5
            while len(self._created_md5) > CREATED_MD5_REMEMBERED:
                self._created_md5.popitem(last=False)
        return upload_id

    def sign_upload_part(self, target: UploadPartTarget, md5_hex: str | None, expires_at: datetime) -> str:
        """Presign UploadPart; with *md5_hex* the signature covers Content-MD5, so the store refuses other bytes."""
        params: dict[str, Any] = {
            "Bucket": self._layout.write_bucket(target.key),
            "Key": target.key,
            "UploadId": target.upload_id,
            "PartNumber": target.number,
        }
        if md5_hex:
            params["ContentMD5"] = hex_to_b64(md5_hex)
        return self._presign("upload_part", params, expires_at, "PUT")

    async def list_parts(self, key: str, upload_id: str, number: int | None = None) -> list[StoredPart]:
        """ListParts, all pages; for one part, one call from that part on (as Score does)."""
        bucket = self._layout.write_bucket(key)
        out: list[StoredPart] = []
        marker = 0 if number is None else number - 1
        max_parts = 1000 if number is None else 1
        upload = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        while True:
            try:
                page = await run_blocking(
                    _ERRORS, "listing parts", self._s3.list_parts, **upload, PartNumberMarker=marker, MaxParts=max_parts
                )
            except NoSuchObjectError as exc:
                raise NoSuchUploadError("no such multipart upload") from exc
            for p in page.get("Parts", []):
                out.append(StoredPart(int(p["PartNumber"]), normalize_etag(p["ETag"]), int(p["Size"])))
            if number is not None:
                return [p for p in out if p.number == number]
            if not page.get("IsTruncated"):
                return out
            marker = int(page["NextPartNumberMarker"])

    async def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]], md5: str | None) -> None:
        """CompleteMultipartUpload, then make sure the object carries the MD5 as metadata (no HEAD when this
        process started the upload with that MD5: the object has it from its CreateMultipartUpload).
        """
        bucket = self._layout.write_bucket(key)
        body = {"Parts": [{"PartNumber": n, "ETag": f'"{etag}"'} for n, etag in sorted(parts)]}
        await run_blocking(
            _ERRORS,
            "completing an upload",
            self._s3.complete_multipart_upload,
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload=body,
        )
        if md5 and self._created_md5.pop(upload_id, None) != md5:
            await self._ensure_md5_metadata(bucket, key, md5)

    async def _ensure_md5_metadata(self, bucket: str, key: str, md5: str) -> None:
        """Copy the object onto itself with the MD5 as metadata, unless it already has it.

        S3 sets metadata only when an upload starts; the MD5 of a file is known when it ends
        (the client hashes while it sends). The copy is server-side.
        """
        try:
            await self._copy_with_md5(bucket, key, md5)
        except ScoreError as exc:
            # The object is complete and its MD5 is in Score's .meta; the metadata only serves
            # other tools, so its absence must not fail the upload. (radosgw refuses the copy
            # under SSE-KMS with NotImplemented; there, pass md5 at initiate instead.)
            log.warning("could not store the MD5 as object metadata (%s); it stays in the .meta record", exc.message)

    async def _copy_with_md5(self, bucket: str, key: str, md5: str) -> None:
        head = await run_blocking(_ERRORS, "reading an object", self._s3.head_object, Bucket=bucket, Key=key)
        if self._md5_from_head(head) == md5:
            return
        metadata = {**head.get("Metadata", {}), **self._md5_metadata(md5)}
        size = int(head["ContentLength"])
        if size <= SINGLE_COPY_LIMIT:
            await run_blocking(
                _ERRORS,
                "recording the MD5",
                self._s3.copy_object,
                Bucket=bucket,
                Key=key,
                CopySource={"Bucket": bucket, "Key": key},
                Metadata=metadata,
                MetadataDirective="REPLACE",
                **self._sse(),
            )
        else:
            await run_blocking(_ERRORS, "recording the MD5", self._multipart_copy, bucket, key, size, metadata)

    def _multipart_copy(self, bucket: str, key: str, size: int, metadata: dict[str, str]) -> None:
        upload_id = self._s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata, **self._sse())[
            "UploadId"
        ]
        ranges = [
            (i + 1, off, min(off + COPY_PART_BYTES, size) - 1) for i, off in enumerate(range(0, size, COPY_PART_BYTES))
        ]

        def copy(r: tuple[int, int, int]) -> dict[str, Any]:
            n, first, last = r
            out = self._s3.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=n,
                CopySource={"Bucket": bucket, "Key": key},
                CopySourceRange=f"bytes={first}-{last}",
            )
            return {"PartNumber": n, "ETag": out["CopyPartResult"]["ETag"]}

        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                done = list(pool.map(copy, ranges))
            self._s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        except Exception:
            self._s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """AbortMultipartUpload; absent uploads are fine."""
        for bucket in self._layout.read_buckets(key):
            try:
                await run_blocking(
                    _ERRORS,
                    "aborting an upload",
                    self._s3.abort_multipart_upload,
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                )
                return
            except (*ABSENT, NoSuchUploadError):
                continue

    async def pending_uploads(self) -> list[PendingUpload]:
        """ListMultipartUploads over every object bucket."""
        out: list[PendingUpload] = []
        for bucket in self._layout.all_buckets(Role.OBJECT):
            kwargs: dict[str, Any] = {"Bucket": bucket}
            while True:
                try:
                    page = await run_blocking(_ERRORS, "listing uploads", self._s3.list_multipart_uploads, **kwargs)
                except NoSuchBucketError:
                    break
                for u in page.get("Uploads", []):
                    out.append(PendingUpload(str(u["Key"]), str(u["UploadId"]), u["Initiated"]))
                if not page.get("IsTruncated"):
                    break
                kwargs["KeyMarker"] = page["NextKeyMarker"]
                kwargs["UploadIdMarker"] = page["NextUploadIdMarker"]
        return sorted(out, key=lambda u: u.initiated)

    # ---- downloads -----------------------------------------------------------------------
    def sign_get(self, target: GetTarget, expires_at: datetime) -> str:
        """Presign GetObject; with a range the signature covers the ``Range`` header (as Score's URLs do)."""
        params: dict[str, Any] = {
            "Bucket": target.location or self._layout.read_buckets(target.key)[0],
            "Key": target.key,
        }
        if target.byte_range is not None and target.byte_range.length:
            params["Range"] = target.byte_range.header()
        return self._presign("get_object", params, expires_at, "GET")

    def _md5_from_head(self, head: dict[str, Any]) -> str | None:
        """Content-MD5 if the store reports one, else the ``md5chksum`` metadata; never an ETag."""
        headers = head.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return stored_md5(headers.get("content-md5"), head.get("Metadata"), self._md5_key)

    async def head(self, key: str) -> ObjectInfo | None:
        """HeadObject in the key's bucket, then in the base bucket (objects stored before pooling)."""
        for bucket in self._layout.read_buckets(key):
            try:
                h = await run_blocking(_ERRORS, "reading an object", self._s3.head_object, Bucket=bucket, Key=key)
            except ABSENT:
                continue
            return ObjectInfo(
                key=key,
                size=int(h["ContentLength"]),
                last_modified=h["LastModified"],
                etag=normalize_etag(h.get("ETag", "")) or None,
                md5=self._md5_from_head(h),
                location=bucket,
            )
        return None

    # ---- small objects ---------------------------------------------------------------
    async def put_bytes(self, key: str, data: bytes) -> None:
        """PutObject of a state record."""
        await run_blocking(
            _ERRORS, "writing state", self._s3.put_object, Bucket=self._layout.write_bucket(key), Key=key, Body=data
        )

    async def _get(self, what: str, key: str, buckets: list[str], **extra: Any) -> bytes | None:
        """GetObject from the first of *buckets* that holds *key*; None when none does."""
        for bucket in buckets:
            try:
                out = await run_blocking(_ERRORS, what, self._s3.get_object, Bucket=bucket, Key=key, **extra)
            except ABSENT:
                continue
            body = out["Body"]
            try:
                data: bytes = await run_blocking(_ERRORS, what, body.read)
            finally:
                body.close()
            return data
        return None

    async def get_bytes(self, key: str) -> bytes | None:
        """GetObject of a state record, falling back to the base bucket."""
        return await self._get("reading state", key, list(self._layout.read_buckets(key)))

    async def read_range(self, target: GetTarget) -> bytes:
        """GetObject with a Range (the whole object without one), falling back to the base bucket."""
        buckets = [target.location] if target.location else list(self._layout.read_buckets(target.key))
        extra = {"Range": target.byte_range.header()} if target.byte_range is not None else {}
        data = await self._get("reading an object", target.key, buckets, **extra)
        if data is None:
            raise NotFoundError(f"object {target.key} not found")
        return data

    async def delete(self, key: str) -> None:
        """DeleteObject (absent keys are fine)."""
        try:
            await run_blocking(
                _ERRORS, "deleting state", self._s3.delete_object, Bucket=self._layout.write_bucket(key), Key=key
            )
        except NoSuchObjectError:
            pass

    async def delete_many(self, keys: list[str]) -> None:
        """DeleteObjects, up to 1,000 keys a call per bucket (absent keys are fine).

        Raises:
            UpstreamUnavailableError: the store could not delete a key (the first one it names).
        """
        by_bucket: dict[str, list[str]] = {}
        for key in keys:
            by_bucket.setdefault(self._layout.write_bucket(key), []).append(key)
        for bucket, batch in by_bucket.items():
            for i in range(0, len(batch), DELETE_BATCH):
                chunk = [{"Key": k} for k in batch[i : i + DELETE_BATCH]]
                out = await run_blocking(
                    _ERRORS,
                    "deleting state",
                    self._s3.delete_objects,
                    Bucket=bucket,
                    Delete={"Objects": chunk, "Quiet": True},
                )
                failed = [e for e in out.get("Errors", []) if e.get("Code") != "NoSuchKey"]
                if failed:
                    first = failed[0]
                    raise UpstreamUnavailableError(
                        f"the store could not delete {first.get('Key')} ({first.get('Code')}: {first.get('Message')})"
                    )

    async def list(self, prefix: str, delimiter: str | None = None) -> Listing:
        """ListObjectsV2 over every bucket the prefix may live in, merged and sorted."""
        keys: set[str] = set()
        prefixes: set[str] = set()
        for bucket in self._layout.list_buckets(prefix):
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            while True:
                try:
                    page = await run_blocking(_ERRORS, "listing", self._s3.list_objects_v2, **kwargs)
                except NoSuchBucketError:
                    break
                keys.update(o["Key"] for o in page.get("Contents", []))
                prefixes.update(p["Prefix"] for p in page.get("CommonPrefixes", []))
                if not page.get("IsTruncated"):
                    break
                kwargs["ContinuationToken"] = page["NextContinuationToken"]
        return Listing(keys=sorted(keys), prefixes=sorted(prefixes))

    async def healthy(self) -> bool:
        """The object and state buckets exist and the credentials work."""
        for bucket in self._layout.health_buckets():
            try:
                await run_blocking(_ERRORS, "health check", self._s3.head_bucket, Bucket=bucket)
            except ScoreError:
                return False
        return True

    async def ensure_buckets(self) -> None:
        """Create every bucket of the layout that is missing (development and tests)."""
        wanted = set(self._layout.all_buckets(Role.OBJECT)) | set(self._layout.all_buckets(Role.STATE))
        for bucket in sorted(wanted):
            try:
                await run_blocking(_ERRORS, "creating a bucket", self._s3.create_bucket, Bucket=bucket)
            except AlreadyExistsError:
                pass
