"""Parallel, resumable, verified download of one object.

Workers fetch parts (each URL signed for its Range) and write them in place. Verification
hashes every byte once on the happy path, because MD5 runs at one core's speed and is what
limits a download on a fast network (bench/README.md):

* **whole-object mode** (``--validate true`` and the server records the object's MD5): an
  ordered hasher follows the completed prefix of the file, computing the whole-file MD5 while
  the transfer runs. Only if it disagrees are the parts re-hashed from disk against their
  ``sourceMd5``; the parts that differ are fetched again (each checked as it streams) and the
  file is hashed once more. A stored object that is really corrupt fails with nothing kept.
* **part mode** (a sub-range, no recorded object MD5, or ``--validate false``): each part's
  MD5 is checked against ``sourceMd5`` as it streams.

The file appears under its final name only once complete and verified. A byte range has a name
of its own (``<name>.<first>-<last>``, :func:`score.client.transfer.output_layout.range_name`), so it is never
taken for the whole object. A file already under the name is skipped only once its size and MD5
are found to be the server's; any other file there is left as it is and refused (``force``
replaces it). Expired URLs are refreshed by asking the server again; a killed download resumes
from its recorded parts, and a full disk stops it with the parts written so far kept.

One :class:`Downloader` may download several objects at once (from several threads): their
parts share one pool of ``parallel`` workers, so connections and buffers stay bounded however
many files are in flight, and the free-space check before each download counts what the others
still need (:mod:`score.client.transfer.disk_space`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from score.attempts import (
    INTEGRITY_ATTEMPTS,
    Cancelled,
    RetryPolicy,
    Sleep,
    attempt,
    integrity_budget,
    url_refresh,
    with_retry,
)
from score.client.http.server_api import ServerApi
from score.client.http.url_expiry import expired_too_often
from score.client.transfer import target_lock
from score.client.transfer.data_plane import DataPlane, pwrite_all
from score.client.transfer.disk_space import Claim, SpaceBook, write_error
from score.client.transfer.file_md5 import difference, hash_range, read_buffer
from score.client.transfer.journal import DownloadJournal, JournalHeader
from score.client.transfer.output_layout import range_name, ranged
from score.client.transfer.progress import Board, Progress
from score.domain import errors as e
from score.domain.ranges import ByteRange
from score.wire.client_models import ObjectSpecification, Part

RECEIVED = "received"  # journal value of a part written but not hashed on its own (whole-object mode)
PART_ATTEMPTS = INTEGRITY_ATTEMPTS  # a part whose bytes fail their MD5 is fetched this many times in all
_LEFT_AS_IT_IS = "; it was left as it is: move it away, or use --force to replace it"


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


@dataclass(eq=False)
class _Job:
    """What every part worker of one download shares (hashed by identity)."""

    object_id: str
    offset: int
    length: int
    fd: int
    range_start: int
    shared: _Shared
    journal: DownloadJournal
    cancel: threading.Event
    progress: Progress
    futures: list[Future[None]] = field(default_factory=list)

    def submit(self, pool: ThreadPoolExecutor, fn: Any, *args: Any) -> Future[None]:
        """Run a part task on the shared pool, remembered so that the file outlives it."""
        future: Future[None] = pool.submit(fn, self, *args)
        self.futures.append(future)
        return future


class Downloader:
    """Downloads objects through pre-signed ranged URLs."""

    def __init__(
        self,
        api: ServerApi,
        data: DataPlane,
        *,
        parallel: int = 4,
        retry: RetryPolicy | None = None,
        board: Board | None = None,
        space: SpaceBook | None = None,
        sleep: Sleep | None = None,
        fsync: bool = False,
    ) -> None:
        """Fetch up to *parallel* parts at once, across every object in flight; report to *board*.

        Failed parts are attempted again by *retry* (``score.attempts``); *sleep* replaces the real
        clock between attempts (tests). A file of several parts is flushed to disk (fsync) before it
        takes its name; a file of one part only with *fsync* (``--fsync``): for thousands of small
        files the flushes would cost more than the transfer.
        """
        self._api = api
        self._data = data
        self._parallel = max(1, parallel)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._board = board or Board(0, enabled=False)
        self._pool = ThreadPoolExecutor(self._parallel, "score-down")
        # one bound on transfers in flight: the pool's part fetches and the one-part files fetched in their
        # own threads take a slot each
        self._slots = threading.BoundedSemaphore(self._parallel)
        self._lock = threading.Lock()
        self._jobs: set[_Job] = set()
        self._stopped = False
        self._space = space or SpaceBook()
        self._fsync = fsync
        self._batch_specs = True  # until the server shows it has no POST /download/specs

    def close(self) -> None:
        """Stop the part workers (after :meth:`cancel_all`, promptly)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def cancel_all(self) -> None:
        """Interrupt every download in flight (their resume state is kept) and refuse new ones."""
        with self._lock:
            self._stopped = True
            for job in self._jobs:
                job.cancel.set()

    def prefetch(self, object_ids: list[str]) -> dict[str, ObjectSpecification | e.ScoreError]:
        """The whole-object specs of *object_ids* in one server call, to hand to :meth:`download`.

        Returns each object's spec or the error its own request would raise; nothing (the downloads
        then ask object by object) when the server has no batch endpoint or the call fails.
        """
        if not self._batch_specs or len(object_ids) < 2:
            return {}
        try:
            found = self._api.download_specs(object_ids)
        except e.ScoreError:
            return {}  # each download asks for its own spec, and reports its own error
        if found is None:
            self._batch_specs = False
            return {}
        return found

    def download(
        self,
        object_id: str,
        out_dir: Path,
        *,
        offset: int = 0,
        length: int = -1,
        validate: bool = True,
        force: bool = False,
        target: Path | None = None,
        spec: ObjectSpecification | None = None,
    ) -> DownloadResult:
        """Download *object_id*, or its byte range *offset*/*length*, into *target* (default ``out_dir/<object_id>``).

        A range is written to ``<target>.<first>-<last>`` instead. Resume state lives in
        ``out_dir/.<object_id>/`` (``.<object_id>.<first>-<last>/`` for a range) whatever the target's name;
        an object of one part keeps no part log (it is fetched again whole). A file already there is skipped
        once :meth:`_check_existing` finds it complete; *force* replaces it. *spec* is the object's
        whole-object spec from :meth:`prefetch` (ignored for a range).

        Raises:
            InvalidRequestError: an empty range (*length* 0).
            ConflictError: a file already under the name is not the object (it is left as it is).
            IntegrityError: the bytes do not match their MD5 (nothing is left under the final name).
            DiskSpaceError: the output file system is full (what was written is kept for resuming).
            NotFoundError / ForbiddenError / UnauthenticatedError: from the server.
        """
        if length == 0:
            raise e.InvalidRequestError("--length 0 selects no bytes: give a positive length, or -1 for the rest")
        target = target if target is not None else out_dir / object_id
        if spec is None or ranged(offset, length):
            spec = self._api.download_spec(object_id, offset, length)
        state = f".{object_id}"
        if ranged(offset, length):
            target = target.with_name(range_name(target.name, offset, spec.objectSize))
            state = "." + range_name(object_id, offset, spec.objectSize)
        with target_lock.exclusive(target):  # a second process downloading the same file waits, then finds it done
            return self._download(object_id, spec, out_dir / state, target, validate, force, offset, length)

    def _download(
        self,
        object_id: str,
        spec: ObjectSpecification,
        state: Path,
        target: Path,
        validate: bool,
        force: bool,
        offset: int,
        length: int,
    ) -> DownloadResult:
        out_dir = state.parent
        parts = sorted(spec.parts, key=lambda p: p.partNumber)
        journal = DownloadJournal(state, persistent=len(parts) > 1)
        if force:
            journal.discard()
            target.unlink(missing_ok=True)
        elif target.exists():
            return self._check_existing(target, spec, parts)
        range_start = parts[0].offset if parts else offset
        header = JournalHeader(
            object_id,
            spec.objectSize,
            spec.objectMd5,
            range_start,
            spec.objectSize,
            [(p.partNumber, p.offset, p.partSize, p.sourceMd5) for p in parts],
        )
        claim = self._space.claim(target, spec.objectSize, journal.data_path)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            done = {n: m for n, m in journal.open(header).items() if m}
            try:
                return self._run(spec, parts, range_start, journal, done, target, validate, offset, length, claim)
            except OSError as exc:  # a local write: the data file, the part log, the final rename
                raise write_error(exc, journal.data_path) from exc
            finally:
                journal.close()
        finally:
            self._space.release(claim)

    def _check_existing(self, target: Path, spec: ObjectSpecification, parts: list[Part]) -> DownloadResult:
        """Skip *target* only if it holds what the server does: the same size, and the same MD5 (the object's;
        else each part's ``sourceMd5``; else, for a part a range cut, that of its bytes fetched again).

        Raises:
            ConflictError: it does not; it is left as it is (``--force`` replaces it).
        """
        size = target.stat().st_size
        if size != spec.objectSize:
            raise e.ConflictError(
                f"{target} exists but holds {size} bytes, not the {spec.objectSize} of object "
                f"{spec.objectId}{_LEFT_AS_IT_IS}"
            )
        wants = {p.partNumber: (p.sourceMd5 or self._served_md5(p)).lower() for p in parts if not spec.objectMd5}
        progress = self._board.track(f"checking {target.name}", size)
        try:
            with open(target, "rb", buffering=0) as fh:
                wrong = difference(fh.fileno(), spec, parts, wants, progress)
        except BaseException:
            progress.abandon()
            raise
        progress.finish()
        if wrong:
            raise e.ConflictError(f"{target} exists but {wrong} of object {spec.objectId}{_LEFT_AS_IT_IS}")
        return DownloadResult(spec.objectId, target, size, spec.objectMd5, True, len(parts), skipped=True)

    def _served_md5(self, part: Part) -> str:
        """The MD5 of a part's bytes as the store serves them now (read, not kept)."""

        def discard(chunk: memoryview, at: int) -> None:
            pass

        url = part.url
        if not url:
            raise e.NotFoundError(f"the server returned no URL for part {part.partNumber}")
        rng = ByteRange(part.offset, part.partSize)
        return with_retry(lambda: self._data.get_range(url, rng, discard, threading.Event()), self._retry, self._sleep)

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
        claim: Claim,
    ) -> DownloadResult:
        size = spec.objectSize
        expected = spec.objectMd5.lower() if validate and spec.objectMd5 else None
        label = target.name if target.name != spec.objectId else f"download {spec.objectId}"
        progress = self._board.track(label, size)
        claim.progress = progress
        fd = os.open(journal.data_path, os.O_RDWR | os.O_CREAT, 0o644)
        shared = _Shared({p.partNumber: p.url for p in parts if p.url}, {})
        job = _Job(spec.objectId, offset, length, fd, range_start, shared, journal, threading.Event(), progress)
        file_md5: str | None = None
        try:
            with self._lock:
                if self._stopped:
                    raise Cancelled
                self._jobs.add(job)
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
            resumed = self._reverify(fd, parts, range_start, done, journal, shared, trust=expected is not None)
            progress.set_done(sum(p.partSize for p in parts if p.partNumber in shared.done))
            todo = [p for p in parts if p.partNumber not in shared.done]
            if len(parts) == 1 and todo:
                file_md5 = self._fetch_only_part(job, todo[0], expected)
            else:
                futures = [job.submit(self._pool, self._fetch_part, p, expected is None) for p in todo]
                if expected is not None:
                    whole = hashlib.md5()  # noqa: S324
                    self._hash_in_order(job, parts, whole, futures)
                for f in futures:
                    f.result()
                if expected is not None:
                    file_md5 = whole.hexdigest()
                    if file_md5 != expected:
                        file_md5 = self._repair(job, parts, expected, file_md5)
            if self._fsync or len(parts) > 1:
                os.fsync(fd)
        except BaseException:
            job.cancel.set()
            wait(job.futures)  # no worker may write to the descriptor once it is closed
            progress.abandon()
            if not journal.persistent:
                journal.discard()  # one part: nothing to resume, so nothing is left behind
            raise
        finally:
            with self._lock:
                self._jobs.discard(job)
            os.close(fd)
        os.replace(journal.data_path, target)
        journal.discard()
        progress.finish()
        return DownloadResult(
            spec.objectId,
            target,
            size,
            file_md5,
            expected is not None,
            len(parts),
            len(todo),
            resumed,
            retries=shared.retries,
        )

    def _fetch_only_part(self, job: _Job, part: Part, expected: str | None) -> str | None:
        """Fetch an object's one part, the whole file, in this thread, hashed as it streams and checked
        against the object's MD5 (*expected*) or its own: no hand-over, no second read from disk.

        Returns:
            The file's MD5 when *expected* is given.

        Raises:
            IntegrityError: the bytes kept failing their MD5 (:meth:`_run` removes them).
        """
        if expected is not None:
            part = replace(part, sourceMd5=expected)
        try:
            self._fetch_part(job, part, expected is not None or bool(part.sourceMd5))
        except e.IntegrityError as exc:
            raise e.IntegrityError(
                f"{exc.message}; the stored object or its record may be corrupt. Nothing was kept."
            ) from exc
        return job.shared.done[part.partNumber] if expected is not None else None

    def _repair(self, job: _Job, parts: list[Part], expected: str, got: str) -> str:
        """The whole-file MD5 disagrees: find the parts that differ from their ``sourceMd5``, fetch
        them again (checked as they stream) and hash the file once more.

        Raises:
            IntegrityError: the parts cannot be told apart, or the object still does not verify
                (the local state is discarded: nothing is kept).
        """
        buf = read_buffer(parts)
        bad = []
        for p in parts:
            md5 = hashlib.md5()  # noqa: S324
            left = hash_range(job.fd, p.offset - job.range_start, p.partSize, md5, buf)
            if left or (p.sourceMd5 and md5.hexdigest() != p.sourceMd5.lower()):
                bad.append(p)
        if not bad:
            job.journal.discard()
            raise e.IntegrityError(
                f"object {job.object_id}: the downloaded bytes have MD5 {got}, the server records {expected}, "
                "and no part can be blamed; the stored object or its record may be corrupt. Nothing was kept."
            )
        for p in bad:
            job.journal.forget(p.partNumber)
            job.progress.add(-p.partSize)
        for f in [job.submit(self._pool, self._fetch_part, p, True) for p in bad]:
            f.result()
        whole = hashlib.md5()  # noqa: S324
        hash_range(job.fd, 0, sum(p.partSize for p in parts), whole, buf)
        if whole.hexdigest() != expected:
            job.journal.discard()
            raise e.IntegrityError(
                f"object {job.object_id}: the downloaded bytes have MD5 {whole.hexdigest()}, the server records "
                f"{expected}; the stored object may be corrupt. Nothing was kept."
            )
        return whole.hexdigest()

    def _reverify(
        self,
        fd: int,
        parts: list[Part],
        range_start: int,
        done: dict[int, str],
        journal: DownloadJournal,
        shared: _Shared,
        *,
        trust: bool,
    ) -> int:
        """Take over the parts a previous run recorded.

        With *trust* (whole-object mode) they are kept as they are: the whole-file MD5 checks
        them, and :meth:`_repair` re-fetches any that differ. Otherwise each is re-hashed and
        kept only if it still matches its ``sourceMd5`` (or the MD5 recorded for it).
        """
        resumed = 0
        buf = read_buffer(parts) if done and not trust else memoryview(b"")
        for p in parts:
            logged = done.get(p.partNumber)
            if not logged:
                continue
            if not trust:
                md5 = hashlib.md5()  # noqa: S324
                left = hash_range(fd, p.offset - range_start, p.partSize, md5, buf)
                want = (p.sourceMd5 or (logged if logged != RECEIVED else "")).lower()
                if left or not want or md5.hexdigest() != want:
                    journal.forget(p.partNumber)
                    continue
                logged = md5.hexdigest()
            shared.done[p.partNumber] = logged
            resumed += 1
        return resumed

    def _refresh(self, job: _Job, seen: int) -> None:
        shared = job.shared
        with shared.lock:
            if shared.generation != seen:
                return
            spec = self._api.download_spec(job.object_id, job.offset, job.length)
            for p in spec.parts:
                if p.url:
                    shared.urls[p.partNumber] = p.url
            shared.generation += 1

    def _fetch_part(self, job: _Job, part: Part, check: bool) -> None:
        """Fetch one part into place; with *check*, its MD5 must equal ``sourceMd5``.

        Raises:
            Cancelled: the download is being cancelled.
            IntegrityError: the part's bytes failed their MD5 ``PART_ATTEMPTS`` times.
            UrlExpiredError: fresh URLs keep arriving expired.
            ScoreError: what is not retryable, or the last failure once the attempts are spent.
        """
        base = part.offset - job.range_start
        rng = ByteRange(part.offset, part.partSize)
        shared = job.shared
        seen = shared.generation
        received = 0  # bytes of the current attempt, taken back from the progress if it fails

        def sink(chunk: memoryview, at: int) -> None:
            nonlocal received
            try:
                pwrite_all(job.fd, chunk, base + at)
            except OSError as exc:  # here, not in the HTTP layer, which would take it for a network error
                raise write_error(exc, job.journal.data_path) from exc
            received += len(chunk)
            job.progress.add(len(chunk))

        def once() -> None:
            nonlocal seen, received
            seen, received = shared.generation, 0
            url = shared.urls.get(part.partNumber)
            if url is None:
                raise e.UrlExpiredError("no URL for this part")
            md5 = self._data.get_range(url, rng, sink, job.cancel, hash_bytes=check)
            if check and part.sourceMd5 and md5 != part.sourceMd5.lower():
                raise e.IntegrityError(f"part {part.partNumber} has MD5 {md5}, expected {part.sourceMd5}")
            job.journal.record(part.partNumber, md5 or RECEIVED)
            with shared.changed:
                shared.done[part.partNumber] = md5 or RECEIVED
                shared.changed.notify_all()

        def failed(_exc: e.ScoreError) -> None:
            job.progress.add(-received)
            with shared.lock:
                shared.retries += 1

        def run() -> None:
            with self._slots:  # the retries' waits are outside: only a transfer holds a slot
                once()

        attempt(
            run,
            self._retry,
            cancel=job.cancel,
            sleep=self._sleep,
            integrity=integrity_budget(
                PART_ATTEMPTS,
                exhausted=lambda exc, _n: e.IntegrityError(
                    f"object {job.object_id}: {exc.message} (after {PART_ATTEMPTS} attempts)"
                ),
            ),
            expiry=url_refresh(
                lambda _exc: self._refresh(job, seen),
                exhausted=lambda _exc, times: expired_too_often(part.partNumber, times),
            ),
            on_retry=failed,
        )

    @staticmethod
    def _hash_in_order(job: _Job, parts: list[Part], whole: Any, futures: list[Future[None]]) -> None:
        """Feed the whole-file MD5 part by part, as soon as each next part is complete."""
        buf = read_buffer(parts)
        shared = job.shared
        for p in parts:
            with shared.changed:
                while p.partNumber not in shared.done:
                    failed = next((f for f in futures if f.done() and f.exception() is not None), None)
                    if failed is not None:
                        failed.result()
                    shared.changed.wait(0.2)
            pos = p.offset - job.range_start
            if hash_range(job.fd, pos, p.partSize, whole, buf):
                raise e.IntegrityError("the download file shrank while it was being written")
            _start_writeback(job.fd, pos, p.partSize)


def _start_writeback(fd: int, pos: int, length: int) -> None:
    """Start writing a finished part to disk now, so the final fsync has little left to do.

    On Linux, ``POSIX_FADV_DONTNEED`` starts asynchronous writeback of dirty pages and drops
    clean ones, which also keeps a 100 GB download from flooding the page cache.
    """
    if length and hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, pos, length, os.POSIX_FADV_DONTNEED)
