"""Open multipart uploads for stores that have no upload object of their own (Azure, GCS).

S3 has CreateMultipartUpload and ListMultipartUploads. Azure stages uncommitted blocks on the
blob itself and GCS has no multipart API that its emulators (or obstore) support, so those
adapters record each upload as a small JSON object under ``.score-multipart/<uploadId>.json``
in the same container or bucket: the key it writes, when it started, and the MD5 declared at
start. The record makes an upload id real (a part for an unknown upload is refused), lists
uploads for the cleanup job, and disappears when the upload completes or is aborted.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from score.domain.errors import InvalidRequestError, NotFoundError
from score.domain.ids import validate_upload_id
from score.domain.model import Listing, PendingUpload

PREFIX = ".score-multipart/"


def is_upload_id(value: str) -> bool:
    """True when *value* is a safe upload id."""
    try:
        validate_upload_id(value)
    except InvalidRequestError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class OpenUpload:
    """One recorded upload."""

    key: str
    upload_id: str
    initiated: datetime
    md5: str | None


class UploadLedger:
    """Upload records kept through four small-object operations of the adapter that owns it."""

    def __init__(
        self,
        put: Callable[[str, bytes], Awaitable[None]],
        get: Callable[[str], Awaitable[bytes | None]],
        delete: Callable[[str], Awaitable[None]],
        list_keys: Callable[[str], Awaitable[Listing]],
    ) -> None:
        """Bind to the adapter's own put/get/delete/list of small objects."""
        self._put, self._get, self._delete, self._list = put, get, delete, list_keys

    @staticmethod
    def record_key(upload_id: str) -> str:
        """Where an upload's record lives."""
        return f"{PREFIX}{validate_upload_id(upload_id)}.json"

    async def open(self, key: str, md5: str | None, now: datetime | None = None) -> OpenUpload:
        """Record a new upload of *key* under a fresh random id (32 hex digits)."""
        upload = OpenUpload(key, secrets.token_hex(16), now or datetime.now(UTC), md5)
        body = {"key": key, "initiated": upload.initiated.isoformat(), "md5": md5}
        await self._put(self.record_key(upload.upload_id), json.dumps(body).encode())
        return upload

    async def find(self, key: str, upload_id: str) -> OpenUpload:
        """The record of *upload_id*, which must be an upload of *key*.

        Raises:
            NotFoundError: no such upload (never started, completed or aborted), or one of another key.
        """
        found = await self._read(upload_id)
        if found is None or found.key != key:
            raise NotFoundError("no such multipart upload")
        return found

    async def _read(self, upload_id: str) -> OpenUpload | None:
        raw = await self._get(self.record_key(upload_id))
        if raw is None:
            return None
        try:
            body = json.loads(raw)
            return OpenUpload(str(body["key"]), upload_id, datetime.fromisoformat(body["initiated"]), body.get("md5"))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged record is an upload nobody can finish; cleanup removes it

    async def close(self, upload_id: str) -> None:
        """Forget an upload (absent records are fine)."""
        await self._delete(self.record_key(upload_id))

    async def all(self) -> list[PendingUpload]:
        """Every recorded upload, oldest first."""
        out: list[PendingUpload] = []
        for record in (await self._list(PREFIX)).keys:
            upload_id = record[len(PREFIX) :].removesuffix(".json")
            if not is_upload_id(upload_id):
                continue  # not one of ours
            found = await self._read(upload_id)
            if found is not None:
                out.append(PendingUpload(found.key, upload_id, found.initiated))
        return sorted(out, key=lambda u: u.initiated)
