"""Upload state kept in the store, in Score's bucket layout, so server replicas stay stateless.

``upload/<id>_<uploadId>/.meta`` holds the upload's spec; each confirmed part is a zero-byte
marker ``part-<8 hex>|{"partNumber":n,"md5":"…","etag":"…"}``; ``data/<id>.meta`` is the
finished object's spec (with each part's ``sourceMd5``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import anyio
from pydantic import ValidationError

from score.domain import ids
from score.domain.errors import UpstreamUnavailableError
from score.domain.ports import ObjectStore
from score.wire.schemas import ObjectSpecification

DELETE_CONCURRENCY = 16


@runtime_checkable
class BatchDeleter(Protocol):
    """A store that deletes many keys in one call (S3's DeleteObjects); others delete key by key."""

    async def delete_many(self, keys: list[str]) -> None:
        """Delete *keys* (absent ones are fine)."""
        ...


@dataclass(frozen=True, slots=True)
class PartMarker:
    """A confirmed part."""

    number: int
    md5: str
    etag: str


@dataclass(frozen=True, slots=True)
class UploadOwner:
    """Who started an upload: the token's subject and, from our client, the hash of its upload token."""

    subject: str
    token_hash: str | None

    def encode(self) -> bytes:
        """JSON for the store."""
        return json.dumps({"subject": self.subject, "tokenHash": self.token_hash}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> UploadOwner | None:
        """Parse a stored owner record; None when unreadable (treated as an upload without owner)."""
        try:
            data = json.loads(raw)
            token_hash = data.get("tokenHash")
            return cls(str(data.get("subject") or ""), str(token_hash) if token_hash else None)
        except (ValueError, AttributeError):
            return None


def encode_spec(spec: ObjectSpecification) -> bytes:
    """Serialise a spec for storage (no URLs, no fields Score's Java reader would not know)."""
    data = spec.model_dump(exclude={"urlsExpireAt", "etagIsMd5"})
    for part in data["parts"]:
        part["url"] = None
    return json.dumps(data, separators=(",", ":")).encode()


def decode_spec(raw: bytes, key: str) -> ObjectSpecification:
    """Parse a stored spec (ours or one written by Score 5.x).

    Raises:
        UpstreamUnavailableError: the stored record is unreadable (not the caller's fault).
    """
    try:
        return ObjectSpecification.model_validate_json(raw)
    except ValidationError as exc:
        raise UpstreamUnavailableError(f"stored state {key} is unreadable", retryable=False) from exc


def marker_key(object_id: str, upload_id: str, marker: PartMarker) -> str:
    """Key of a part marker; the JSON lives in the key itself, as Score writes it."""
    body = json.dumps({"partNumber": marker.number, "md5": marker.md5, "etag": marker.etag}, separators=(",", ":"))
    return ids.part_marker_prefix(object_id, upload_id, marker.number) + body


def parse_marker(key: str) -> PartMarker | None:
    """Parse a marker key; None for anything else."""
    _, sep, body = key.partition("|")
    if not sep:
        return None
    try:
        data = json.loads(body)
        return PartMarker(int(data["partNumber"]), str(data.get("md5") or ""), str(data.get("etag") or ""))
    except (ValueError, KeyError, TypeError):
        return None


class UploadStateRepository:
    """Reads and writes upload state through the object store."""

    def __init__(self, store: ObjectStore) -> None:
        """Use *store* for every state record."""
        self._store = store

    async def object_spec(self, object_id: str) -> ObjectSpecification | None:
        """The finished object's spec, or None when the object does not exist."""
        key = ids.object_meta_key(object_id)
        raw = await self._store.get_bytes(key)
        return None if raw is None else decode_spec(raw, key)

    async def save_object_spec(self, spec: ObjectSpecification) -> None:
        """Record a finished object."""
        await self._store.put_bytes(ids.object_meta_key(spec.objectId), encode_spec(spec))

    async def find_upload_ids(self, object_id: str) -> list[str]:
        """Upload ids of in-progress uploads of *object_id* (Score allows one; we tolerate more)."""
        listing = await self._store.list(ids.upload_prefix(object_id), delimiter="/")
        prefix = ids.upload_prefix(object_id)
        found = []
        for p in listing.prefixes:
            upload_id = p[len(prefix) :].rstrip("/")
            if upload_id and await self._store.get_bytes(ids.upload_meta_key(object_id, upload_id)) is not None:
                found.append(upload_id)
        return found

    async def other_upload_ids(self, object_id: str, upload_id: str) -> list[str]:
        """Upload ids of in-progress uploads of *object_id* other than *upload_id*, in one listing
        when there are none (the caller's own spec is not read back).
        """
        listing = await self._store.list(ids.upload_prefix(object_id), delimiter="/")
        prefix = ids.upload_prefix(object_id)
        found = []
        for p in listing.prefixes:
            other = p[len(prefix) :].rstrip("/")
            if (
                other
                and other != upload_id
                and await self._store.get_bytes(ids.upload_meta_key(object_id, other)) is not None
            ):
                found.append(other)
        return found

    async def upload_spec(self, object_id: str, upload_id: str) -> ObjectSpecification | None:
        """The in-progress upload's spec, or None."""
        key = ids.upload_meta_key(object_id, upload_id)
        raw = await self._store.get_bytes(key)
        return None if raw is None else decode_spec(raw, key)

    async def save_upload_spec(self, spec: ObjectSpecification) -> None:
        """Record a new upload."""
        await self._store.put_bytes(ids.upload_meta_key(spec.objectId, spec.uploadId), encode_spec(spec))

    async def owner(self, object_id: str, upload_id: str) -> UploadOwner | None:
        """Who started the upload (None for uploads started before owners were recorded)."""
        raw = await self._store.get_bytes(ids.upload_owner_key(object_id, upload_id))
        return None if raw is None else UploadOwner.decode(raw)

    async def save_owner(self, object_id: str, upload_id: str, owner: UploadOwner) -> None:
        """Record who started the upload (before its spec, so a visible upload always has its owner)."""
        await self._store.put_bytes(ids.upload_owner_key(object_id, upload_id), owner.encode())

    async def markers(self, object_id: str, upload_id: str) -> dict[int, PartMarker]:
        """Confirmed parts by number."""
        listing = await self._store.list(ids.part_marker_prefix(object_id, upload_id))
        return _parsed(listing.keys)

    async def upload_keys(self, object_id: str, upload_id: str) -> tuple[dict[int, PartMarker], list[str]]:
        """Confirmed parts by number and every state key of the upload, in one listing (for finalize,
        which then deletes those keys without listing them again).
        """
        listing = await self._store.list(ids.upload_dir(object_id, upload_id))
        return _parsed(listing.keys), listing.keys

    async def delete_markers(self, object_id: str, upload_id: str, number: int) -> None:
        """Forget a part's confirmation(s)."""
        listing = await self._store.list(ids.part_marker_prefix(object_id, upload_id, number))
        for key in listing.keys:
            await self._store.delete(key)

    async def save_marker(self, object_id: str, upload_id: str, marker: PartMarker) -> None:
        """Confirm a part, replacing an older confirmation of the same part."""
        await self.delete_markers(object_id, upload_id, marker.number)
        await self._store.put_bytes(marker_key(object_id, upload_id, marker), b"")

    async def delete_upload(self, object_id: str, upload_id: str, keys: list[str] | None = None) -> None:
        """Remove every state record of an upload: the spec first (the upload is then no longer visible,
        so a visible upload never lacks its owner or has lost markers), then the owner and the markers,
        in one call on a store that deletes in batches. *keys*: the upload's keys from a listing the
        caller just made (saves listing them again); a key written since then is left to ``cleanup``,
        which removes state directories without a spec.
        """
        if keys is None:
            keys = (await self._store.list(ids.upload_dir(object_id, upload_id))).keys
        meta = ids.upload_meta_key(object_id, upload_id)
        owner = ids.upload_owner_key(object_id, upload_id)
        await self._store.delete(meta)
        rest = [k for k in keys if k not in (meta, owner)] + [owner]
        if isinstance(self._store, BatchDeleter) and len(rest) > 1:
            await self._store.delete_many(rest)
            return
        limiter = anyio.CapacityLimiter(DELETE_CONCURRENCY)

        async def delete(key: str) -> None:
            async with limiter:
                await self._store.delete(key)

        async with anyio.create_task_group() as tg:
            for key in rest:
                tg.start_soon(delete, key)


def _parsed(keys: list[str]) -> dict[int, PartMarker]:
    out: dict[int, PartMarker] = {}
    for key in keys:
        m = parse_marker(key)
        if m is not None:
            out[m.number] = m
    return out
