"""Parallel, resumable upload of one file.

One sequential pass reads the file: each buffer feeds the whole-file MD5 and its part's MD5
together, then goes to a worker that PUTs it. The buffer returns to the pool as soon as the
store has the part; the part's confirmation to the server (a round trip in which the server
lists the store's parts) runs on separate threads, so the workers keep PUTting meanwhile.
Parts the server already holds (same MD5) are skipped, so a killed upload resumes where it
stopped. In-flight memory is bounded by a pool of part buffers, whatever the file size.
"""

from __future__ import annotations

import hashlib
import queue
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from io import FileIO
from pathlib import Path
from typing import Any

from score.attempts import RetryPolicy, Sleep, attempt, integrity_budget, url_refresh
from score.client.http.server_api import ServerApi
from score.client.http.url_expiry import expired_too_often
from score.client.transfer.data_plane import DataPlane
from score.client.transfer.progress import Board, Progress
from score.domain import errors as e
from score.domain.integrity import multipart_etag, normalize_md5
from score.wire.client_models import ObjectSpecification, Part

HASH_CHUNK = 4 * 1024 * 1024
# A file up to this size is read and hashed before anything is sent, then tried as one part: initiate
# (carrying its MD5) answers with the part's URL signed for it, one PUT, finalize. Two server calls.
SMALL_FILE_BYTES = 8 * 1024 * 1024


def upload_token(object_id: str, path: Path) -> str:
    """The token that makes this client the owner of the upload it starts (sent as a header).

    It names this file on this host as it is now (path, inode, size, modification time), so a
    re-run after a crash resumes the upload, while another file, another copy of the file or
    another host cannot join it (they get 409 and must restart it with --force).
    """
    st = path.stat()
    ident = "\0".join(
        str(x)
        for x in (
            "score-upload-v1",
            socket.gethostname(),
            path.resolve(),
            st.st_dev,
            st.st_ino,
            st.st_size,
            st.st_mtime_ns,
            object_id,
        )
    )
    return hashlib.sha256(ident.encode()).hexdigest()


@dataclass
class UploadResult:
    """What happened."""

    object_id: str
    size: int
    md5: str
    parts_total: int
    parts_sent: int
    parts_skipped: int
    retries: int = 0
    already_uploaded: bool = False  # the server holds this very file (size and MD5): nothing was sent


@dataclass
class _UrlBook:
    """Part URLs from initiate/status (used only with servers that cannot sign a part's MD5)."""

    urls: dict[int, str]
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    md5_signing: bool = True  # cleared once the server shows it lacks GET /upload/{id}/parts/url
    presigned: dict[int, str] = field(default_factory=dict)  # URLs initiate signed for the part's MD5, used once
    etag_is_md5: bool = True  # of the presigned URLs


