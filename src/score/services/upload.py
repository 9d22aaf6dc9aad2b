"""Upload use cases: initiate, confirm parts, status/recovery, finalize, cancel.

Every operation re-reads its state from the store, so any replica can serve any call of an
upload, and retried calls (finalize above all) succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re

import anyio.to_thread

from score.domain import ids
from score.domain.access import check_upload_state
from score.domain.errors import (
    AlreadyUploadedError,
    ConflictError,
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
)
from score.domain.integrity import check_one_part, multipart_etag, normalize_etag, normalize_md5
from score.domain.model import ObjectRecord, Principal, UploadPartTarget
from score.domain.parts import plan_parts
from score.domain.ranges import ByteRange
from score.services.auditing import authorized_record, url_issued
from score.services.context import ServiceContext
from score.services.state import PartMarker, UploadOwner, UploadStateRepository
from score.services.upload_owners import check_parts, may_join, not_yours, token_hash, validate_upload_token
from score.wire.schemas import ObjectSpecification, Part, PartUrl, UploadProgress

# Signing is local CPU work, but S3's presigning takes ~0.2 ms a part: above this many parts it runs in a
# worker thread, so that the status of a 10,000-part upload does not hold the event loop for seconds.
SIGN_IN_THREAD_PARTS = 256
_PARTS_MD5 = re.compile(r"[0-9a-fA-F]{32}-[0-9]{1,5}")
# Finalize reads the MD5s of parts nobody confirmed from the store's listing: a few parts (our client
# leaves only a one-part file's part unconfirmed); an Azure part staged with several contents is tried
# in each of them, up to this many combinations.
MAX_UNCONFIRMED_PARTS = 16
MAX_PART_COMBINATIONS = 64


class UploadService:
    """Framework-free upload logic over the store and metadata ports."""

    def __init__(self, ctx: ServiceContext) -> None:
        """Bind to the adapters in *ctx*."""
        self._ctx = ctx
        self._state = UploadStateRepository(ctx.store)

    async def _authorize(self, principal: Principal, object_id: str) -> ObjectRecord | None:
        return await authorized_record(self._ctx, principal, object_id, upload=True)

    async def _owned(
        self,
        principal: Principal,
        object_id: str,
        spec: ObjectSpecification,
        token: str | None,
        record: ObjectRecord | None,
    ) -> None:
        """Refuse a caller that does not own the upload, or an upload whose analysis was published meanwhile.

        Raises:
            ConflictError: another client's upload.
            AnalysisStateError: the analysis is no longer UNPUBLISHED.
        """
        if not may_join(await self._state.owner(object_id, spec.uploadId), principal, token):
            raise not_yours(object_id, spec.uploadId)
        check_upload_state(record, spec.objectSize, None)

    def _sign_parts(
        self,
        spec: ObjectSpecification,
        principal: Principal,
        record: ObjectRecord | None,
        markers: dict[int, PartMarker] | None = None,
    ) -> list[Part]:
        """Every part with a fresh PUT URL, in one pass; a confirmed part (in *markers*) also with its MD5.

        Confirmed parts get a URL too: Score's Java client re-sends a confirmed part whose local
        bytes no longer match its ``sourceMd5`` (after deleting it) with the URL of the status.
        Signing is local CPU work on every store, so 10,000 parts cost one loop.
        """
        expires = self._ctx.clock.now() + self._ctx.upload_url_ttl
        sign = self._ctx.store.sign_upload_part
        done = markers or {}
        out = []
        for p in spec.parts:
            target = UploadPartTarget(spec.objectKey, spec.uploadId, p.partNumber, p.offset, p.partSize)
            update: dict[str, object] = {"url": sign(target, None, expires)}
            url_issued(self._ctx, principal, "url:upload-part", spec.objectId, record, ByteRange(p.offset, p.partSize))
            m = done.get(p.partNumber)
            if m is not None:
                update["md5"] = update["sourceMd5"] = m.md5
            out.append(p.model_copy(update=update))
        return out

    async def _signed(
        self,
        spec: ObjectSpecification,
        principal: Principal,
        record: ObjectRecord | None,
        markers: dict[int, PartMarker] | None = None,
    ) -> list[Part]:
        """:meth:`_sign_parts`, in a worker thread for a large upload."""
        if len(spec.parts) <= SIGN_IN_THREAD_PARTS:
            return self._sign_parts(spec, principal, record, markers)
        return await anyio.to_thread.run_sync(self._sign_parts, spec, principal, record, markers)

    async def initiate(
        self,
        principal: Principal,
        object_id: str,
        file_size: int,
        md5: str | None,
        overwrite: bool,
        token: str | None = None,
        sign_md5: bool = False,
    ) -> ObjectSpecification:
        """Start an upload owned by *principal* (and *token*) and return its part plan with signed part URLs.

        At most one upload of an object is live: the caller's own older uploads are replaced, another
        client's only with *overwrite*; of two uploads started at the same moment, neither survives
        unless one saw the other.

        With *sign_md5* and *md5*, a plan of one part gets that part's URL signed for the file's
        Content-MD5 and ``etagIsMd5`` set (the small-file path: one PUT, then finalize, which folds in
        the part's confirmation); without them the URLs are Score's, unbound to any bytes. With
        *sign_md5* and without *overwrite*, the caller's own live upload is not replaced either (409), so
        a client that tries this path first falls back to resuming it.

        Raises:
            ConflictError: the object exists or another client's upload is live, and *overwrite* is false.
            AnalysisStateError: the analysis is not UNPUBLISHED.
            InvalidRequestError: bad size or md5.
        """
        token = validate_upload_token(token)
        record = await self._authorize(principal, object_id)
        declared = normalize_md5(md5) if md5 else None
        sent = declared  # the MD5 the client itself gave
        check_upload_state(record, file_size, declared)
        if declared is None and record is not None and record.file_md5:
            declared = record.file_md5  # finalize then checks the client's MD5 against the registered one
        plan_parts(file_size, self._ctx.store.limits)  # a size the store cannot take: 400 before any store call
        key = ids.object_key(object_id)
        # the object's .meta and its bytes at once: a fresh upload (the usual case) needs both answers
        if not overwrite:
            stored, info = await asyncio.gather(self._state.object_spec(object_id), self._ctx.store.head(key))
            same = stored is not None and stored.objectSize == file_size and (stored.objectMd5 or "").lower() == sent
            if same and sent and info is not None:
                raise AlreadyUploadedError(
                    f"object {object_id} is already uploaded with this size and MD5 ({sent}): nothing to "
                    "send (overwrite=true, score-client --force, sends it again)"
                )
            if stored is not None or info is not None:
                raise ConflictError(
                    f"object {object_id} already exists; pass overwrite=true (score-client --force) to replace it"
                )
        owner = UploadOwner(principal.subject, token_hash(token) if token else None)
        spec = await self._open(object_id, file_size, declared, owner)
        if await self._state.other_upload_ids(object_id, spec.uploadId):
            # Another upload is live, or was started at the same moment: ours gives way and the full
            # procedure decides (owners checked, the caller's older uploads replaced, the race checked
            # again). Without one, this listing is the whole check: an upload live before ours was
            # opened is still listed now, and one opened since lists ours and gives way.
            await self._give_way(object_id, key, spec.uploadId)
            spec = await self._replace(principal, object_id, file_size, declared, overwrite, token, sign_md5)
        if sign_md5 and md5 and declared and len(spec.parts) == 1:
            return self._one_part_signed(spec, declared, principal, record)
        return spec.model_copy(
            update={
                "parts": await self._signed(spec, principal, record),
                "urlsExpireAt": self._ctx.clock.now() + self._ctx.upload_url_ttl,
            }
        )

    async def _open(
        self, object_id: str, file_size: int, declared: str | None, owner: UploadOwner
    ) -> ObjectSpecification:
        """Create the multipart upload and write its owner, then its spec (a visible upload has its owner)."""
        key = ids.object_key(object_id)
        upload_id = await self._ctx.store.create_multipart(key, declared)
        await self._state.save_owner(object_id, upload_id, owner)
        planned = plan_parts(file_size, self._ctx.store.limits)
        spec = ObjectSpecification(
            objectKey=key,
            objectId=object_id,
            uploadId=upload_id,
            parts=[Part(partNumber=p.number, partSize=p.size, offset=p.offset) for p in planned],
            objectSize=file_size,
            objectMd5=declared,
        )
        await self._state.save_upload_spec(spec)
        return spec

    async def _give_way(self, object_id: str, key: str, upload_id: str) -> None:
        await self._ctx.store.abort_multipart(key, upload_id)
        await self._state.delete_upload(object_id, upload_id)

    async def _replace(
        self,
        principal: Principal,
        object_id: str,
        file_size: int,
        declared: str | None,
        overwrite: bool,
        token: str | None,
        sign_md5: bool,
    ) -> ObjectSpecification:
        """Initiate where other uploads of the object are live: each must be the caller's (or *overwrite*),
        and is aborted; of two uploads started at the same moment, whichever saw the other gives way.

        Raises:
            ConflictError: another client's upload is live and *overwrite* is false, or (with *sign_md5*)
                the caller's own; or another upload was started at the same moment.
        """
        key = ids.object_key(object_id)
        older = await self._state.find_upload_ids(object_id)
        if not overwrite:
            for old in older:
                if not may_join(await self._state.owner(object_id, old), principal, token):
                    raise not_yours(object_id, old)
                if sign_md5:  # the small-file path tried first: a live upload of the caller is resumed instead
                    raise ConflictError(
                        f"upload {old} of object {object_id} is in progress: resume it (its status) "
                        "or restart it with overwrite=true"
                    )
        # Score deletes an older in-progress upload's state but leaves its multipart upload
        # open until a nightly job; we abort it too.
        for old in older:
            await self._give_way(object_id, key, old)
        owner = UploadOwner(principal.subject, token_hash(token) if token else None)
        spec = await self._open(object_id, file_size, declared, owner)
        if await self._state.other_upload_ids(object_id, spec.uploadId):
            await self._give_way(object_id, key, spec.uploadId)
            raise ConflictError(f"another upload of object {object_id} started at the same moment; try again")
        return spec

    def _one_part_signed(
        self, spec: ObjectSpecification, md5_hex: str, principal: Principal, record: ObjectRecord | None
    ) -> ObjectSpecification:
        """*spec* with its only part's URL signed for the whole file's MD5 (the part is the file)."""
        expires = self._ctx.clock.now() + self._ctx.upload_url_ttl
        p = spec.parts[0]
        target = UploadPartTarget(spec.objectKey, spec.uploadId, p.partNumber, p.offset, p.partSize)
        url = self._ctx.store.sign_upload_part(target, md5_hex, expires)
        url_issued(self._ctx, principal, "url:upload-part", spec.objectId, record, ByteRange(p.offset, p.partSize))
        return spec.model_copy(
            update={
                "parts": [p.model_copy(update={"url": url})],
                "urlsExpireAt": expires,
                "etagIsMd5": self._ctx.store.etags_are_md5,
            }
        )

    async def _load(self, object_id: str, upload_id: str) -> ObjectSpecification:
        ids.validate_upload_id(upload_id)
        spec = await self._state.upload_spec(object_id, upload_id)
        if spec is None:
            raise NotFoundError(f"no upload {upload_id!r} in progress for object {object_id}")
        return spec

    async def confirm_part(
        self,
        principal: Principal,
        object_id: str,
        upload_id: str,
        part_number: int,
        md5: str,
        etag: str,
        token: str | None = None,
    ) -> None:
        """Record a part after checking that the store holds it with that ETag.

        Raises:
            NotFoundError: unknown upload.
            InvalidRequestError: unknown part number, empty md5/etag, part not in the store.
            IntegrityError: the store holds the part with another ETag or size.
        """
        record = await self._authorize(principal, object_id)
        spec = await self._load(object_id, upload_id)
        await self._owned(principal, object_id, spec, token, record)
        planned = next((p for p in spec.parts if p.partNumber == part_number), None)
        if planned is None:
            raise InvalidRequestError(f"upload has no part {part_number}")
        if not md5 or not etag:
            raise InvalidRequestError("md5 and etag are required")
        md5_hex = normalize_md5(md5)
        etag_n = normalize_etag(etag)
        # A store may hold a part twice while a re-sent copy is pending (Azure's uncommitted blocks).
        stored = [
            p
            for p in await self._ctx.store.list_parts(spec.objectKey, upload_id, part_number)
            if p.number == part_number
        ]
        if not stored:
            raise InvalidRequestError(f"the store holds no part {part_number} for this upload; upload it first")
        held = next((p for p in stored if normalize_etag(p.etag) == etag_n), None)
        if held is None:
            raise IntegrityError(f"the store holds part {part_number} with another ETag; upload it again")
        if held.size != planned.partSize:
            raise IntegrityError(f"the store holds part {part_number} with {held.size} bytes, not {planned.partSize}")
        await self._state.save_marker(object_id, upload_id, PartMarker(part_number, md5_hex, etag_n))

    async def part_url(
        self,
        principal: Principal,
        object_id: str,
        upload_id: str,
        part_number: int,
        md5: str,
        token: str | None = None,
    ) -> PartUrl:
        """A fresh PUT URL for one part, its signature bound to the part's MD5.

        Raises:
            NotFoundError: unknown upload.
            InvalidRequestError: unknown part number or malformed md5.
        """
        record = await self._authorize(principal, object_id)
        spec = await self._load(object_id, upload_id)
        await self._owned(principal, object_id, spec, token, record)
        planned = next((p for p in spec.parts if p.partNumber == part_number), None)
        if planned is None:
            raise InvalidRequestError(f"upload has no part {part_number}")
        md5_hex = normalize_md5(md5)
        expires = self._ctx.clock.now() + self._ctx.upload_url_ttl
        target = UploadPartTarget(spec.objectKey, upload_id, part_number, planned.offset, planned.partSize)
        url_issued(
            self._ctx, principal, "url:upload-part", object_id, record, ByteRange(planned.offset, planned.partSize)
        )
        return PartUrl(
            partNumber=part_number,
            partSize=planned.partSize,
            offset=planned.offset,
            url=self._ctx.store.sign_upload_part(target, md5_hex, expires),
            md5=md5_hex,
            expiresAt=expires,
            etagIsMd5=self._ctx.store.etags_are_md5,
        )

    async def delete_part(
        self, principal: Principal, object_id: str, upload_id: str, part_number: int, token: str | None = None
    ) -> None:
        """Forget a part's confirmation so that it is uploaded again."""
        record = await self._authorize(principal, object_id)
        spec = await self._load(object_id, upload_id)
        await self._owned(principal, object_id, spec, token, record)
        await self._state.delete_markers(object_id, upload_id, part_number)

    async def _find_upload(self, object_id: str) -> ObjectSpecification:
        for upload_id in await self._state.find_upload_ids(object_id):
            spec = await self._state.upload_spec(object_id, upload_id)
            if spec is not None:
                return spec
        raise NotFoundError(f"no upload in progress for object {object_id}")

    async def status(
        self, principal: Principal, object_id: str, file_size: int, token: str | None = None
    ) -> UploadProgress:
        """Progress of the upload in progress, with fresh URLs for every part.

        Completed parts carry ``md5`` and ``sourceMd5`` (Score's client checks the former,
        its server set only the latter) and a URL as the others do: Score's Java client deletes a
        completed part whose local bytes differ from its ``sourceMd5`` and re-sends it with that URL.

        Raises:
            NotFoundError: no upload in progress.
            InvalidRequestError: *file_size* differs from the upload's size.
            ConflictError: another client's upload.
            AnalysisStateError: the analysis was published.
        """
        record = await self._authorize(principal, object_id)
        spec = await self._find_upload(object_id)
        await self._owned(principal, object_id, spec, token, record)
        if spec.objectSize != file_size:
            raise InvalidRequestError(
                f"fileSize {file_size} differs from the upload's size {spec.objectSize}; start a new upload"
            )
        markers = await self._state.markers(object_id, spec.uploadId)
        parts = await self._signed(spec, principal, record, markers)
        return UploadProgress(
            objectId=object_id,
            uploadId=spec.uploadId,
            parts=parts,
            objectSize=spec.objectSize,
            objectMd5=spec.objectMd5,
            urlsExpireAt=self._ctx.clock.now() + self._ctx.upload_url_ttl,
        )

    async def recovery(self, principal: Principal, object_id: str, file_size: int, token: str | None = None) -> None:
        """Score's recovery check: 400 when the size changed, 404 without an upload."""
        await self.status(principal, object_id, file_size, token)

    async def finalize(
        self,
        principal: Principal,
        object_id: str,
        upload_id: str,
        md5: str | None,
        parts_md5: str | None = None,
        token: str | None = None,
    ) -> ObjectSpecification:
        """Complete the upload and return the finished object's spec. Idempotent: a retry after success succeeds.

        *parts_md5* is the S3 multipart ETag of the caller's part MD5s (``md5(concat(part md5s))-N``): the
        upload completes only when the parts the server holds are exactly the caller's.

        Raises:
            NotFoundError: unknown upload (and no finished object from it).
            InvalidRequestError: parts are missing.
            IntegrityError: *md5* disagrees with the declared or finished object's MD5, or *parts_md5*
                with the parts the server holds.
            ConflictError: another client's upload.
            AnalysisStateError: the analysis was published.
        """
        record = await self._authorize(principal, object_id)
        ids.validate_upload_id(upload_id)
        computed = normalize_md5(md5) if md5 else None
        if parts_md5 is not None and not _PARTS_MD5.fullmatch(parts_md5):
            raise InvalidRequestError("partsMd5 must be an S3 multipart ETag: 32 hex digits, '-', the part count")
        # The spec, its owner and the upload's keys in one round trip's time (reads only; the owner is
        # written before the spec and deleted after it, as when they are read one after the other).
        spec, owner, (markers, keys) = await asyncio.gather(
            self._state.upload_spec(object_id, upload_id),
            self._state.owner(object_id, upload_id),
            self._state.upload_keys(object_id, upload_id),
        )
        if spec is None:
            return await self._finished(object_id, upload_id, computed, parts_md5)
        if not may_join(owner, principal, token):
            raise not_yours(object_id, upload_id)
        check_upload_state(record, spec.objectSize, None)
        if computed and spec.objectMd5 and computed != spec.objectMd5:
            raise IntegrityError(
                f"the file's MD5 {computed} differs from the MD5 {spec.objectMd5} declared when the upload started"
            )
        confirmed = {n: (m.md5, m.etag) for n, m in markers.items()}
        missing = [p for p in spec.parts if p.partNumber not in confirmed]
        folded = bool(missing) and await self._complete_one_part(spec, missing, parts_md5)
        if folded:
            confirmed[missing[0].partNumber] = (spec.objectMd5 or "", spec.objectMd5 or "")
            missing = []
        if missing:
            found = await self._unconfirmed(spec, missing, confirmed, parts_md5)
            if found is None:
                done = await self._state.object_spec(object_id)
                if done is not None and done.uploadId == upload_id:
                    return await self._finished(object_id, upload_id, computed, parts_md5)  # a concurrent one won
                numbers = [p.partNumber for p in missing]
                shown = ", ".join(str(n) for n in numbers[:10]) + (" ..." if len(numbers) > 10 else "")
                raise InvalidRequestError(f"upload is incomplete: {len(numbers)} part(s) missing ({shown})")
            confirmed.update({n: (m, m) for n, m in found.items()})
        held = [confirmed[p.partNumber][0] for p in sorted(spec.parts, key=lambda p: p.partNumber)]
        check_parts(parts_md5, held, object_id)
        object_md5 = spec.objectMd5 or computed
        check_one_part(held, object_md5)
        pairs = [(p.partNumber, confirmed[p.partNumber][1]) for p in sorted(spec.parts, key=lambda p: p.partNumber)]
        if not folded:
            await self._complete(spec, pairs, object_md5)
        parts = [p.model_copy(update={"sourceMd5": confirmed[p.partNumber][0], "url": None}) for p in spec.parts]
        finished = spec.model_copy(update={"parts": parts, "objectMd5": object_md5})
        await self._state.save_object_spec(finished)
        with contextlib.suppress(NotFoundError):
            await self._state.delete_upload(object_id, upload_id, keys)
        return finished

    async def _complete(self, spec: ObjectSpecification, pairs: list[tuple[int, str]], md5: str | None) -> None:
        try:
            await self._ctx.store.complete_multipart(spec.objectKey, spec.uploadId, pairs, md5)
        except NotFoundError:
            # Completed by a concurrent or earlier finalize whose state clean-up did not finish.
            if await self._ctx.store.head(spec.objectKey) is None:
                raise

    async def _complete_one_part(self, spec: ObjectSpecification, missing: list[Part], parts_md5: str | None) -> bool:
        """Complete a one-part upload whose part nobody confirmed without listing the store's parts first.

        The part must be the file itself: its MD5 is the MD5 declared at initiate, and ``partsMd5`` says
        the caller's part is that one. The store assembles the object only from a part holding that ETag
        (the port's contract: every store compares the ETags it is given), so the listing adds nothing
        when it succeeds. False when this does not apply or the store refuses: the caller then lists
        the parts and answers as before (400 for a missing part, 422 for another one).
        """
        declared = spec.objectMd5
        if (
            parts_md5 is None
            or declared is None
            or not self._ctx.store.etags_are_md5
            or len(spec.parts) != 1
            or len(missing) != 1
            or multipart_etag([declared]) != parts_md5.lower()
        ):
            return False
        try:
            await self._ctx.store.complete_multipart(
                spec.objectKey, spec.uploadId, [(missing[0].partNumber, declared)], declared
            )
        except (IntegrityError, NotFoundError):
            return False  # not held, held with other bytes, or no longer open (completed or aborted)
        return True

    async def _unconfirmed(
        self,
        spec: ObjectSpecification,
        missing: list[Part],
        confirmed: dict[int, tuple[str, str]],
        parts_md5: str | None,
    ) -> dict[int, str] | None:
        """The MD5s of the parts not confirmed, read from the store's listing; None when it cannot tell.

        This folds the parts' confirmations into finalize (the small-file path leaves its one part
        unconfirmed): only the unconfirmed parts are looked up, and only a client that sent
        ``partsMd5`` gets this, on a store whose part ETags are their MD5s. The part must be held with
        its planned size, and with the confirmed parts' MD5s its MD5 must add up to ``partsMd5``
        (a part staged twice, as Azure keeps it, is the copy that does).

        Raises:
            IntegrityError: the store holds the parts, but not the ones that add up to ``partsMd5``.
        """
        if parts_md5 is None or not self._ctx.store.etags_are_md5 or len(missing) > MAX_UNCONFIRMED_PARTS:
            return None
        only = missing[0].partNumber if len(missing) == 1 else None
        try:
            stored = await self._ctx.store.list_parts(spec.objectKey, spec.uploadId, only)
        except NotFoundError:
            return None  # completed meanwhile (the caller looks for the finished object) or aborted
        options: list[list[str]] = []
        for p in missing:
            held = {normalize_etag(s.etag) for s in stored if s.number == p.partNumber and s.size == p.partSize}
            candidates = sorted(m for m in held if ids.is_md5_hex(m))
            if not candidates:
                return None
            options.append(candidates)
        order = sorted(spec.parts, key=lambda p: p.partNumber)
        numbers = [p.partNumber for p in missing]
        for combo in itertools.islice(itertools.product(*options), MAX_PART_COMBINATIONS):
            trial = {**{n: md5 for n, (md5, _) in confirmed.items()}, **dict(zip(numbers, combo, strict=True))}
            if multipart_etag([trial[p.partNumber] for p in order]) == parts_md5.lower():
                return dict(zip(numbers, combo, strict=True))
        raise IntegrityError(
            f"the parts the store holds for object {spec.objectId} are not the ones this client sent "
            "(another client uploaded parts of this object); nothing was finalized: upload the file again"
        )

    async def _finished(
        self, object_id: str, upload_id: str, md5: str | None, parts_md5: str | None
    ) -> ObjectSpecification:
        """A finalize of an upload that is already finished: the same file succeeds again, another is refused."""
        done = await self._state.object_spec(object_id)
        if done is None or done.uploadId != upload_id:
            raise NotFoundError(f"no upload {upload_id!r} in progress for object {object_id}")
        if md5 and done.objectMd5 and md5 != done.objectMd5:
            raise IntegrityError(
                f"upload {upload_id} finished with the MD5 {done.objectMd5}, not {md5}: the object holds another file"
            )
        check_parts(parts_md5, [p.sourceMd5 or "" for p in sorted(done.parts, key=lambda p: p.partNumber)], object_id)
        return done

    async def exists(self, principal: Principal, object_id: str) -> bool:
        """Score's "exists": the finished object's ``.meta`` is present, or (an object Score's Azure profile
        wrote, which has none) its bytes are.
        """
        await self._authorize(principal, object_id)
        return await self._stored(object_id)

    async def _stored(self, object_id: str) -> bool:
        """The object is finished: its ``.meta``, or else its bytes (Score's Azure layout keeps no ``.meta``)."""
        if await self._state.object_spec(object_id) is not None:
            return True
        return await self._ctx.store.head(ids.object_key(object_id)) is not None

    async def cancel(self, principal: Principal, object_id: str, upload_id: str | None = None) -> None:
        """Abort every in-progress upload of the object (or only *upload_id*) and delete its state.

        Raises:
            NotFoundError: nothing to cancel (*upload_id* finished, cancelled or replaced meanwhile).
        """
        # Anyone allowed to upload the object may cancel (the way out of a stale upload); the
        # canceled upload's client then fails on its next request.
        await self._authorize(principal, object_id)
        found = await self._state.find_upload_ids(object_id)
        if upload_id is not None:  # a client cancelling its own upload, never one that replaced it
            found = [u for u in found if u == ids.validate_upload_id(upload_id)]
        if not found:
            raise NotFoundError(
                f"no upload in progress for object {object_id}" + (" with that id" if upload_id else "")
            )
        for live in found:
            await self._ctx.store.abort_multipart(ids.object_key(object_id), live)
            await self._state.delete_upload(object_id, live)
