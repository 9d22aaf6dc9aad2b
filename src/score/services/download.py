"""Download use cases: the download spec (per-part ranged URLs), external URL, ping, listing."""

from __future__ import annotations

import asyncio
from datetime import datetime

from score.domain import ids
from score.domain.access import check_download_state, may_list
from score.domain.errors import NotFoundError, ScoreError
from score.domain.model import GetTarget, ObjectInfo, ObjectRecord, Principal
from score.domain.parts import PartSlice, plan_parts
from score.domain.ranges import ByteRange, resolve_range
from score.services.auditing import authorized_record, url_issued
from score.services.context import ServiceContext
from score.services.spec_cache import SpecCache
from score.services.state import UploadStateRepository
from score.wire.schemas import ObjectInfoOut, ObjectSpecification, Part

SENTINEL_BODY = b"score sentinel object: its signed URL proves the object store is reachable\n"
BATCH_CONCURRENCY = 16  # objects of one batch looked up at once (store and metadata round trips overlap)


def split_range(stored: list[Part], rng: ByteRange) -> list[Part]:
    """Cut *rng* along the stored part boundaries.

    A part wholly inside the range keeps its ``sourceMd5``; a part cut by the range's edges
    loses it (its MD5 is unknown), so a correct partial download never fails validation.
    """
    out: list[Part] = []
    number = 1
    for p in stored:
        start = max(p.offset, rng.start)
        end = min(p.offset + p.partSize, rng.end)
        if end <= start:
            continue
        whole = start == p.offset and end == p.offset + p.partSize
        out.append(
            Part(partNumber=number, partSize=end - start, offset=start, sourceMd5=p.sourceMd5 if whole else None)
        )
        number += 1
    return out


def _as_parts(slices: list[PartSlice]) -> list[Part]:
    return [Part(partNumber=s.number, partSize=s.size, offset=s.offset) for s in slices if s.size > 0]


async def readable_record(
    ctx: ServiceContext, principal: Principal, object_id: str, exclude_urls: bool = False
) -> ObjectRecord | None:
    """The object's record once *principal* may read it (downloads and htsget alike; audited).

    Raises:
        InvalidRequestError: a malformed id.
        NotFoundError / UnauthenticatedError / ForbiddenError: unknown object, or not allowed.
    """
    record = await authorized_record(ctx, principal, object_id, upload=False)
    check_download_state(record, exclude_urls)
    return record