class Uploader:
    """Uploads files through pre-signed part URLs."""

    def __init__(
        self,
        api: ServerApi,
        data: DataPlane,
        *,
        parallel: int = 4,
        memory_bytes: int = 100 * 1024 * 1024,
        retry: RetryPolicy | None = None,
        show_progress: bool = False,
        sleep: Sleep | None = None,
        board: Board | None = None,
    ) -> None:
        """Use up to *parallel* part transfers and about *memory_bytes* of part buffers.

        Failed parts are attempted again by *retry* (``score.attempts``); *sleep* replaces the real
        clock between attempts (tests). Progress goes to *board* if given, else to a line per file
        when *show_progress*.
        """
        self._api = api
        self._data = data
        self._parallel = max(1, parallel)
        self._memory = memory_bytes
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._show = show_progress
        self._board = board
        self._retries = 0
        self._retry_lock = threading.Lock()

    def _progress(self, object_id: str, size: int) -> Progress:
        label = f"upload {object_id}"
        return self._board.track(label, size) if self._board else Progress(label, size, self._show)

    # ---- set-up -----------------------------------------------------------------------
    def _start(self, object_id: str, size: int, md5: str | None, force: bool, token: str) -> _Started:
        """Return the upload (its id, parts with URLs, completed part MD5s), resuming when possible.

        Raises:
            ConflictError: another client's upload of the object is in progress (without *force*).
        """
        if not force:
            try:
                progress = self._api.upload_status(object_id, size, token)
            except (e.NotFoundError, e.InvalidRequestError):
                progress = None  # nothing in progress, or the file changed size: start afresh
            if progress is not None and not (md5 and progress.objectMd5 and progress.objectMd5 != md5):
                done = {p.partNumber: p.md5 or p.sourceMd5 or "" for p in progress.parts if p.md5 or p.sourceMd5}
                return _Started(progress.uploadId, progress.parts, done, _md5_or_none(progress.objectMd5))
        spec = self._api.initiate_upload(object_id, size, md5, overwrite=force, upload_token=token)
        return _Started(spec.uploadId, spec.parts, {}, _md5_or_none(spec.objectMd5))

    def _already_uploaded(self, object_id: str, path: Path, size: int, declared: str | None) -> UploadResult:
        """The server holds an object of this size and the *declared* MD5: done, once this file has that MD5.

        Raises:
            IntegrityError: the file's MD5 is not the declared one (nothing was uploaded).
        """
        file_md5 = _file_md5(path)
        if file_md5 != declared:
            raise e.IntegrityError(f"the file's MD5 is {file_md5}, not the declared {declared}; nothing was uploaded")
        return UploadResult(object_id, size, file_md5, 0, 0, 0, self._retries, already_uploaded=True)

    def _refresh(self, sending: _Sending, seen_generation: int) -> None:
        book = sending.book
        with book.lock:
            if book.generation != seen_generation:
                return  # another worker already refreshed
            progress = self._api.upload_status(sending.object_id, sending.size, sending.token)
            book.urls.update({p.partNumber: p.url for p in progress.parts if p.url})
            book.generation += 1

    # ---- one part ------------------------------------------------------------------------
    def _part_url(self, sending: _Sending, md5_hex: str) -> tuple[str, bool]:
        """A fresh URL whose signature covers this part's MD5 (so it never expires mid-transfer)."""
        book, part = sending.book, sending.part
        with book.lock:
            presigned = book.presigned.pop(part.partNumber, None)
        if presigned is not None:
            return presigned, book.etag_is_md5
        if book.md5_signing:
            signed = self._api.part_url(sending.object_id, sending.upload_id, part.partNumber, md5_hex, sending.token)
            if signed is not None:
                return signed.url, signed.etagIsMd5
            book.md5_signing = False
        url = book.urls.get(part.partNumber)
        if url is None:
            raise e.UrlExpiredError("no URL for this part")
        return url, True

    def _count_retry(self, _error: e.ScoreError) -> None:
        with self._retry_lock:
            self._retries += 1

    def _put_part(self, sending: _Sending, data: memoryview, md5_hex: str) -> str:
        """PUT one part through a URL signed for its MD5, with retries; return the store's ETag.

        Raises:
            Cancelled: the upload is being cancelled.
            IntegrityError: the store refused the part's bytes three times.
            UrlExpiredError: fresh URLs keep arriving expired.
            ScoreError: what is not retryable, or the last failure once the attempts are spent.
        """
        seen = sending.book.generation

        def once() -> str:
            nonlocal seen
            seen = sending.book.generation
            url, etag_is_md5 = self._part_url(sending, md5_hex)
            return self._data.put_part(url, data, md5_hex, sending.cancel, etag_is_md5=etag_is_md5)

        return attempt(
            once,
            self._retry,
            cancel=sending.cancel,
            sleep=self._sleep,
            integrity=integrity_budget(),
            expiry=url_refresh(
                lambda _exc: self._refresh(sending, seen),
                exhausted=lambda _exc, times: expired_too_often(sending.part.partNumber, times),
            ),
            on_retry=self._count_retry,
        )

    def _confirm(self, sending: _Sending, md5_hex: str, etag: str) -> None:
        """Confirm a part the store has accepted (on a confirm thread, beside the next PUTs).

        If the store holds other bytes for the part, the part is read from the file again (its
        buffer has gone back to the pool), checked against its MD5 and sent again.
        """

        def once() -> None:
            self._api.confirm_part(
                sending.object_id, sending.upload_id, sending.part.partNumber, md5_hex, etag, sending.token
            )

        def send_again(_exc: e.IntegrityError) -> None:
            nonlocal etag
            etag = self._put_part(sending, _reread_part(sending.path, sending.part, md5_hex), md5_hex)

        attempt(
            once,
            self._retry,
            cancel=sending.cancel,
            sleep=self._sleep,
            integrity=integrity_budget(repair=send_again),
            on_retry=self._count_retry,
        )

    # ---- the pass over the file ----------------------------------------------------------------
    def upload(self, object_id: str, path: Path, md5: str | None = None, force: bool = False) -> UploadResult:
        """Upload *path* as *object_id*; resume an interrupted upload of the same file.

        Raises:
            IntegrityError: the file's MD5 differs from *md5*, or parts keep failing checks.
            ConflictError: the object exists and *force* is false.
        """
        try:
            return self._upload(object_id, path, md5, force)
        except _UploadGoneError:
            pass
        except e.ConflictError as exists:
            if md5 or force or exists.reason != e.OBJECT_EXISTS:
                raise
            # Stored already, and no MD5 was declared: if it is this very file (the server compares size and
            # MD5), there is nothing to send; else the same 409 again.
            return self._upload(object_id, path, _file_md5(path), force)
        # The upload this client sent to was finished, cancelled or replaced by another process meanwhile (the
        # same file, run twice at once): ask again, once. The object is then there (this very file: "already
        # uploaded"; another: 409) or another upload is live (409), or nothing is, and this one starts afresh.
        # The file's MD5 goes with it (known by then, if not declared), so that the server can tell the first.
        try:
            return self._upload(object_id, path, md5 or _file_md5(path), force)
        except _UploadGoneError:
            raise e.ConflictError(
                f"the upload of {object_id} was finished or replaced by another client while this one sent it; "
                "re-run to check"
            ) from None

    def _upload(self, object_id: str, path: Path, md5: str | None, force: bool) -> UploadResult:
        declared = normalize_md5(md5) if md5 else None
        size = path.stat().st_size
        token = upload_token(object_id, path)
        small = self._upload_small(object_id, path, size, declared, force, token) if self._small(size) else None
        if isinstance(small, UploadResult):
            return small
        if small is not None:
            declared, started = small
        else:
            try:
                started = self._start(object_id, size, declared, force, token)
            except e.AlreadyUploadedError:
                return self._already_uploaded(object_id, path, size, declared)
        try:
            return self._send(object_id, path, size, declared, started, token)
        except e.NotFoundError:  # the object's registration was checked when the upload started: the upload is gone
            raise _UploadGoneError from None

    def _send(
        self, object_id: str, path: Path, size: int, declared: str | None, started: _Started, token: str
    ) -> UploadResult:
        """Send the parts not yet sent, check the file's MD5, finalize."""
        upload_id, parts, done = started.upload_id, started.parts, started.done
        part_md5s: dict[int, str] = {}  # filled by the workers: what this client sent or found sent
        book = _UrlBook({p.partNumber: p.url for p in parts if p.url})
        largest = max((p.partSize for p in parts), default=0)
        slots = max(2, min(self._parallel + 1, self._memory // max(largest, 1)))
        pool: queue.Queue[bytearray] = queue.Queue()
        for _ in range(slots):
            pool.put(bytearray(largest))
        cancel = threading.Event()
        progress = self._progress(object_id, size)
        whole = hashlib.md5()  # noqa: S324 - MD5 is the wire checksum
        sent = skipped = 0
        futures: list[Future[bool]] = []
        confirms: list[Future[None]] = []  # appended by the workers
        workers = max(1, min(self._parallel, slots - 1))
        # Confirming a part is a server round trip (the server lists the store's parts): it runs
        # on its own threads, so a worker moves on to its next PUT as soon as the store answers.
        with (
            open(path, "rb", buffering=0) as fh,
            ThreadPoolExecutor(workers, "score-confirm") as confirmer,
            ThreadPoolExecutor(workers, "score-up") as executor,
        ):
            try:
                for part in sorted(parts, key=lambda p: p.partNumber):
                    self._raise_failed([*futures, *confirms])
                    buf = pool.get()
                    view = memoryview(buf)[: part.partSize]
                    self._read_part(fh, part, view, whole)
                    sending = _Sending(object_id, upload_id, size, part, path, book, cancel, progress, token)
                    futures.append(
                        executor.submit(self._run_part, sending, buf, view, done, pool, confirmer, confirms, part_md5s)
                    )
                for f in futures:
                    if f.result():
                        sent += 1
                    else:
                        skipped += 1
                for c in confirms:
                    c.result()
            except BaseException:
                cancel.set()
                raise
        file_md5 = whole.hexdigest()
        self._check_md5(object_id, upload_id, token, file_md5, declared, started.md5)
        ordered = [part_md5s[p.partNumber] for p in sorted(parts, key=lambda p: p.partNumber)]
        self._finalize(object_id, upload_id, size, file_md5, ordered, token)
        progress.finish()
        return UploadResult(object_id, size, file_md5, len(parts), sent, skipped, self._retries)

    def _check_md5(
        self, object_id: str, upload_id: str, token: str, file_md5: str, declared: str | None, expected: str | None
    ) -> None:
        """Before finalizing: the file's MD5 must be the *declared* one, and the one the server expects.

        *expected* is the MD5 the server recorded when the upload started (the declared or the
        registered one). On a mismatch this client's upload is cancelled (best effort): finalize
        would refuse it anyway, and left live it would make a later uploader of the right file wait
        for it (409) until ``--force`` or a cleanup.

        Raises:
            IntegrityError: the file's MD5 is another.
        """
        if declared and declared != file_md5:
            wanted = f"the declared {declared}"
        elif expected and expected != file_md5:
            wanted = f"the MD5 {expected} the server expects (declared or registered)"
        else:
            return
        cancelled = self._cancel(object_id, upload_id, token)
        outcome = "the upload was cancelled" if cancelled else "the upload was not finalized"
        raise e.IntegrityError(f"the file's MD5 is {file_md5}, not {wanted}; {outcome}")

    def _cancel(self, object_id: str, upload_id: str, token: str) -> bool:
        """Cancel this client's upload *upload_id* of *object_id* (never one that replaced it); False if that failed."""
        try:
            self._api.cancel_upload(object_id, token, upload_id)
        except e.ScoreError:
            return False
        return True

    def _small(self, size: int) -> bool:
        return size <= min(SMALL_FILE_BYTES, self._memory)

    def _upload_small(
        self, object_id: str, path: Path, size: int, declared: str | None, force: bool, token: str
    ) -> UploadResult | tuple[str, _Started] | None:
        """The small-file path: the file hashed first, initiate with its MD5, one PUT, finalize.

        No status call first: a fresh file has nothing to resume, and a one-part upload this client
        left unfinished is replaced by the initiate. Returns the result; or, when the server planned
        more than one part or cannot sign the part for its MD5 (an older server), the file's MD5 and
        the started upload for the multipart loop; or None after a 409 (another client's upload, or
        the object exists), for the status/resume path to take over.

        Raises:
            IntegrityError: the file's MD5 differs from *declared*, or it changed while being read.
        """
        data = path.read_bytes()
        if len(data) != size:
            raise e.IntegrityError("the file changed size while it was being uploaded")
        file_md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - MD5 is the wire checksum
        if declared and declared != file_md5:
            raise e.IntegrityError(
                f"the file's MD5 is {file_md5}, not the declared {declared}; the upload was not started"
            )
        try:
            spec = self._api.initiate_upload(object_id, size, file_md5, force, token, sign_md5=True)
        except e.AlreadyUploadedError:
            return UploadResult(object_id, size, file_md5, 0, 0, 0, self._retries, already_uploaded=True)
        except e.ConflictError:
            if force:
                raise
            return None
        if len(spec.parts) != 1 or spec.etagIsMd5 is None or not spec.parts[0].url:
            return file_md5, _Started(spec.uploadId, spec.parts, {}, _md5_or_none(spec.objectMd5))
        try:
            return self._send_small(object_id, data, file_md5, spec, spec.parts[0].url, spec.etagIsMd5, path, token)
        except e.NotFoundError:  # registered (initiate said so): the upload is gone
            raise _UploadGoneError from None

    def _send_small(
        self,
        object_id: str,
        data: bytes,
        file_md5: str,
        spec: ObjectSpecification,
        url: str,
        etag_is_md5: bool,
        path: Path,
        token: str,
    ) -> UploadResult:
        """The one PUT of a small file to *url*, its confirmation where the store's ETag is not its MD5, finalize."""
        part, size = spec.parts[0], len(data)
        book = _UrlBook({}, presigned={part.partNumber: url}, etag_is_md5=etag_is_md5)
        progress = self._progress(object_id, size)
        sending = _Sending(object_id, spec.uploadId, size, part, path, book, threading.Event(), progress, token)
        etag = self._put_part(sending, memoryview(data), file_md5)
        if not etag_is_md5:
            self._confirm(sending, file_md5, etag)  # the server cannot read the part's MD5 from its ETag
        progress.add(size)
        self._finalize(object_id, spec.uploadId, size, file_md5, [file_md5], token)
        progress.finish()
        return UploadResult(object_id, size, file_md5, 1, 1, 0, self._retries)

    def _finalize(
        self, object_id: str, upload_id: str, size: int, file_md5: str, part_md5s: list[str], token: str
    ) -> None:
        """Finalize with the file's MD5 and ``partsMd5``; check the finished object is this file.

        Raises:
            IntegrityError: the server finished another object (or refused: 422).
        """
        finished = self._api.finalize_upload(object_id, upload_id, file_md5, multipart_etag(part_md5s), token)
        if finished is not None and (finished.objectMd5 not in (None, file_md5) or finished.objectSize != size):
            raise e.IntegrityError(
                f"the server finished object {object_id} as {finished.objectSize} bytes with MD5 "
                f"{finished.objectMd5}, not this file's {size} bytes with MD5 {file_md5}"
            )

    @staticmethod
    def _raise_failed(futures: Sequence[Future[Any]]) -> None:
        for f in futures:
            if f.done() and f.exception() is not None:
                f.result()

    @staticmethod
    def _read_part(fh: FileIO, part: Part, view: memoryview, whole: Any) -> None:
        """Fill *view* with the part's bytes, feeding the whole-file MD5 on the way.

        The part's own MD5 is computed by the worker that sends it, on another core.
        """
        fh.seek(part.offset)
        filled = 0
        while filled < part.partSize:
            n = fh.readinto(view[filled : min(part.partSize, filled + HASH_CHUNK)])
            if not n:
                raise e.IntegrityError("the file became shorter while it was being uploaded")
            whole.update(view[filled : filled + n])
            filled += n

    def _run_part(
        self,
        sending: _Sending,
        buf: bytearray,
        view: memoryview,
        done: dict[int, str],
        pool: queue.Queue[bytearray],
        confirmer: ThreadPoolExecutor,
        confirms: list[Future[None]],
        part_md5s: dict[int, str],
    ) -> bool:
        """Hash and send one part unless the server already holds it; True when it was sent.

        The buffer goes back to the pool once the store has the bytes; the part's confirmation
        is queued on *confirmer* (its future appended to *confirms*).
        """
        part = sending.part
        try:
            md5_hex = hashlib.md5(view).hexdigest()  # noqa: S324 - releases the GIL: runs beside the reader
            part_md5s[part.partNumber] = md5_hex
            if done.get(part.partNumber) == md5_hex:
                sending.progress.skip(part.partSize)  # not moved in this run: not part of the rate
                return False
            if part.partNumber in done:  # the server holds other bytes for this part
                self._api.delete_part(sending.object_id, sending.upload_id, part.partNumber, sending.token)
            etag = self._put_part(sending, view, md5_hex)
        finally:
            pool.put(buf)
        confirms.append(confirmer.submit(self._confirm, sending, md5_hex, etag))
        sending.progress.add(part.partSize)
        return True


@dataclass(frozen=True)
class _Started:
    """An upload this client started or resumes."""

    upload_id: str
    parts: list[Part]
    done: dict[int, str]  # part number -> MD5 of the parts the server already holds
    md5: str | None  # the file's MD5 as the server recorded it (declared or registered), if any


@dataclass(frozen=True)
class _Sending:
    """One part on its way, with what its PUT, its confirmation and a re-send need."""

    object_id: str
    upload_id: str
    size: int
    part: Part
    path: Path
    book: _UrlBook
    cancel: threading.Event
    progress: Progress
    token: str  # the upload token: this client owns the upload


class _UploadGoneError(Exception):
    """The upload this client sent to was finished, cancelled or replaced meanwhile (a 404 after it started)."""


def _md5_or_none(value: str | None) -> str | None:
    """A server's MD5 as lowercase hex; None when it gave none or one that is not an MD5."""
    if not value:
        return None
    try:
        return normalize_md5(value)
    except e.InvalidRequestError:
        return None


def _file_md5(path: Path) -> str:
    """The MD5 of a whole file, read in ``HASH_CHUNK`` pieces."""
    digest = hashlib.md5()  # noqa: S324 - MD5 is the wire checksum
    buf = memoryview(bytearray(HASH_CHUNK))
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(buf[:n])
    return digest.hexdigest()


def _reread_part(path: Path, part: Part, md5_hex: str) -> memoryview:
    """The part's bytes read again from the file, which must not have changed since they were hashed.

    Raises:
        IntegrityError: the file changed.
    """
    with open(path, "rb", buffering=0) as fh:
        fh.seek(part.offset)
        data = fh.read(part.partSize)
    if len(data) != part.partSize or hashlib.md5(data).hexdigest() != md5_hex:  # noqa: S324
        raise e.IntegrityError("the file changed while it was being uploaded")
    return memoryview(data)
