"""Azure Blob Storage through azure-storage-blob, with SAS URLs per blob.

Mapping of the multipart port onto block blobs:

- an upload is a record in :class:`score.storage.ledger.UploadLedger` (Azure has no upload object);
- part *n* is an uncommitted block whose id encodes the upload id, *n* and the part's MD5
  (``<32 hex upload id><5 digits><22 chars base64url MD5>``, 59 bytes; every block id of a blob
  must have one length). Azure checks each block's ``Content-MD5`` as it arrives, and the MD5 in
  the id lets the server check a confirmed part against the block list, which carries no hashes;
- completing is Put Block List with the blob's MD5 as ``Content-MD5`` and ``md5chksum`` metadata;
- resuming reads the uncommitted block list.

The SDK is blocking: each call goes through :func:`score.storage.errors.run_blocking` (a worker thread,
and the Azure table of error codes). This module
imports azure-storage-blob; only ``server.stores.azure`` imports it, when the store is Azure.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from azure.storage.blob import BlobBlock, ContentSettings

from score.domain.errors import IntegrityError, NotFoundError, ScoreError
from score.domain.ids import is_md5_hex
from score.domain.integrity import hex_to_b64
from score.domain.model import GetTarget, Listing, ObjectInfo, PendingUpload, StoredPart, UploadPartTarget
from score.domain.parts import PartLimits
from score.storage.azure_sas import SasSigner
from score.storage.errors import ABSENT, AlreadyExistsError, azure_table, run_blocking
from score.storage.facts import StoreFacts
from score.storage.ledger import UploadLedger
from score.storage.stored_md5 import stored_md5

log = logging.getLogger("score.storage.azure")
_ERRORS = azure_table()
_NO_MD5 = "A" * 22  # base64url of 16 zero bytes: a part signed without an MD5
_ID_LENGTH = 32 + 5 + 22


def block_id(upload_id: str, number: int, md5_hex: str | None) -> str:
    """The (pre-base64) block id of part *number* of an upload."""
    md5 = base64.urlsafe_b64encode(bytes.fromhex(md5_hex)).decode().rstrip("=") if md5_hex else _NO_MD5
    return f"{upload_id}{number:05d}{md5}"


def parse_block_id(upload_id: str, value: str) -> tuple[int, str] | None:
    """``(part number, etag)`` of one of this upload's blocks, or None for any other block.

    The etag is the part's MD5 when the id carries one, else the block id itself.
    """
    if len(value) != _ID_LENGTH or not value.startswith(upload_id) or not value[32:37].isdigit():
        return None
    md5 = value[37:]
    if md5 == _NO_MD5:
        return int(value[32:37]), value
    try:
        return int(value[32:37]), base64.urlsafe_b64decode(md5 + "==").hex()
    except ValueError:
        return None


class AzureObjectStore(StoreFacts):
    """The :class:`score.domain.ports.ObjectStore` for Azure Blob Storage."""

    def __init__(
        self,
        service: Any,
        container: str,
        signer: SasSigner,
        limits: PartLimits,
        *,
        md5_metadata_key: str = "md5chksum",
    ) -> None:
        """Wrap a ``BlobServiceClient`` and one *container*; *signer* makes the SAS of every URL."""
        self._service = service
        self._container_name = container
        self._container = service.get_container_client(container)
        self._signer = signer
        # Azure: a block's "etag" is the MD5 its id carries (Put Block answers with Content-MD5, no ETag).
        self._set_facts("az", limits, etags_are_md5=True)
        self._md5_key = md5_metadata_key.lower()
        self._ledger = UploadLedger(self.put_bytes, self.get_bytes, self.delete, self.list)

    # ---- helpers -----------------------------------------------------------------------
    def _blob(self, key: str) -> Any:
        return self._container.get_blob_client(key)

    def _url(self, key: str, permission: str, expires_at: datetime) -> str:
        # A SAS states its expiry in whole seconds: round up, so a URL never lives shorter than asked.
        whole = expires_at.replace(microsecond=0) + (timedelta(seconds=1) if expires_at.microsecond else timedelta())
        sas = self._signer.sign(self._container_name, key, permission, whole)
        return f"{self._blob(key).url}?{sas}"

    async def _uncommitted(self, key: str) -> list[Any]:
        try:
            _, uncommitted = await run_blocking(
                _ERRORS, "listing blocks", self._blob(key).get_block_list, "uncommitted"
            )
        except ABSENT:
            return []
        return list(uncommitted)

    # ---- multipart ---------------------------------------------------------------------
    async def create_multipart(self, key: str, md5: str | None = None) -> str:
        """Record the upload; blocks are staged on the blob itself."""
        return (await self._ledger.open(key, md5)).upload_id

    def sign_upload_part(self, target: UploadPartTarget, md5_hex: str | None, expires_at: datetime) -> str:
        """A write SAS for the blob with Put Block's ``comp=block&blockid=`` for this part."""
        raw = block_id(target.upload_id, target.number, md5_hex)
        encoded = quote(base64.b64encode(raw.encode()).decode(), safe="")
        return f"{self._url(target.key, 'w', expires_at)}&comp=block&blockid={encoded}"

    async def list_parts(self, key: str, upload_id: str, number: int | None = None) -> list[StoredPart]:
        """The upload's uncommitted blocks (a part staged twice with other bytes appears twice)."""
        await self._ledger.find(key, upload_id)
        out = []
        for block in await self._uncommitted(key):
            parsed = parse_block_id(upload_id, str(block.id))
            if parsed is not None and (number is None or parsed[0] == number):
                out.append(StoredPart(parsed[0], parsed[1], int(block.size)))
        return sorted(out, key=lambda p: p.number)

    async def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]], md5: str | None) -> None:
        """Put Block List of the confirmed blocks, with the blob's MD5 stored."""
        upload = await self._ledger.find(key, upload_id)
        staged = {str(b.id) for b in await self._uncommitted(key)}
        blocks = []
        for number, etag in sorted(parts):
            bid = block_id(upload_id, number, etag) if is_md5_hex(etag) else etag
            if bid not in staged:
                raise IntegrityError(f"the store holds no block for part {number} with that MD5; upload it again")
            blocks.append(BlobBlock(block_id=bid))
        whole = md5 or upload.md5
        settings = ContentSettings(
            content_type="application/octet-stream", content_md5=bytearray(bytes.fromhex(whole)) if whole else None
        )
        metadata = {self._md5_key: hex_to_b64(whole)} if whole else {}
        await run_blocking(
            _ERRORS,
            "completing an upload",
            self._blob(key).commit_block_list,
            blocks,
            content_settings=settings,
            metadata=metadata,
        )
        await self._ledger.close(upload_id)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Forget the upload; when no blob is committed under *key*, discard its staged blocks now.

        Azure drops uncommitted blocks at the blob's next commit or after seven days; it has no
        call that drops them alone. Committing an empty list and deleting that blob does, and is
        safe only when there is no committed blob to lose.
        """
        await self._ledger.close(upload_id)
        if not await self._uncommitted(key) or await self.head(key) is not None:
            return
        blob = self._blob(key)
        try:
            await run_blocking(_ERRORS, "aborting an upload", blob.commit_block_list, [])
            await run_blocking(_ERRORS, "aborting an upload", blob.delete_blob)
        except ABSENT:
            pass

    async def pending_uploads(self) -> list[PendingUpload]:
        """Every recorded upload."""
        return await self._ledger.all()

    # ---- downloads ---------------------------------------------------------------------
    def sign_get(self, target: GetTarget, expires_at: datetime) -> str:
        """A read SAS for the blob (a SAS cannot bind a range; the client sends it)."""
        return self._url(target.key, "r", expires_at)

    def _md5_of(self, props: Any) -> str | None:
        """The blob's Content-MD5, else its ``md5chksum`` metadata."""
        native = props.content_settings.content_md5
        return stored_md5(base64.b64encode(bytes(native)).decode() if native else None, props.metadata, self._md5_key)

    async def head(self, key: str) -> ObjectInfo | None:
        """Get Blob Properties (None when the blob does not exist or has only uncommitted blocks)."""
        try:
            props = await run_blocking(_ERRORS, "reading an object", self._blob(key).get_blob_properties)
        except ABSENT:
            return None
        return ObjectInfo(
            key=key,
            size=int(props.size),
            last_modified=props.last_modified,
            etag=str(props.etag).strip('"') or None,
            md5=self._md5_of(props),
            location=self._container_name,
        )

    async def read_range(self, target: GetTarget) -> bytes:
        """Get Blob with ``x-ms-range`` (the whole blob without a range)."""
        rng = target.byte_range
        kwargs = {"offset": rng.start, "length": rng.length} if rng is not None and rng.length else {}

        def read() -> bytes:
            return bytes(self._blob(target.key).download_blob(**kwargs).readall())

        try:
            return await run_blocking(_ERRORS, "reading an object", read)
        except ABSENT as exc:
            raise NotFoundError(f"object {target.key} not found") from exc

    # ---- small objects -------------------------------------------------------------------
    async def put_bytes(self, key: str, data: bytes) -> None:
        """Put Blob (replacing any blob there)."""
        await run_blocking(_ERRORS, "writing state", self._blob(key).upload_blob, data, overwrite=True)

    async def get_bytes(self, key: str) -> bytes | None:
        """A whole small blob, or None."""
        try:
            return await self.read_range(GetTarget(key))
        except NotFoundError:
            return None

    async def delete(self, key: str) -> None:
        """Delete Blob (absent blobs are fine)."""
        try:
            await run_blocking(_ERRORS, "deleting state", self._blob(key).delete_blob)
        except ABSENT:
            pass

    async def list(self, prefix: str, delimiter: str | None = None) -> Listing:
        """List Blobs under *prefix*; with a delimiter, its virtual directories as prefixes."""

        def walk() -> Listing:
            keys: list[str] = []
            prefixes: list[str] = []
            if delimiter:
                for item in self._container.walk_blobs(name_starts_with=prefix, delimiter=delimiter):
                    (prefixes if item.name.endswith(delimiter) and not hasattr(item, "size") else keys).append(
                        item.name
                    )
            else:
                keys.extend(self._container.list_blob_names(name_starts_with=prefix))
            return Listing(keys=sorted(keys), prefixes=sorted(prefixes))

        return await run_blocking(_ERRORS, "listing", walk)

    async def healthy(self) -> bool:
        """The container exists and the credentials work."""
        try:
            await run_blocking(_ERRORS, "health check", self._container.get_container_properties)
        except ScoreError:
            return False
        return True

    async def ensure_buckets(self) -> None:
        """Create the container if it is missing (development and tests)."""
        try:
            await run_blocking(_ERRORS, "creating a container", self._container.create_container)
        except AlreadyExistsError:
            pass