class DownloadService:
    """Framework-free download logic."""

    def __init__(self, ctx: ServiceContext) -> None:
        """Bind to the adapters in *ctx*."""
        self._ctx = ctx
        self._state = UploadStateRepository(ctx.store)
        self._specs = SpecCache()

    async def _stored_spec(self, object_id: str, need_object: bool) -> tuple[ObjectSpecification, ObjectInfo | None]:
        """The object's spec and the store's facts of its bytes (None when not asked for).

        With *need_object* the bytes must exist (URLs to a missing object would only fail later).
        """
        key = ids.object_key(object_id)
        if need_object:  # the HEAD first: an unchanged object's .meta comes from the cache
            info = await self._ctx.store.head(key)
            spec = None if info is None else self._specs.get(info)
            if spec is None:
                spec = await self._state.object_spec(object_id)
                if spec is not None and info is not None:
                    self._specs.put(info, spec)
        else:
            spec = await self._state.object_spec(object_id)
            if spec is not None:
                return spec, None
            info = await self._ctx.store.head(key)
        if info is None:
            if spec is not None:
                raise NotFoundError(f"object {object_id} is registered but its data is missing from the store")
            raise NotFoundError(f"object {object_id} not found")
        if spec is not None:
            return spec, info
        # An object copied into the bucket by other tools: no .meta, MD5 from store metadata only.
        return ObjectSpecification(
            objectKey=key,
            objectId=object_id,
            uploadId=object_id,
            parts=_as_parts(plan_parts(info.size, self._ctx.store.limits)),
            objectSize=info.size,
            objectMd5=info.md5,
        ), info

    async def stored(self, object_id: str) -> tuple[ObjectSpecification, ObjectInfo]:
        """The object's spec (size, MD5) and the store's facts (times); no policy: callers check first.

        Raises:
            NotFoundError: the bytes are not in the store.
        """
        spec, info = await self._stored_spec(object_id, need_object=True)
        assert info is not None  # need_object: present, or NotFoundError
        return spec, info

    def _expiry(self) -> datetime:
        return self._ctx.clock.now() + self._ctx.download_url_ttl

    async def download_spec(
        self,
        principal: Principal,
        object_id: str,
        offset: int,
        length: int,
        external: bool,
        exclude_urls: bool,
    ) -> ObjectSpecification:
        """Return the download spec: per-part Range-signed URLs, one external URL, or none.

        Raises:
            InvalidRequestError / RangeNotSatisfiableError: bad offset or length.
            NotFoundError: unknown object.
        """
        record = await readable_record(self._ctx, principal, object_id, exclude_urls)
        spec, info = await self._stored_spec(object_id, need_object=not exclude_urls)
        location = info.location if info is not None else None
        stored_parts = [p for p in spec.parts if p.partSize > 0]
        rng = resolve_range(offset, length, spec.objectSize)
        expires = self._expiry()
        base = {"uploadId": object_id, "urlsExpireAt": None if exclude_urls else expires}
        if external:
            url = None
            if not exclude_urls:
                url = self._ctx.store.sign_get(GetTarget(spec.objectKey, location=location), expires)
                url_issued(self._ctx, principal, "url:download", object_id, record)
            part = Part(partNumber=1, partSize=-1, offset=0, url=url)
            return spec.model_copy(update={**base, "parts": [part]})
        whole = rng.start == 0 and rng.length == spec.objectSize
        parts = [p.model_copy(update={"md5": None}) for p in stored_parts] if whole else split_range(stored_parts, rng)
        if not exclude_urls:
            signed = []
            for p in parts:
                part_range = ByteRange(p.offset, p.partSize)
                url = self._ctx.store.sign_get(GetTarget(spec.objectKey, part_range, location), expires)
                url_issued(self._ctx, principal, "url:download", object_id, record, part_range)
                signed.append(p.model_copy(update={"url": url}))
            parts = signed
        else:
            parts = [p.model_copy(update={"url": None}) for p in parts]
        update: dict[str, object] = {**base, "parts": parts}
        if not whole:
            # Score returns the whole-object MD5 here, which makes every partial download fail
            # validation; the range's MD5 is unknown, so we say so.
            update["objectSize"] = rng.length
            update["objectMd5"] = None
        return spec.model_copy(update=update)

    async def download_specs(
        self, principal: Principal, object_ids: list[str]
    ) -> list[tuple[str, ObjectSpecification | ScoreError]]:
        """Whole-object download specs of several objects (``POST /download/specs``), in the order
        asked, duplicates once: each spec as :meth:`download_spec` makes it (authorized and audited
        object by object), or the error it would raise for that object.

        Errors other than :class:`ScoreError` propagate and fail the whole batch.
        """
        limit = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(object_id: str) -> tuple[str, ObjectSpecification | ScoreError]:
            async with limit:
                try:
                    return object_id, await self.download_spec(principal, object_id, 0, -1, False, False)
                except ScoreError as exc:
                    return object_id, exc

        return list(await asyncio.gather(*(one(oid) for oid in dict.fromkeys(object_ids))))

    async def ping(self) -> str:
        """Signed URL of the sentinel object (created on first use)."""
        key = ids.sentinel_key()
        if await self._ctx.store.head(key) is None:
            await self._ctx.store.put_bytes(key, SENTINEL_BODY)
        return self._ctx.store.sign_get(GetTarget(key), self._ctx.clock.now() + self._ctx.ping_url_ttl)

    async def listing(self, principal: Principal) -> list[ObjectInfoOut]:
        """Objects under ``data/`` whose name is an object id and which the caller may read."""
        listing = await self._ctx.store.list(f"{ids.DATA_DIR}/")
        out = []
        for key in listing.keys:
            name = key.rsplit("/", 1)[-1]
            if not ids.is_object_id(name):
                continue
            try:
                record = await self._ctx.metadata.get(name)
            except NotFoundError:
                continue  # in the bucket but not registered: nobody's to list
            if not may_list(principal, record, self._ctx.policy):
                continue
            info = await self._ctx.store.head(key)
            if info is not None:
                out.append(
                    ObjectInfoOut(id=name, lastModified=int(info.last_modified.timestamp() * 1000), size=info.size)
                )
        return out
