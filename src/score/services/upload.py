"""Upload use cases: initiate, confirm parts, status/recovery, finalize, cancel.

Every operation re-reads its state from the store, so any replica can serve any call of an
upload, and retried calls (finalize above all) succeed.
"""

from __future__ import annotations

import contextlib

from score.domain import ids
from score.domain.errors import (
    ConflictError,
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
)
from score.domain.integrity import normalize_etag, normalize_md5
from score.domain.model import ObjectRecord, Principal, UploadPartTarget
from score.domain.ranges import ByteRange
from score.domain.parts import plan_parts
from score.domain.access import check_upload_state
from score.services.auditing import check_upload, url_issued
from score.services.context import ServiceContext
from score.services.state import PartMarker, UploadStateRepository
from score.wire.schemas import ObjectSpecification, Part, PartUrl, UploadProgress


class UploadService:
    """Framework-free upload logic over the store and metadata ports."""

    def __init__(self, ctx: ServiceContext) -> None:
        """Bind to the adapters in *ctx*."""
        self._ctx = ctx
        self._state = UploadStateRepository(ctx.store)

    async def _authorize(self, principal: Principal, object_id: str) -> ObjectRecord | None:
        ids.validate_object_id(object_id)
        record = await self._ctx.metadata.get(object_id)
        check_upload(self._ctx, principal, object_id, record)
        return record

    def _sign_parts(
        self, spec: ObjectSpecification, skip: set[int], principal: Principal, record: ObjectRecord | None
    ) -> list[Part]:
        expires = self._ctx.clock.now() + self._ctx.upload_url_ttl
        out = []
        for p in spec.parts:
            url = None
            if p.partNumber not in skip:
                target = UploadPartTarget(spec.objectKey, spec.uploadId, p.partNumber, p.offset, p.partSize)
                url = self._ctx.store.sign_upload_part(target, None, expires)
                url_issued(self._ctx, principal, "url:upload-part", spec.objectId, record,
                           ByteRange(p.offset, p.partSize))
            out.append(p.model_copy(update={"url": url}))
        return out

    async def initiate(
        self, principal: Principal, object_id: str, file_size: int, md5: str | None, overwrite: bool
    ) -> ObjectSpecification:
        """Start an upload and return its part plan with signed part URLs.

        Raises:
            ConflictError: the object exists and *overwrite* is false.
            InvalidRequestError: bad size or md5.
        """
        record = await self._authorize(principal, object_id)
        declared = normalize_md5(md5) if md5 else None
        check_upload_state(record, file_size, declared)
        if declared is None and record is not None and record.file_md5:
            declared = record.file_md5  # finalize then checks the client's MD5 against the registered one
        planned = plan_parts(file_size, self._ctx.store.limits)
        if not overwrite and await self._state.object_spec(object_id) is not None:
            raise ConflictError(
                f"object {object_id} already exists; pass overwrite=true (score-client --force) to replace it"
            )
        key = ids.object_key(object_id)
        # Score deletes an older in-progress upload's state but leaves its multipart upload
        # open until a nightly job; we abort it too.
        for old in await self._state.find_upload_ids(object_id):
            await self._ctx.store.abort_multipart(key, old)
            await self._state.delete_upload(object_id, old)
        upload_id = await self._ctx.store.create_multipart(key, declared)
        spec = ObjectSpecification(
            objectKey=key,
            objectId=object_id,
            uploadId=upload_id,
            parts=[Part(partNumber=p.number, partSize=p.size, offset=p.offset) for p in planned],
            objectSize=file_size,
            objectMd5=declared,
        )
        await self._state.save_upload_spec(spec)
        return spec.model_copy(
            update={
                "parts": self._sign_parts(spec, set(), principal, record),
                "urlsExpireAt": self._ctx.clock.now() + self._ctx.upload_url_ttl,
            }
        )

    async def _load(self, object_id: str, upload_id: str) -> ObjectSpecification:
        ids.validate_upload_id(upload_id)
        spec = await self._state.upload_spec(object_id, upload_id)
        if spec is None:
            raise NotFoundError(f"no upload {upload_id!r} in progress for object {object_id}")
        return spec

    async def confirm_part(
        self, principal: Principal, object_id: str, upload_id: str, part_number: int, md5: str, etag: str
    ) -> None:
        """Record a part after checking that the store holds it with that ETag.

        Raises:
            NotFoundError: unknown upload.
            InvalidRequestError: unknown part number, empty md5/etag, part not in the store.
            IntegrityError: the store holds the part with another ETag or size.
        """
        await self._authorize(principal, object_id)
        spec = await self._load(object_id, upload_id)
        planned = next((p for p in spec.parts if p.partNumber == part_number), None)
        if planned is None:
            raise InvalidRequestError(f"upload has no part {part_number}")
        if not md5 or not etag:
            raise InvalidRequestError("md5 and etag are required")
        md5_hex = normalize_md5(md5)
        etag_n = normalize_etag(etag)
        # A store may hold a part twice while a re-sent copy is pending (Azure's uncommitted blocks).
        stored = [p for p in await self._ctx.store.list_parts(spec.objectKey, upload_id, part_number)
                  if p.number == part_number]
        if not stored:
            raise InvalidRequestError(f"the store holds no part {part_number} for this upload; upload it first")
        held = next((p for p in stored if normalize_etag(p.etag) == etag_n), None)
        if held is None:
            raise IntegrityError(f"the store holds part {part_number} with another ETag; upload it again")
        if held.size != planned.partSize:
            raise IntegrityError(f"the store holds part {part_number} with {held.size} bytes, not {planned.partSize}")
        await self._state.save_marker(object_id, upload_id, PartMarker(part_number, md5_hex, etag_n))

    async def part_url(
        self, principal: Principal, object_id: str, upload_id: str, part_number: int, md5: str
    ) -> PartUrl:
        """A fresh PUT URL for one part, its signature bound to the part's MD5.

        Raises:
            NotFoundError: unknown upload.
            InvalidRequestError: unknown part number or malformed md5.
        """
        record = await self._authorize(principal, object_id)
        spec = await self._load(object_id, upload_id)
        planned = next((p for p in spec.parts if p.partNumber == part_number), None)
        if planned is None:
            raise InvalidRequestError(f"upload has no part {part_number}")
        md5_hex = normalize_md5(md5)
        expires = self._ctx.clock.now() + self._ctx.upload_url_ttl
        target = UploadPartTarget(spec.objectKey, upload_id, part_number, planned.offset, planned.partSize)
        url_issued(self._ctx, principal, "url:upload-part", object_id, record,
                   ByteRange(planned.offset, planned.partSize))
        return PartUrl(
            partNumber=part_number,
            partSize=planned.partSize,
            offset=planned.offset,
            url=self._ctx.store.sign_upload_part(target, md5_hex, expires),
            md5=md5_hex,
            expiresAt=expires,
            etagIsMd5=self._ctx.store.etags_are_md5,
        )

    async def delete_part(self, principal: Principal, object_id: str, upload_id: str, part_number: int) -> None:
        """Forget a part's confirmation so that it is uploaded again."""
        await self._authorize(principal, object_id)
        await self._load(object_id, upload_id)
        await self._state.delete_markers(object_id, upload_id, part_number)

    async def _find_upload(self, object_id: str) -> ObjectSpecification:
        for upload_id in await self._state.find_upload_ids(object_id):
            spec = await self._state.upload_spec(object_id, upload_id)
            if spec is not None:
                return spec
        raise NotFoundError(f"no upload in progress for object {object_id}")

    async def status(self, principal: Principal, object_id: str, file_size: int) -> UploadProgress:
        """Progress of the upload in progress, with fresh URLs for the parts still to send.

        Completed parts carry ``md5`` and ``sourceMd5`` (Score's client checks the former,
        its server set only the latter) and no URL.

        Raises:
            NotFoundError: no upload in progress.
            InvalidRequestError: *file_size* differs from the upload's size.
        """
        record = await self._authorize(principal, object_id)
        spec = await self._find_upload(object_id)
        if spec.objectSize != file_size:
            raise InvalidRequestError(
                f"fileSize {file_size} differs from the upload's size {spec.objectSize}; start a new upload"
            )
        markers = await self._state.markers(object_id, spec.uploadId)
        parts = []
        for p in self._sign_parts(spec, set(markers), principal, record):
            m = markers.get(p.partNumber)
            parts.append(p.model_copy(update={"md5": m.md5, "sourceMd5": m.md5}) if m else p)
        return UploadProgress(
            objectId=object_id,
            uploadId=spec.uploadId,
            parts=parts,
            objectSize=spec.objectSize,
            objectMd5=spec.objectMd5,
            urlsExpireAt=self._ctx.clock.now() + self._ctx.upload_url_ttl,
        )

    async def recovery(self, principal: Principal, object_id: str, file_size: int) -> None:
        """Score's recovery check: 400 when the size changed, 404 without an upload."""
        await self.status(principal, object_id, file_size)

    async def finalize(self, principal: Principal, object_id: str, upload_id: str, md5: str | None) -> None:
        """Complete the upload. Idempotent: a retry after success succeeds.

        Raises:
            NotFoundError: unknown upload (and no finished object from it).
            InvalidRequestError: parts are missing.
            IntegrityError: *md5* disagrees with the md5 declared at initiate.
        """
        await self._authorize(principal, object_id)
        ids.validate_upload_id(upload_id)
        spec = await self._state.upload_spec(object_id, upload_id)
        if spec is None:
            done = await self._state.object_spec(object_id)
            if done is not None and done.uploadId == upload_id:
                return
            raise NotFoundError(f"no upload {upload_id!r} in progress for object {object_id}")
        computed = normalize_md5(md5) if md5 else None
        if computed and spec.objectMd5 and computed != spec.objectMd5:
            raise IntegrityError(
                f"the file's MD5 {computed} differs from the MD5 {spec.objectMd5} declared when the upload started"
            )
        markers = await self._state.markers(object_id, upload_id)
        missing = [p.partNumber for p in spec.parts if p.partNumber not in markers]
        if missing:
            done = await self._state.object_spec(object_id)
            if done is not None and done.uploadId == upload_id:
                return  # a concurrent finalize won and is cleaning up
            shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise InvalidRequestError(f"upload is incomplete: {len(missing)} part(s) missing ({shown})")
        object_md5 = spec.objectMd5 or computed
        pairs = [(n, markers[n].etag) for n in sorted(markers) if any(p.partNumber == n for p in spec.parts)]
        try:
            await self._ctx.store.complete_multipart(spec.objectKey, upload_id, pairs, object_md5)
        except NotFoundError:
            # Completed by a concurrent or earlier finalize whose state clean-up did not finish.
            if await self._ctx.store.head(spec.objectKey) is None:
                raise
        parts = [p.model_copy(update={"sourceMd5": markers[p.partNumber].md5, "url": None}) for p in spec.parts]
        await self._state.save_object_spec(spec.model_copy(update={"parts": parts, "objectMd5": object_md5}))
        with contextlib.suppress(NotFoundError):
            await self._state.delete_upload(object_id, upload_id)

    async def exists(self, principal: Principal, object_id: str) -> bool:
        """Score's "exists": the finished object's ``.meta`` is present."""
        await self._authorize(principal, object_id)
        return await self._state.object_spec(object_id) is not None

    async def cancel(self, principal: Principal, object_id: str) -> None:
        """Abort every in-progress upload of the object and delete its state.

        Raises:
            NotFoundError: nothing to cancel.
        """
        await self._authorize(principal, object_id)
        found = await self._state.find_upload_ids(object_id)
        if not found:
            raise NotFoundError(f"no upload in progress for object {object_id}")
        for upload_id in found:
            await self._ctx.store.abort_multipart(ids.object_key(object_id), upload_id)
            await self._state.delete_upload(object_id, upload_id)
