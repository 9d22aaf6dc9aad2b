"""GA4GH DRS 1.2: every stored object is a DRS blob, every analysis a bundle of its files.

The same policy, publish rules and audit as downloads decide (``readable_record``); access URLs
are the whole-object pre-signed URLs of ``GET /download/{id}?external=true``. Every object has a
checksum, as DRS requires: its MD5 where anything knows it, else the store's ETag, else an MD5
computed once from its bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from score.domain import errors as e
from score.domain import ids
from score.domain.access import may_list
from score.domain.model import GetTarget, ObjectInfo, ObjectRecord, Principal
from score.domain.ranges import ByteRange
from score.services.context import ServiceContext
from score.services.download import DownloadService, readable_record
from score.wire.schemas import ObjectSpecification

ACCESS_ID = "https"
HASH_CHUNK = 16 * 1024 * 1024  # bytes read at a time when an MD5 must be computed
HASH_CACHE_SIZE = 1024
_DRS_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")  # fullmatch: "$" would let a trailing newline through


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_id(drs_id: str) -> None:
    if not _DRS_ID.fullmatch(drs_id):
        raise e.InvalidRequestError("a DRS id is 1 to 128 letters, digits or . _ ~ -")


def bundle_checksum(md5s: list[str]) -> str:
    """DRS's bundle checksum: the MD5 of the contents' MD5s, sorted and concatenated."""
    return hashlib.md5("".join(sorted(md5s)).encode()).hexdigest()  # noqa: S324 - DRS's definition


@dataclass(frozen=True)
class AccessUrl:
    """A blob's pre-signed URL and the moment it stops working."""

    url: str
    expires_at: datetime


