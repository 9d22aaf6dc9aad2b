"""Parallel, resumable, verified download of one object.

Workers fetch parts (each URL signed for its Range) and write them in place; each part's MD5
is checked against ``sourceMd5`` as it streams. An ordered hasher follows the completed
prefix of the file to compute the whole-file MD5 while the transfer runs. The file appears
under its final name only once complete and verified. Expired URLs are refreshed by asking
the server again; a killed download resumes from its verified parts.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from score.client.api import ServerApi
from score.client.dataplane import Cancelled, DataPlane, pwrite_all
from score.client.journal import DownloadJournal, JournalHeader
from score.client.progress import Progress
from score.client.retry import RetryPolicy
from score.domain import errors as e
from score.domain.ranges import ByteRange
from score.wire.schemas import ObjectSpecification, Part

READ_CHUNK = 4 * 1024 * 1024


@dataclass
class DownloadResult:
    """What happened."""

    object_id: str
    path: Path
    size: int
    md5: str | None
    verified: bool
    parts_total: int = 0
    parts_fetched: int = 0
    parts_resumed: int = 0
    skipped: bool = False
    retries: int = 0


@dataclass
class _Shared:
    urls: dict[int, str]
    done: dict[int, str]
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(default_factory=threading.Condition)
    retries: int = 0


class Downloader:
    """Downloads objects through pre-signed ranged URLs."""

    def __init__(
        self,
        api: ServerApi,
        data: DataPlane,
        *,
        parallel: int = 4,
        retry: RetryPolicy | None = None,
        show_progress: bool = False,
    ) -> None:
        """Fetch up to *parallel* parts at once."""
        self._api = api
        self._data = data
        self._parallel = max(1, parallel)
        self._retry = retry or RetryPolicy()
        self._show = show_progress

    def download(
        self,
        object_id: str,
        out_dir: Path,
        *,
        offset: int = 0,
        length: int = -1,
        validate: bool = True,
        force: bool = False,
    ) -> DownloadResult:
        """Download *object_id* into ``out_dir/<object_id>``.

        Raises:
            IntegrityError: the bytes do not match their MD5 (nothing is left under the final name).
            NotFoundError / ForbiddenError / UnauthenticatedError: from the server.
        """
        target = out_dir / object_id
        journal = DownloadJournal(out_dir / f".{object_id}")
        if force:
            journal.discard()
            target.unlink(missing_ok=True)
        elif target.exists():
            return DownloadResult(object_id, target, target.stat().st_size, None, False, skipped=True)
        spec = self._api.download_spec(object_id, offset, length)
        parts = sorted(spec.parts, key=lambda p: p.partNumber)
        range_start = parts[0].offset if parts else offset
        header = JournalHeader(
            object_id,
            spec.objectSize,
            spec.objectMd5,
            range_start,
            spec.objectSize,
            [(p.partNumber, p.offset, p.partSize, p.sourceMd5) for p in parts],
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        done = {n: m for n, m in journal.open(header).items() if m}
        try:
            return self._run(spec, parts, range_start, journal, done, target, validate, offset, length)
        finally:
            journal.close()

    def _run(
        self,
        spec: ObjectSpecification,
        parts: list[Part],
        range_start: int,
        journal: DownloadJournal,
        done: dict[int, str],
        target: Path,
        validate: bool,
        offset: int,
        length: int,
    ) -> DownloadResult:
        size = spec.objectSize
        fd = os.open(journal.data_path, os.O_RDWR | os.O_CREAT, 0o644)
        cancel = threading.Event()
        progress = Progress(f"download {spec.objectId}", size, self._show)
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
            shared = _Shared({p.partNumber: p.url for p in parts if p.url}, {})
            resumed = self._reverify(fd, parts, range_start, done, journal, shared)
            progress.set_done(sum(p.partSize for p in parts if p.partNumber in shared.done))
            todo = [p for p in parts if p.partNumber not in shared.done]
            whole = hashlib.md5()  # noqa: S324
            with ThreadPoolExecutor(self._parallel, "score-down") as executor:
                futures: list[Future[None]] = [
                    executor.submit(
                        self._fetch_part, spec.objectId, offset, length, p, fd, range_start, shared, journal,
                        cancel, progress,
                    )
                    for p in todo
                ]
                try:
                    self._hash_in_order(fd, parts, range_start, shared, whole, futures)
                    for f in futures:
                        f.result()
                except BaseException:
                    cancel.set()
                    raise
            file_md5 = whole.hexdigest()
            verified = False
            if validate and spec.objectMd5:
                if file_md5 != spec.objectMd5.lower():
                    journal.discard()
                    raise e.IntegrityError(
                        f"object {spec.objectId}: the downloaded bytes have MD5 {file_md5}, the server records "
                        f"{spec.objectMd5}; the stored object may be corrupt. Nothing was kept."
                    )
                verified = True
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(journal.data_path, target)
        journal.discard()
        progress.finish()
        return DownloadResult(
            spec.objectId, target, size, file_md5, verified, len(parts), len(todo), resumed, retries=shared.retries
        )

    def _reverify(
        self,
        fd: int,
        parts: list[Part],
        range_start: int,
        done: dict[int, str],
        journal: DownloadJournal,
        shared: _Shared,
    ) -> int:
        """Re-hash parts a previous run completed; keep only those that still match."""
        resumed = 0
        buf = memoryview(bytearray(READ_CHUNK))
        for p in parts:
            logged = done.get(p.partNumber)
            if not logged:
                continue
            md5 = hashlib.md5()  # noqa: S324
            left = _hash_range(fd, p.offset - range_start, p.partSize, md5, buf)
            if left == 0 and md5.hexdigest() == logged and (not p.sourceMd5 or p.sourceMd5 == logged):
                shared.done[p.partNumber] = logged
                resumed += 1
            else:
                journal.forget(p.partNumber)
        return resumed

    def _refresh(self, object_id: str, offset: int, length: int, shared: _Shared, seen: int) -> None:
        with shared.lock:
            if shared.generation != seen:
                return
            spec = self._api.download_spec(object_id, offset, length)
            for p in spec.parts:
                if p.url:
                    shared.urls[p.partNumber] = p.url
            shared.generation += 1

    def _fetch_part(
        self,
        object_id: str,
        offset: int,
        length: int,
        part: Part,
        fd: int,
        range_start: int,
        shared: _Shared,
        journal: DownloadJournal,
        cancel: threading.Event,
        progress: Progress,
    ) -> None:
        base = part.offset - range_start
        rng = ByteRange(part.offset, part.partSize)
        attempt = integrity_failures = 0
        while True:
            seen = shared.generation
            url = shared.urls.get(part.partNumber)
            received = [0]

            def sink(chunk: memoryview, at: int) -> None:
                pwrite_all(fd, chunk, base + at)
                received[0] += len(chunk)
                progress.add(len(chunk))

            try:
                if url is None:
                    raise e.UrlExpiredError("no URL for this part")
                md5 = self._data.get_range(url, rng, sink, cancel)
                if part.sourceMd5 and md5 != part.sourceMd5.lower():
                    raise e.IntegrityError(f"part {part.partNumber} has MD5 {md5}, expected {part.sourceMd5}")
                journal.record(part.partNumber, md5)
                with shared.changed:
                    shared.done[part.partNumber] = md5
                    shared.changed.notify_all()
                return
            except e.UrlExpiredError:
                self._refresh(object_id, offset, length, shared, seen)
            except e.IntegrityError as exc:
                integrity_failures += 1
                if integrity_failures >= 3:
                    raise e.IntegrityError(f"object {object_id}: {exc.message} (after 3 attempts)") from exc
            except e.ScoreError as exc:
                attempt += 1
                if not exc.retryable or attempt >= self._retry.attempts:
                    raise
                if cancel.wait(self._retry.delay(attempt)):
                    raise Cancelled from exc
            progress.add(-received[0])
            with shared.lock:
                shared.retries += 1

    @staticmethod
    def _hash_in_order(
        fd: int,
        parts: list[Part],
        range_start: int,
        shared: _Shared,
        whole: hashlib._Hash,
        futures: list[Future[None]],
    ) -> None:
        """Feed the whole-file MD5 part by part, as soon as each next part is complete."""
        buf = memoryview(bytearray(READ_CHUNK))
        for p in parts:
            with shared.changed:
                while p.partNumber not in shared.done:
                    failed = next((f for f in futures if f.done() and f.exception() is not None), None)
                    if failed is not None:
                        failed.result()
                    shared.changed.wait(0.2)
            if _hash_range(fd, p.offset - range_start, p.partSize, whole, buf):
                raise e.IntegrityError("the download file shrank while it was being written")
            _start_writeback(fd, p.offset - range_start, p.partSize)


def _start_writeback(fd: int, pos: int, length: int) -> None:
    """Start writing a finished part to disk now, so the final fsync has little left to do.

    On Linux, ``POSIX_FADV_DONTNEED`` starts asynchronous writeback of dirty pages and drops
    clean ones, which also keeps a 100 GB download from flooding the page cache.
    """
    if length and hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, pos, length, os.POSIX_FADV_DONTNEED)


def _hash_range(fd: int, pos: int, length: int, digest: Any, buf: memoryview) -> int:
    """Feed ``length`` bytes of *fd* from *pos* into *digest* through *buf*; return the bytes not found."""
    while length > 0:
        n = os.preadv(fd, [buf[: min(len(buf), length)]], pos)
        if n <= 0:
            break
        digest.update(buf[:n])
        pos += n
        length -= n
    return length
