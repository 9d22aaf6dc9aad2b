"""Azure Blob Storage through azure-storage-blob, with SAS URLs per blob.

Mapping of the multipart port onto block blobs:

- an upload is a record in :class:`score.storage.ledger.UploadLedger` (Azure has no upload object);
- part *n* is an uncommitted block whose id encodes the upload id, *n* and the part's MD5
  (``<32 hex upload id><5 digits><22 chars base64url MD5>``, 59 bytes; every block id of a blob
  must have one length). Azure checks each block's ``Content-MD5`` as it arrives, and the MD5 in
  the id lets the server check a confirmed part against the block list, which carries no hashes;
- completing is Put Block List with the blob's MD5 as ``Content-MD5`` and ``md5chksum`` metadata;
- resuming reads the uncommitted block list.

Objects Score's Azure profile wrote (a blob named by the bare object id, ``Content-MD5`` set, no
``.meta``) are read as they are: :mod:`score.storage.azure_layout` gives every object key its blob
names, and a ``score-azure`` layout writes new objects that way too, so Score 5.x can read them.

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

from score.domain.errors import ConflictError, IntegrityError, NotFoundError, ScoreError
from score.domain.ids import is_md5_hex
from score.domain.integrity import hex_to_b64
from score.domain.model import GetTarget, Listing, ObjectInfo, PendingUpload, StoredPart, UploadPartTarget
from score.domain.parts import PartLimits
from score.storage.azure_layout import BlobNames, is_score_block_id
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
        layout: str = "data",
    ) -> None:
        """Wrap a ``BlobServiceClient`` and one *container*; *signer* makes the SAS of every URL.

        *layout* names new objects' blobs (:class:`score.storage.azure_layout.BlobNames`); reads find both.
        """
        self._service = service
        self._container_name = container
        self._container = service.get_container_client(container)
        self._signer = signer
        # Azure: a block's "etag" is the MD5 its id carries (Put Block answers with Content-MD5, no ETag).
        self._set_facts("az", limits, etags_are_md5=True)
        self._md5_key = md5_metadata_key.lower()
        self._names = BlobNames(layout)
        self._ledger = UploadLedger(self.put_bytes, self.get_bytes, self.delete, self.list)

    # ---- helpers -----------------------------------------------------------------------
    def _blob(self, name: str) -> Any:
        return self._container.get_blob_client(name)

    def _target(self, key: str) -> Any:
        """The blob a write of *key* goes to (an upload's blocks too)."""
        return self._blob(self._names.write_name(key))

    def _url(self, name: str, permission: str, expires_at: datetime) -> str:
        # A SAS states its expiry in whole seconds: round up, so a URL never lives shorter than asked.
        whole = expires_at.replace(microsecond=0) + (timedelta(seconds=1) if expires_at.microsecond else timedelta())
        sas = self._signer.sign(self._container_name, name, permission, whole)
        return f"{self._blob(name).url}?{sas}"

    def _read_name(self, target: GetTarget) -> str | None:
        """The blob a head() found for *target* (its ``location``), when it is one of the key's names."""
        loc = target.location
        return loc if loc is not None and loc in self._names.read_names(target.key) else None

    async def _uncommitted(self, key: str) -> list[Any]:
        try:
            _, uncommitted = await run_blocking(
                _ERRORS, "listing blocks", self._target(key).get_block_list, "uncommitted"
            )
        except ABSENT:
            return []
        return list(uncommitted)

    async def _discard_uncommitted(self, key: str) -> None:
        """Drop the blob's uncommitted blocks when no committed blob is there to lose (commit none, delete)."""
        blob = self._target(key)
        try:
            await run_blocking(_ERRORS, "discarding blocks", blob.commit_block_list, [])
            await run_blocking(_ERRORS, "discarding blocks", blob.delete_blob)
        except ABSENT:
            pass

    async def _clear_foreign_blocks(self, key: str) -> None:
        """Make room for this server's blocks on *key*'s blob.

        Azure refuses a block whose id length differs from that of any uncommitted block of the blob,
        for the seven days it keeps them. An unfinished upload of Score's client (ids of 43 bytes) or of
        any other tool would then fail every part of ours: its blocks are dropped when no committed blob
        is there; next to a committed blob (an interrupted overwrite) the upload is refused instead.

        Raises:
            ConflictError: foreign uncommitted blocks sit next to a committed blob.
        """
        foreign = [str(b.id) for b in await self._uncommitted(key) if len(str(b.id)) != _ID_LENGTH]
        if not foreign:
            return
        name = self._names.write_name(key)
        whose = "Score's Azure client" if any(is_score_block_id(f) for f in foreign) else "another client"
        if await self._head_name(key, name) is not None:
            raise ConflictError(
                f"blob {name} holds {len(foreign)} uncommitted block(s) of an unfinished upload by {whose} next to "
                "its committed data; Azure discards them seven days after they were written: upload again then"
            )
        log.warning("dropping %d uncommitted block(s) of %s on blob %s before an upload", len(foreign), whose, name)
        await self._discard_uncommitted(key)

    # ---- multipart ---------------------------------------------------------------------
    async def create_multipart(self, key: str, md5: str | None = None) -> str:
        """Record the upload; blocks are staged on the blob itself (another client's unfinished blocks dropped).

        Raises:
            ConflictError: another client's unfinished blocks sit next to a committed blob.
        """
        await self._clear_foreign_blocks(key)
        return (await self._ledger.open(key, md5)).upload_id

    def sign_upload_part(self, target: UploadPartTarget, md5_hex: str | None, expires_at: datetime) -> str:
        """A write SAS for the blob with Put Block's ``comp=block&blockid=`` for this part."""
        raw = block_id(target.upload_id, target.number, md5_hex)
        encoded = quote(base64.b64encode(raw.encode()).decode(), safe="")
        return f"{self._url(self._names.write_name(target.key), 'w', expires_at)}&comp=block&blockid={encoded}"

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
        """Put Block List of the confirmed blocks, with the blob's MD5 stored.

        An older copy of the object under its other layout's name is deleted: the new blob replaces it.
        """
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
            self._target(key).commit_block_list,
            blocks,
            content_settings=settings,
            metadata=metadata,
        )
        await self._ledger.close(upload_id)
        for other in self._names.other_names(key):  # an overwritten object's older blob, in the other layout
            await self._delete_name(other)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Forget the upload; when no blob is committed under *key*, discard its staged blocks now.

        Azure drops uncommitted blocks at the blob's next commit or after seven days; it has no
        call that drops them alone. Committing an empty list and deleting that blob does, and is
        safe only when there is no committed blob to lose.
        """
        await self._ledger.close(upload_id)
        if not await self._uncommitted(key) or await self._head_name(key, self._names.write_name(key)) is not None:
            return
        await self._discard_uncommitted(key)

    async def pending_uploads(self) -> list[PendingUpload]:
        """Every recorded upload."""
        return await self._ledger.all()

    # ---- downloads ---------------------------------------------------------------------
    def sign_get(self, target: GetTarget, expires_at: datetime) -> str:
        """A read SAS for the blob head() found (a SAS cannot bind a range; the client sends it)."""
        return self._url(self._read_name(target) or self._names.write_name(target.key), "r", expires_at)

    def _md5_of(self, props: Any) -> str | None:
        """The blob's Content-MD5, else its ``md5chksum`` metadata."""
        native = props.content_settings.content_md5
        return stored_md5(base64.b64encode(bytes(native)).decode() if native else None, props.metadata, self._md5_key)

    async def _head_name(self, key: str, name: str) -> ObjectInfo | None:
        try:
            props = await run_blocking(_ERRORS, "reading an object", self._blob(name).get_blob_properties)
        except ABSENT:
            return None
        return ObjectInfo(
            key=key,
            size=int(props.size),
            last_modified=props.last_modified,
            etag=str(props.etag).strip('"') or None,
            md5=self._md5_of(props),
            location=name,
        )

    async def head(self, key: str) -> ObjectInfo | None:
        """Get Blob Properties under each of the key's names (None when no committed blob has one).

        The answer's ``location`` is the blob's name, for :meth:`sign_get` and :meth:`read_range`.
        """
        for name in self._names.read_names(key):
            info = await self._head_name(key, name)
            if info is not None:
                return info
        return None

    async def read_range(self, target: GetTarget) -> bytes:
        """Get Blob with ``x-ms-range`` (the whole blob without a range), under the name head() found or each name."""
        rng = target.byte_range
        kwargs = {"offset": rng.start, "length": rng.length} if rng is not None and rng.length else {}
        found = self._read_name(target)

        def read(name: str) -> bytes:
            return bytes(self._blob(name).download_blob(**kwargs).readall())

        for name in (found,) if found is not None else self._names.read_names(target.key):
            try:
                return await run_blocking(_ERRORS, "reading an object", read, name)
            except ABSENT:
                continue
        raise NotFoundError(f"object {target.key} not found")

    # ---- small objects -------------------------------------------------------------------
    async def put_bytes(self, key: str, data: bytes) -> None:
        """Put Blob (replacing any blob there)."""
        await run_blocking(_ERRORS, "writing state", self._target(key).upload_blob, data, overwrite=True)

    async def get_bytes(self, key: str) -> bytes | None:
        """A whole small blob, or None."""
        try:
            return await self.read_range(GetTarget(key))
        except NotFoundError:
            return None

    async def _delete_name(self, name: str) -> None:
        try:
            await run_blocking(_ERRORS, "deleting a blob", self._blob(name).delete_blob)
        except ABSENT:
            pass

    async def delete(self, key: str) -> None:
        """Delete Blob under each of the key's names (absent blobs are fine)."""
        for name in self._names.read_names(key):
            await self._delete_name(name)

    async def list(self, prefix: str, delimiter: str | None = None) -> Listing:
        """List Blobs under *prefix*; with a delimiter, its virtual directories as prefixes.

        Under ``data/``, the objects Score's Azure profile keeps at the container's root are listed
        too, as ``data/<id>``.
        """

        def walk() -> Listing:
            keys: set[str] = set()
            prefixes: list[str] = []
            if delimiter:
                for item in self._container.walk_blobs(name_starts_with=prefix, delimiter=delimiter):
                    if item.name.endswith(delimiter) and not hasattr(item, "size"):
                        prefixes.append(item.name)
                    else:
                        keys.add(item.name)
            else:
                keys.update(self._container.list_blob_names(name_starts_with=prefix))
            root = BlobNames.root_prefix(prefix)
            if root is not None:  # root-level blobs only: one level of the container, not all of it
                for item in self._container.walk_blobs(name_starts_with=root, delimiter="/"):
                    key = None if item.name.endswith("/") else BlobNames.key_of_root_blob(item.name)
                    if key is not None:
                        keys.add(key)
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