class DrsService:
    """Framework-free DRS logic; *host* names this server in ``drs://`` URIs."""

    def __init__(self, ctx: ServiceContext, downloads: DownloadService) -> None:
        """Bind to the adapters in *ctx* and the download use case."""
        self._ctx = ctx
        self._downloads = downloads
        self._computed: OrderedDict[tuple[str, int, datetime], str] = OrderedDict()

    async def object(self, principal: Principal, drs_id: str, host: str, region: str | None = None) -> dict[str, Any]:
        """A DRS object (blob) or, when *drs_id* names an analysis, a bundle of its readable files.

        Args:
            principal: the caller.
            drs_id: an object id or an analysis id.
            host: this server's name in ``drs://`` URIs.
            region: the store's cloud region, given on a blob's access method when known.

        Raises:
            InvalidRequestError: a malformed id.
            NotFoundError / UnauthenticatedError / ForbiddenError / ConflictError: as for downloads.
        """
        _check_id(drs_id)
        if not ids.is_object_id(drs_id):
            return await self._bundle(principal, drs_id, host)
        try:
            return await self._blob(principal, drs_id, host, region)
        except (e.NotFoundError, e.ForbiddenError, e.UnauthenticatedError) as blob_error:
            # Perhaps an analysis id. An id that is neither answers as the object lookup did:
            # refused alike for callers without the system scope, so unknown ids leak nothing.
            try:
                return await self._bundle(principal, drs_id, host)
            except e.NotFoundError:
                raise blob_error from None

    async def checksum(
        self, spec: ObjectSpecification, info: ObjectInfo, record: ObjectRecord | None
    ) -> dict[str, str]:
        """The object's DRS checksum, never unknown.

        Its MD5 from the first place that knows it: the ``.meta`` spec, the store's MD5 (``Content-MD5``
        or ``md5chksum`` metadata), the metadata service's ``fileMd5``. Else the store's ETag (DRS's
        ``etag`` type: an S3 multipart ETag is no MD5). Else, for bytes put into the store by hand, the
        MD5 of the bytes, computed once and kept while the object is unchanged.
        """
        md5 = spec.objectMd5 or info.md5 or (record.file_md5 if record is not None else None)
        if md5:
            return {"type": "md5", "checksum": md5.lower()}
        if info.etag:
            return {"type": "etag", "checksum": info.etag}
        return {"type": "md5", "checksum": await self._computed_md5(info)}

    async def _computed_md5(self, info: ObjectInfo) -> str:
        cache_key = (info.key, info.size, info.last_modified)
        hit = self._computed.get(cache_key)
        if hit is not None:
            self._computed.move_to_end(cache_key)
            return hit
        digest = hashlib.md5()  # noqa: S324 - DRS's checksum, not a security digest
        for start in range(0, info.size, HASH_CHUNK):
            rng = ByteRange(start, min(HASH_CHUNK, info.size - start))
            digest.update(await self._ctx.store.read_range(GetTarget(info.key, rng, info.location)))
        self._computed[cache_key] = md5 = digest.hexdigest()
        while len(self._computed) > HASH_CACHE_SIZE:
            self._computed.popitem(last=False)
        return md5

    async def _blob(self, principal: Principal, object_id: str, host: str, region: str | None) -> dict[str, Any]:
        record = await readable_record(self._ctx, principal, object_id)  # NotFoundError: not registered
        spec, info = await self._downloads.stored(object_id)
        method: dict[str, Any] = {"type": "https", "access_id": ACCESS_ID}
        if region:
            method["region"] = region
        out: dict[str, Any] = {
            "id": object_id,
            "self_uri": f"drs://{host}/{object_id}",
            "size": spec.objectSize,
            "created_time": _time(info.last_modified),
            "updated_time": _time(info.last_modified),
            "checksums": [await self.checksum(spec, info, record)],
            "access_methods": [method],
        }
        if record is not None and record.file_name:
            out["name"] = record.file_name
            if record.analysis_id:
                out["description"] = (
                    f"file {record.file_name} of analysis {record.analysis_id} (study {record.study_id})"
                )
        return out

    async def _bundle(self, principal: Principal, analysis_id: str, host: str) -> dict[str, Any]:
        object_ids = await self._ctx.metadata.analysis_objects(analysis_id)
        contents: list[dict[str, Any]] = []
        sums: list[str] = []
        size = 0
        times: list[datetime] = []
        refusal: e.ScoreError | None = None
        for oid in object_ids:
            record = await self._ctx.metadata.get(oid)
            if not may_list(principal, record, self._ctx.policy):
                if refusal is None:
                    try:  # audited, and the error a caller without access gets
                        await readable_record(self._ctx, principal, oid)
                    except e.ScoreError as exc:
                        refusal = exc
                continue
            try:
                spec, info = await self._downloads.stored(oid)
            except e.NotFoundError:
                continue  # registered, not uploaded yet
            name = record.file_name if record is not None and record.file_name else oid
            contents.append({"name": name, "id": oid, "drs_uri": [f"drs://{host}/{oid}"]})
            size += spec.objectSize
            times.append(info.last_modified)
            sums.append((await self.checksum(spec, info, record))["checksum"])
        if not contents:
            raise refusal or e.NotFoundError(f"analysis {analysis_id} has no files in the store yet")
        return {
            "id": analysis_id,
            "self_uri": f"drs://{host}/{analysis_id}",
            "name": analysis_id,
            "size": size,
            "created_time": _time(min(times)),
            "updated_time": _time(max(times)),
            "checksums": [{"type": "md5", "checksum": bundle_checksum(sums)}],
            "contents": contents,
            "description": f"the files of analysis {analysis_id} this token may read",
        }

    async def access_url(self, principal: Principal, drs_id: str, access_id: str) -> AccessUrl:
        """The pre-signed URL of a blob (audited as a download URL) and its expiry.

        Raises:
            NotFoundError: an unknown object or access id (bundles have none).
            UnauthenticatedError / ForbiddenError / ConflictError: as for downloads.
        """
        _check_id(drs_id)
        if access_id != ACCESS_ID:
            raise e.NotFoundError(f"no access method {access_id!r}: this server offers only {ACCESS_ID!r}")
        if not ids.is_object_id(drs_id):
            raise e.NotFoundError(f"{drs_id} is not an object with an access method (bundles have none)")
        try:
            spec = await self._downloads.download_spec(principal, drs_id, 0, -1, external=True, exclude_urls=False)
        except e.NotFoundError as blob_error:
            try:  # an analysis the caller may read (ids look alike): say so, not "submit its analysis first"
                await self._bundle(principal, drs_id, "")
            except e.ScoreError:
                raise blob_error from None  # neither: answered as the object lookup did, so nothing leaks
            raise e.NotFoundError(f"{drs_id} is a bundle (an analysis): bundles have no access methods") from None
        url = spec.parts[0].url if spec.parts else None
        if not url or spec.urlsExpireAt is None:
            raise e.NotFoundError(f"object {drs_id} has no data in the store")
        return AccessUrl(url, spec.urlsExpireAt)
