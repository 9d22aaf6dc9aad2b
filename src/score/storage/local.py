"""Embedded local-disk object store: S3-like multipart semantics over a data directory.

Layout under the data directory (never shown to clients):

    objects/<key>                 object bytes and small state objects (Score's bucket layout)
    objmeta/<key>.json            per-object metadata (ETag, user metadata such as md5chksum)
    multipart/<uploadId>/         one in-progress multipart upload:
        upload.json               its key and creation time (also the lock file)
        data                      the object being assembled
        parts/<n>.json            one record per received part (etag, offset, size)
        parts/<n>.lock            serialises the commits of one part number
        parts/.score-tmp-*        part bodies being received

A part's body goes to a temporary file of its own. Only once it is complete and its MD5 checked
is it copied (in the kernel) into ``data`` at its offset, under a shared lock on ``upload.json``
that completion and abort take exclusively: a refused or unfinished PUT never touches ``data``, a
PUT that ends after completion finds no upload (404), and a finished object never changes.
Completing an upload is then a rename. A full disk is a :class:`DiskSpaceError` (507), never a
half-written part that looks complete. The store's URLs are served by the server itself
(``/_store/...``), signed with :class:`score.storage.urlsign.UrlSigner`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread

from score.domain.atomic_file import TMP_PREFIX, fsync_dir, write_atomic
from score.domain.errors import (
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
    RangeNotSatisfiableError,
    SignatureError,
)
from score.domain.ids import validate_upload_id
from score.domain.integrity import hex_to_b64, multipart_etag, normalize_md5
from score.domain.model import GetTarget, Listing, ObjectInfo, PendingUpload, StoredPart, UploadPartTarget
from score.domain.parts import PartLimits
from score.domain.ranges import ByteRange, parse_header, parse_token
from score.storage.facts import StoreFacts
from score.storage.localfs import copy_into, disk_errors, load_or_create_secret, open_part_file, part_lock
from score.storage.localkeys import KeyDirs, ObjmetaCache, final_inside, identity
from score.storage.urlsign import UrlSigner, encode_query

__all__ = ["STORE_ROUTE", "LocalObjectStore", "ServedRange", "load_or_create_secret"]

WRITE_BUFFER_BYTES = 8 * 1024 * 1024
STORE_ROUTE = "/_store/"


@dataclass(frozen=True, slots=True)
class ServedRange:
    """What the data plane should send for a verified GET."""

    path: Path
    byte_range: ByteRange
    size: int
    partial: bool
    etag: str | None


class LocalObjectStore(StoreFacts):
    """The default store: files under a data directory, URLs served by score-server."""

    def __init__(
        self, root: Path, public_url: str, signer: UrlSigner, limits: PartLimits, min_free_bytes: int = 0
    ) -> None:
        """Create a store rooted at *root* whose URLs start with *public_url*.

        Below *min_free_bytes* free in the data directory, :meth:`healthy` reports the store not ready.
        """
        self._root = root
        self._min_free = min_free_bytes
        self._objects = root / "objects"
        self._objmeta = root / "objmeta"
        self._multipart = root / "multipart"
        for d in (self._objects, self._objmeta, self._multipart):
            d.mkdir(parents=True, exist_ok=True)
        # resolved once: every request checks that its key stays below one of these
        self._resolved = {d: d.resolve() for d in (self._objects, self._objmeta)}
        self._dirs = KeyDirs()
        self._objmeta_cache = ObjmetaCache()
        self._public_url = public_url.rstrip("/")
        self._signer = signer
        # The local store speaks S3's part/ETag protocol; part ETags are the parts' MD5s.
        self._set_facts("s3", limits, etags_are_md5=True)

    # ---- paths -----------------------------------------------------------------------
    def _path(self, key: str, base: Path | None = None) -> Path:
        """The file of *key* below *base* (the objects directory by default).

        The key is checked as text (no empty, ``.`` or ``..`` segments, no absolute path, backslash or NUL),
        its directory once per process (no symlink in it may lead out of the store: :class:`KeyDirs`), and
        its last segment on every call (a symlink there must point inside the store).

        Raises:
            InvalidRequestError: the key is malformed or leads out of the store.
        """
        base = base or self._objects
        parts = key.split("/")
        if (
            not key
            or key.startswith("/")
            or "\\" in key
            or "\x00" in key
            or any(p in ("", ".", "..") for p in parts[:-1])
            or parts[-1] in (".", "..")
        ):
            raise InvalidRequestError("invalid object key")
        path = base.joinpath(*parts)
        root = self._resolved.get(base) or base.resolve()
        if not self._dirs.inside(path.parent, root) or not final_inside(path, root):
            raise InvalidRequestError("invalid object key")
        return path

    def _upload_dir(self, upload_id: str) -> Path:
        return self._multipart / validate_upload_id(upload_id)

    # ---- multipart ---------------------------------------------------------------------
    async def create_multipart(self, key: str, md5: str | None = None) -> str:
        """Start a multipart upload; the id is random and URL-safe (metadata is set at completion)."""
        self._path(key)
        upload_id = secrets.token_urlsafe(24)
        udir = self._upload_dir(upload_id)

        def _create() -> None:
            try:
                with disk_errors("starting an upload"):
                    (udir / "parts").mkdir(parents=True)
                    (udir / "data").touch()
                    created = datetime.now(UTC).isoformat()
                    write_atomic(udir / "upload.json", json.dumps({"key": key, "created": created}).encode())
            except BaseException:
                shutil.rmtree(udir, ignore_errors=True)
                raise

        await anyio.to_thread.run_sync(_create)
        return upload_id

    def _read_upload_key(self, upload_id: str) -> str:
        try:
            info = json.loads((self._upload_dir(upload_id) / "upload.json").read_bytes())
        except FileNotFoundError as exc:
            raise NotFoundError("no such multipart upload") from exc
        return str(info["key"])

    def sign_upload_part(self, target: UploadPartTarget, md5_hex: str | None, expires_at: datetime) -> str:
        """Sign a part PUT; the URL fixes the part's offset and size."""
        params = {
            "uploadId": target.upload_id,
            "partNumber": str(target.number),
            "offset": str(target.offset),
            "size": str(target.size),
            "contentMd5": hex_to_b64(md5_hex) if md5_hex else "",
        }
        query = self._signer.sign("PUT", target.key, params, expires_at)
        return f"{self._public_url}{STORE_ROUTE}{quote(target.key)}?{encode_query(query)}"

    def _part_records(self, upload_id: str) -> list[StoredPart]:
        pdir = self._upload_dir(upload_id) / "parts"
        if not pdir.is_dir():
            raise NotFoundError("no such multipart upload")
        out = []
        for entry in pdir.iterdir():
            if entry.name.startswith(TMP_PREFIX) or not entry.name.endswith(".json"):
                continue
            try:
                rec = json.loads(entry.read_bytes())
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            out.append(StoredPart(int(rec["number"]), str(rec["etag"]), int(rec["size"])))
        return sorted(out, key=lambda p: p.number)

    async def list_parts(self, key: str, upload_id: str, number: int | None = None) -> list[StoredPart]:
        """List received parts (or just part *number*, once a commit of it in progress has ended: a part sent
        again, by a second process of the same upload, is never seen as missing while it is rewritten).
        """
        if number is None:
            return await anyio.to_thread.run_sync(self._part_records, upload_id)
        return await anyio.to_thread.run_sync(self._settled_part, upload_id, number)

    def _settled_part(self, upload_id: str, number: int) -> list[StoredPart]:
        lock = self._upload_dir(upload_id) / "parts" / f"{number}.lock"
        if lock.exists():  # committed at least once: wait for a commit in progress
            try:
                with part_lock(lock):
                    return [p for p in self._part_records(upload_id) if p.number == number]
            except FileNotFoundError:
                raise NotFoundError("no such multipart upload (it was completed or cancelled)") from None
        return [p for p in self._part_records(upload_id) if p.number == number]

    @contextlib.contextmanager
    def _locked(self, upload_id: str, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
        """Hold the upload's lock (exclusive: complete/abort; shared: part commits).

        Raises:
            NotFoundError: the upload does not exist, or was completed or aborted while we waited.
        """
        lock_path = self._upload_dir(upload_id) / "upload.json"
        try:
            fd = os.open(lock_path, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise NotFoundError("no such multipart upload (it was completed or cancelled)") from exc
        try:
            fcntl.flock(fd, mode)
            if not lock_path.exists():  # removed by whoever held the lock before us
                raise NotFoundError("no such multipart upload (it was completed or cancelled)")
            yield
        finally:
            os.close(fd)

    def _complete(self, key: str, upload_id: str, parts: list[tuple[int, str]], md5: str | None) -> None:
        udir = self._upload_dir(upload_id)
        with self._locked(upload_id):
            if not udir.exists() or self._read_upload_key(upload_id) != key:
                raise NotFoundError("no such multipart upload")
            records = {}
            for entry in (udir / "parts").glob("*.json"):
                rec = json.loads(entry.read_bytes())
                records[int(rec["number"])] = rec
            offset = 0
            md5s = []
            for number, etag in sorted(parts):
                rec = records.get(number)
                if rec is None or rec["etag"] != etag:
                    raise IntegrityError(f"part {number} is missing or has another ETag in the store")
                if int(rec["offset"]) != offset:
                    raise IntegrityError(f"part {number} does not follow the previous part")
                offset += int(rec["size"])
                md5s.append(etag)
            data = udir / "data"
            target = self._path(key)
            with disk_errors("completing an upload"):
                with open(data, "r+b") as fh:
                    fh.truncate(offset)
                    os.fsync(fh.fileno())
                target.parent.mkdir(parents=True, exist_ok=True)
                meta = {"md5chksum": hex_to_b64(md5)} if md5 else {}
                meta["etag"] = multipart_etag(md5s)
                objmeta = self._path(key, self._objmeta).with_name(target.name + ".json")
                write_atomic(objmeta, json.dumps(meta).encode(), make_parents=True)
            os.replace(data, target)
            fsync_dir(target.parent)
            shutil.rmtree(udir, ignore_errors=True)

    async def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]], md5: str | None) -> None:
        """Assemble the object by renaming the staging file into place."""
        await anyio.to_thread.run_sync(self._complete, key, upload_id, parts, md5)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its bytes (after any part commit in progress: a PUT still running then gets 404)."""
        udir = self._upload_dir(upload_id)

        def _abort() -> None:
            with contextlib.suppress(NotFoundError), self._locked(upload_id):
                shutil.rmtree(udir, ignore_errors=True)
            shutil.rmtree(udir, ignore_errors=True)  # half-created, without upload.json

        await anyio.to_thread.run_sync(_abort)

    async def pending_uploads(self) -> list[PendingUpload]:
        """Open uploads, from each upload's ``upload.json``.

        A directory without a readable ``upload.json`` (a start cut short by a crash or a full disk)
        is listed with no key and its own modification time, so that cleanup removes it.
        """

        def _scan() -> list[PendingUpload]:
            out = []
            for udir in self._multipart.iterdir():
                try:
                    info = json.loads((udir / "upload.json").read_bytes())
                    out.append(PendingUpload(str(info["key"]), udir.name, datetime.fromisoformat(info["created"])))
                except (OSError, ValueError, KeyError, TypeError):
                    with contextlib.suppress(OSError):
                        if udir.is_dir() and not udir.name.startswith(TMP_PREFIX):
                            mtime = datetime.fromtimestamp(udir.stat().st_mtime, UTC)
                            out.append(PendingUpload("", udir.name, mtime))
            return sorted(out, key=lambda u: u.initiated)

        return await anyio.to_thread.run_sync(_scan)

    # ---- data plane: part PUT ------------------------------------------------------------
    def verify(self, method: str, key: str, query: dict[str, str], now: datetime) -> None:
        """Verify a data-plane request's signature, method and expiry."""
        self._path(key)
        self._signer.verify(method, key, query, now)

    def verify_head(self, key: str, query: dict[str, str], now: datetime) -> None:
        """Verify a HEAD: a URL signed for HEAD or for GET (its headers only, no content), not yet expired."""
        self._path(key)
        self._signer.verify_head(key, query, now)

    async def receive_part(
        self, key: str, query: dict[str, str], body: AsyncIterator[bytes], content_md5: str | None = None
    ) -> str:
        """Receive a signed part PUT into a file of its own, check it, then commit it; return its ETag (MD5 hex).

        Raises:
            NotFoundError: the upload does not exist (or was completed or cancelled meanwhile).
            InvalidRequestError: the body is longer or shorter than the signed size.
            IntegrityError: the body does not match the signed Content-MD5.
            DiskSpaceError: the disk is full (nothing of the part is kept).
        """
        upload_id = query.get("uploadId", "")
        number = int(query.get("partNumber", "0"))
        offset = int(query.get("offset", "0"))
        size = int(query.get("size", "0"))
        udir = self._upload_dir(upload_id)
        signed_md5 = query.get("contentMd5")
        if signed_md5 and content_md5 != signed_md5:
            # As S3 does: the Content-MD5 header is part of what the URL signs.
            raise SignatureError("the request's Content-MD5 header is not the one the URL was signed for")
        if await anyio.to_thread.run_sync(self._read_upload_key, upload_id) != key:
            raise SignatureError("the URL does not belong to this upload")
        tmp = udir / "parts" / f"{TMP_PREFIX}{number}-{secrets.token_hex(6)}"
        fd = await anyio.to_thread.run_sync(open_part_file, tmp)
        md5 = hashlib.md5()  # noqa: S324 - ETag semantics
        written = 0
        buf = bytearray()

        def _flush(chunk: bytes, at: int) -> None:
            md5.update(chunk)
            with disk_errors(f"receiving part {number}"):
                os.pwrite(fd, chunk, at)

        try:
            try:
                async for chunk in body:
                    if not chunk:
                        continue
                    if written + len(buf) + len(chunk) > size:
                        raise InvalidRequestError(f"the body is longer than the signed part size {size}")
                    buf += chunk
                    if len(buf) >= WRITE_BUFFER_BYTES:
                        data = bytes(buf)
                        buf.clear()
                        await anyio.to_thread.run_sync(_flush, data, written)
                        written += len(data)
                if buf:
                    data = bytes(buf)
                    await anyio.to_thread.run_sync(_flush, data, written)
                    written += len(data)
            finally:
                os.close(fd)
            if written != size:
                raise InvalidRequestError(f"the body has {written} bytes; the signed part size is {size}")
            etag = md5.hexdigest()
            for expected in (query.get("contentMd5"), content_md5):
                if expected and normalize_md5(expected) != etag:
                    raise IntegrityError("BadDigest: the part's Content-MD5 does not match the bytes received")
            rec: dict[str, int | str] = {"number": number, "etag": etag, "offset": offset, "size": size}
            await anyio.to_thread.run_sync(self._commit_part, upload_id, tmp, rec)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return etag

    def _commit_part(self, upload_id: str, tmp: Path, rec: dict[str, int | str]) -> None:
        """Copy a checked part into ``data`` at its offset and record it, unless the upload has ended."""
        udir = self._upload_dir(upload_id)
        number = int(rec["number"])
        record = udir / "parts" / f"{number}.json"
        with self._locked(upload_id, fcntl.LOCK_SH), part_lock(udir / "parts" / f"{number}.lock"):
            # The old record goes first: a half-rewritten part must never look complete.
            with contextlib.suppress(FileNotFoundError):
                record.unlink()
            with disk_errors(f"storing part {number}"):
                copy_into(tmp, udir / "data", int(rec["offset"]), int(rec["size"]))
                write_atomic(record, json.dumps(rec).encode())

    # ---- data plane: GET -----------------------------------------------------------------
    def resolve_get(self, key: str, query: dict[str, str], range_header: str | None) -> ServedRange:
        """Decide which bytes a verified GET receives.

        A URL signed for a range serves only that range; a ``Range`` header, if sent, must
        name the same range. A URL without a signed range honours any single ``Range``.

        Raises:
            NotFoundError: no such object.
            SignatureError: the Range header differs from the signed range.
            RangeNotSatisfiableError: the range lies outside the object.
        """
        path = self._path(key)
        try:
            size = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFoundError("no such object") from exc
        etag = self._etag(key)
        signed = query.get("range")
        if signed:
            rng = parse_token(signed)
            if range_header and range_header.strip() != rng.header():
                raise SignatureError("the Range header differs from the range this URL was signed for")
            if rng.end > size:
                raise RangeNotSatisfiableError("the signed range is outside the object")
            return ServedRange(path, rng, size, True, etag)
        if range_header:
            return ServedRange(path, parse_header(range_header, size), size, True, etag)
        return ServedRange(path, ByteRange(0, size), size, False, etag)

    def _etag(self, key: str) -> str | None:
        meta = self._read_objmeta(key)
        return meta.get("etag")

    def _read_objmeta(self, key: str) -> dict[str, str]:
        return self._record(key, None, read=True) or {}

    def _record(self, key: str, data: os.stat_result | None, read: bool) -> dict[str, str] | None:
        """The object's record (``{}`` when it has none); with *data* (the stat of its bytes) through the cache of
        unchanged records. Without *read*, None when the record would have to be read (it is not cached).
        """
        p = self._path(key, self._objmeta)
        record = p.with_name(p.name + ".json")
        try:
            ident = None if data is None else identity(data, os.stat(record))
            if ident is not None and (hit := self._objmeta_cache.get(key, ident)) is not None:
                return hit
            if not read:
                return None
            meta = dict(json.loads(record.read_bytes()))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return {}
        if ident is not None:
            self._objmeta_cache.put(key, ident, meta)
        return meta

    def sign_get(self, target: GetTarget, expires_at: datetime) -> str:
        """Sign a GET, bound to a range when one is given."""
        params = {"range": target.byte_range.token() if target.byte_range and target.byte_range.length else ""}
        query = self._signer.sign("GET", target.key, params, expires_at)
        return f"{self._public_url}{STORE_ROUTE}{quote(target.key)}?{encode_query(query)}"

    # ---- small objects -------------------------------------------------------------------
    async def head(self, key: str) -> ObjectInfo | None:
        """Stat an object.

        On the event loop when the object's record is cached (a few ``stat`` calls, as :meth:`_path` makes
        anyway); in a worker thread when the record has to be read.
        """
        path = self._path(key)
        answered, info = self._head(key, path, read=False)
        if answered:
            return info
        return (await anyio.to_thread.run_sync(self._head, key, path, True))[1]

    def _head(self, key: str, path: Path, read: bool) -> tuple[bool, ObjectInfo | None]:
        """(answered, the object's facts or None when there is no such object); see :meth:`_record` for *read*."""
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return True, None
        if not stat.S_ISREG(st.st_mode):
            return True, None
        meta = self._record(key, st, read)
        if meta is None:
            return False, None
        md5 = meta.get("md5chksum")
        return True, ObjectInfo(
            key=key,
            size=st.st_size,
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
            etag=meta.get("etag"),
            md5=normalize_md5(md5) if md5 else None,
        )

    async def read_range(self, target: GetTarget) -> bytes:
        """Read an object's range (the whole object without one)."""
        path = self._path(target.key)
        rng = target.byte_range

        def _read() -> bytes:
            try:
                with path.open("rb") as f:
                    if rng is None:
                        return f.read()
                    f.seek(rng.start)
                    return f.read(rng.length)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
                raise NotFoundError(f"object {target.key} not found") from exc

        return await anyio.to_thread.run_sync(_read)

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Write a small object atomically.

        Raises:
            DiskSpaceError: the disk is full.
        """
        path = self._path(key)

        def _put() -> None:
            with disk_errors("writing upload state"):
                write_atomic(path, data, make_parents=True)

        await anyio.to_thread.run_sync(_put)

    async def get_bytes(self, key: str) -> bytes | None:
        """Read a small object."""
        path = self._path(key)

        def _get() -> bytes | None:
            try:
                return path.read_bytes()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None

        return await anyio.to_thread.run_sync(_get)

    async def delete(self, key: str) -> None:
        """Delete an object and prune empty directories, as S3 has none."""
        path = self._path(key)

        def _delete() -> None:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                path.unlink()
            meta = self._path(key, self._objmeta)
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                meta.with_name(meta.name + ".json").unlink()
            parent = path.parent
            while parent != self._objects:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent
            self._dirs.forget()  # a removed directory's name may later lead elsewhere

        await anyio.to_thread.run_sync(_delete)

    async def list(self, prefix: str, delimiter: str | None = None) -> Listing:
        """List keys under *prefix* (with ``/`` as delimiter: one level, plus sub-prefixes)."""
        return await anyio.to_thread.run_sync(self._list, prefix, delimiter)

    def _list(self, prefix: str, delimiter: str | None) -> Listing:
        dir_part, _, name_prefix = prefix.rpartition("/")
        base = self._path(dir_part + "/x").parent if dir_part else self._objects
        keys: list[str] = []
        prefixes: list[str] = []
        if not base.is_dir():
            return Listing([], [])
        lead = f"{dir_part}/" if dir_part else ""
        for entry in sorted(base.iterdir(), key=lambda e: e.name):
            name = entry.name
            if not name.startswith(name_prefix) or name.startswith(TMP_PREFIX):
                continue
            if entry.is_dir():
                if delimiter == "/":
                    prefixes.append(f"{lead}{name}/")
                else:
                    for sub in sorted(entry.rglob("*")):
                        if sub.is_file() and not sub.name.startswith(TMP_PREFIX):
                            keys.append(lead + sub.relative_to(base).as_posix())
            else:
                keys.append(lead + name)
        return Listing(sorted(keys), prefixes)

    async def healthy(self) -> bool:
        """True when the data directory is there, writable, and has at least the configured free space."""
        if not (self._objects.is_dir() and os.access(self._objects, os.W_OK)):
            return False
        return self.free_bytes() >= self._min_free

    @property
    def min_free_bytes(self) -> int:
        """The free-space floor below which the store reports itself not ready."""
        return self._min_free

    def free_bytes(self) -> int:
        """Bytes free for the server in the data directory's file system."""
        st = os.statvfs(self._objects)
        return st.f_bavail * st.f_frsize
