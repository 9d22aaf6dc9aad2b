"""Batch downloads as a use case: the objects a selection names (ids, a manifest, an analysis), what the
metadata service adds (names, analyses, sizes, index files), the file each goes to, whether the disk
holds them, and downloading them several at once.

Returns typed values and reports through callbacks; it prints nothing and knows no flags or exit codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from score.client.transfer.disk_space import allocated, check_free
from score.client.transfer.output_layout import ObjectEntry, plan_targets, range_bytes, range_name, ranged
from score.domain import errors as e

if TYPE_CHECKING:
    from score.client.http.song_entities import Analysis, FileEntity
    from score.client.transfer.download import DownloadResult
    from score.client.transfer.manifest import ManifestText
    from score.wire.client_models import ObjectSpecification

SPECS_AHEAD = 100  # whole-object specs asked in one call, about this many objects ahead of the downloads
METADATA_LOOKUPS = 8  # metadata requests in flight while a batch is completed
LOOKUP_CHUNK = 64  # at most this many objects looked up together before the analyses they name are listed


class MetadataLookups(Protocol):
    """The part of the metadata API a batch needs (:class:`score.client.http.metadata_api.MetadataApi`)."""

    def entity(self, object_id: str) -> FileEntity | None:
        """``GET /entities/{id}``; None when unknown."""
        ...

    def analysis(self, study: str, analysis_id: str) -> Analysis:
        """``GET /studies/{study}/analysis/{id}``."""
        ...

    def analysis_entities(self, analysis_id: str, study: str) -> list[FileEntity]:
        """The file entities of an analysis."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ObjectDownloader(Protocol):
    """The part of :class:`score.client.transfer.download.Downloader` a batch drives."""

    def prefetch(self, object_ids: list[str]) -> dict[str, ObjectSpecification | e.ScoreError]:
        """Whole-object specs of several objects in one call (may be empty: then each asks its own)."""
        ...

    def download(
        self,
        object_id: str,
        out_dir: Path,
        *,
        offset: int,
        length: int,
        validate: bool,
        force: bool,
        target: Path,
        spec: ObjectSpecification | None = None,
    ) -> DownloadResult:
        """Download one object to *target* (with its *spec* when prefetched)."""
        ...

    def cancel_all(self) -> None:
        """Stop every download in flight."""
        ...


@dataclass(frozen=True, slots=True)
class ByIds:
    """Objects named by id (duplicates count once)."""

    object_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ByManifest:
    """The objects of a download manifest (ICGC portal or Song upload manifest): a file, or the text
    of one already fetched from a URL or a portal.
    """

    manifest: Path | ManifestText


@dataclass(frozen=True, slots=True)
class ByAnalysis:
    """Every file of an analysis of a study."""

    analysis_id: str
    study: str


Selection = ByIds | ByManifest | ByAnalysis


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """Where and how a batch is written."""

    output_dir: Path
    layout: str = "filename"  # output_layout.LAYOUTS
    with_indexes: bool = True
    offset: int = 0
    length: int = -1  # -1: to the end
    validate: bool = True
    force: bool = False


@dataclass(frozen=True, slots=True)
class AnalysisSkipped:
    """Note: an analysis could not be read, so its sizes and index files are not looked up."""

    analysis_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class NoIndex:
    """Note: no index file was found for a BAM/CRAM/VCF in its analysis."""

    item: ObjectEntry


Note = AnalysisSkipped | NoIndex


@dataclass(frozen=True)
class BatchPlan:
    """The objects to download, in order, and each one's file under the output directory."""

    items: tuple[ObjectEntry, ...]
    targets: Mapping[str, str]  # object id -> path relative to the output directory


@dataclass(frozen=True)
class Outcome:
    """How one object of a batch ended: its result, or the error it failed with."""

    object_id: str
    file: Path
    seconds: float
    result: DownloadResult | None = None
    error: e.ScoreError | None = None


def entry_of(entity: FileEntity) -> ObjectEntry:
    """An object, its name, analysis and study from a file entity (which carries no size)."""
    return ObjectEntry(entity.object_id, entity.file_name, entity.analysis_id, study=entity.study)


def analysis_entries(api: MetadataLookups, study: str, analysis_id: str) -> list[ObjectEntry]:
    """The files of an analysis with names and sizes (``GET /studies/{study}/analysis/{id}``)."""
    return [
        ObjectEntry(f.object_id, f.file_name, analysis_id, f.size, study)
        for f in api.analysis(study, analysis_id).files
    ]


def select(selection: Selection, metadata: Callable[[], MetadataLookups]) -> list[ObjectEntry]:
    """The objects *selection* names, with what an analysis listing says of them.

    Args:
        selection: ids, a manifest or an analysis.
        metadata: opens a metadata client (asked only for an analysis; closed here).

    Raises:
        NotFoundError: the analysis has no files.
        InvalidRequestError: an unreadable or malformed manifest.
    """
    if isinstance(selection, ByIds):
        return [ObjectEntry(oid) for oid in dict.fromkeys(selection.object_ids)]
    if isinstance(selection, ByManifest):
        from score.client.transfer.manifest import parse_download_manifest, read_download_manifest

        m = selection.manifest
        ids = read_download_manifest(m) if isinstance(m, Path) else parse_download_manifest(m)
        return [ObjectEntry(oid) for oid in ids]
    api = metadata()
    try:
        entities = api.analysis_entities(selection.analysis_id, selection.study)
    finally:
        api.close()
    if not entities:
        raise e.NotFoundError(
            f"analysis {selection.analysis_id} of study {selection.study} has no files (or does not exist)",
            reason=e.ANALYSIS_NOT_FOUND,
        )
    return [entry_of(entity) for entity in entities]


def complete(
    items: list[ObjectEntry],
    options: BatchOptions,
    metadata: Callable[[], MetadataLookups],
    note: Callable[[Note], None],
) -> list[ObjectEntry]:
    """Complete *items* from the metadata service: names, analyses, sizes and index files.

    About one request per analysis, not per object: objects are looked up (``GET /entities/{id}``)
    in chunks growing from 1 to ``LOOKUP_CHUNK``, ``METADATA_LOOKUPS`` requests in flight, then the
    analyses they name are listed once each, which names and sizes every later object of the batch
    in those analyses. Objects the metadata service does not know stay as they are
    (named by id). Nothing is asked when the layout needs no names and no index files are wanted.

    Args:
        items: the selection.
        options: the layout and whether index files are wanted.
        metadata: opens a metadata client (closed here).
        note: told of each analysis that cannot be read and each data file without an index, as found.

    Returns:
        The objects, each index file right after its data file.
    """
    if not options.with_indexes and (options.layout == "id" or all(item.file_name for item in items)):
        return items
    from score.client.transfer.index_pairing import pair_indexes

    files: dict[str, list[ObjectEntry]] = {}
    listed: dict[str, ObjectEntry] = {}  # object id -> its entry in an analysis already listed

    def listing(api: MetadataLookups, analysis: str, study: str) -> list[ObjectEntry] | e.ScoreError:
        try:
            return analysis_entries(api, study, analysis)
        except (e.NotFoundError, e.ForbiddenError) as exc:
            return exc

    def lookup(api: MetadataLookups, item: ObjectEntry) -> ObjectEntry:
        if item.analysis_id:
            return item
        if item.object_id in listed:
            return listed[item.object_id]
        entity = api.entity(item.object_id)
        return entry_of(entity) if entity is not None else item

    api = metadata()
    known: list[ObjectEntry] = []
    try:
        with ThreadPoolExecutor(METADATA_LOOKUPS, "score-metadata") as pool:
            start, size = 0, 1
            while start < len(items):
                # a chunk's objects at once, then the analyses they name that are not listed yet; chunks
                # grow from one object, so a batch of few analyses costs about one lookup for each
                batch_items, start, size = items[start : start + size], start + size, min(2 * size, LOOKUP_CHUNK)
                chunk = list(pool.map(lambda item: lookup(api, item), batch_items))
                known += chunk
                wanted = dict.fromkeys((str(i.analysis_id), str(i.study)) for i in chunk if i.analysis_id and i.study)
                todo = [(a, st) for a, st in wanted if a not in files]
                for (analysis, _), found in zip(todo, pool.map(lambda w: listing(api, *w), todo), strict=True):
                    if isinstance(found, e.ScoreError):
                        files[analysis] = []
                        note(AnalysisSkipped(analysis, found.message))
                    else:
                        files[analysis] = found
                        listed.update((f.object_id, f) for f in found)
    finally:
        api.close()
    sizes = {f.object_id: f.size for listed_files in files.values() for f in listed_files}
    known = [replace(i, size=i.size if i.size is not None else sizes.get(i.object_id)) for i in known]
    if not options.with_indexes:
        return known
    pairing = pair_indexes(known, {a: f for a, f in files.items() if f})
    for item in pairing.unpaired:
        note(NoIndex(item))
    return pairing.items


def known_bytes(items: list[ObjectEntry], options: BatchOptions) -> int:
    """What the objects of known size add up to (of a range, the bytes it selects): a batch's total up front."""
    if ranged(options.offset, options.length):
        return sum(range_bytes(options.offset, options.length, i.size) for i in items if i.size is not None)
    return sum(i.size for i in items if i.size is not None)


def check_space(
    items: list[ObjectEntry],
    targets: Mapping[str, str],
    options: BatchOptions,
    disk_usage: Callable[[Path], object] | None = None,
) -> None:
    """Refuse up front when the known sizes of what is still to fetch exceed the free space.

    Sizes come from the metadata service (of a range, the bytes it selects); partial downloads count
    only what they still lack, and files already complete under their name (without ``force``)
    nothing. Objects of unknown size are checked by the downloader when they start.

    Raises:
        DiskSpaceError: with the amounts, before anything is downloaded.
    """
    out_dir, force = options.output_dir, options.force
    need = 0
    for item in items:
        if item.size is None:
            continue
        size, name, state = item.size, targets[item.object_id], f".{item.object_id}"
        if ranged(options.offset, options.length):
            size = range_bytes(options.offset, options.length, item.size)
            name, state = range_name(name, options.offset, size), "." + range_name(item.object_id, options.offset, size)
        if not force and (out_dir / name).exists():
            continue
        need += max(size - (0 if force else allocated(out_dir / state / "data")), 0)
    check_free(out_dir, need, "the download (nothing was downloaded)", disk_usage=disk_usage)


def plan(
    items: list[ObjectEntry], options: BatchOptions, disk_usage: Callable[[Path], object] | None = None
) -> BatchPlan:
    """Name each object's file in the layout and check the disk can hold the batch.

    Raises:
        InvalidRequestError: two objects would be written to the same file.
        DiskSpaceError: the known sizes exceed the free space.
    """
    targets = plan_targets(items, options.layout)
    check_space(items, targets, options, disk_usage)
    return BatchPlan(tuple(items), targets)


def download_all(
    batch: BatchPlan,
    downloader: ObjectDownloader,
    options: BatchOptions,
    parallel: int,
    on_outcome: Callable[[Outcome], None],
) -> None:
    """Download every object of *batch*, up to *parallel* at once; *on_outcome* is called in this
    thread as each one ends, failures included.

    Whole objects' specs are asked for ``SPECS_AHEAD`` at a time (one server call, not one per
    object), shortly before their downloads start, so their URLs are fresh; at most about twice that
    many objects are queued at once, so a manifest of any length takes bounded memory.

    Whatever *on_outcome* raises (or an interrupt) cancels the downloads in flight and propagates.
    A full disk stops the batch at once: the first object that fails with a ``DiskSpaceError`` is
    passed to *on_outcome*, then the error is raised the same way (no more downloads start, those
    in flight stop with their resume state kept, complete files stay), rather than every object
    left failing with it in turn.

    Raises:
        DiskSpaceError: an object could not be written for want of space.
    """

    def one(oid: str, spec: ObjectSpecification | e.ScoreError | None) -> Outcome:
        t0 = time.monotonic()
        target = options.output_dir / batch.targets[oid]
        if isinstance(spec, e.ScoreError):
            return Outcome(oid, target, 0.0, error=spec)
        try:
            result = downloader.download(
                oid,
                options.output_dir,
                offset=options.offset,
                length=options.length,
                validate=options.validate,
                force=options.force,
                target=target,
                spec=spec,
            )
        except e.ScoreError as exc:
            return Outcome(oid, target, round(time.monotonic() - t0, 3), error=exc)
        return Outcome(oid, target, round(time.monotonic() - t0, 3), result=result)

    items = batch.items
    whole = not ranged(options.offset, options.length)
    queued: set[Future[Outcome]] = set()
    start = 0
    with ThreadPoolExecutor(max(1, min(parallel, len(items))), "score-file") as files:
        try:
            while start < len(items) or queued:
                while start < len(items) and len(queued) < SPECS_AHEAD + parallel:
                    chunk = [item.object_id for item in items[start : start + SPECS_AHEAD]]
                    start += len(chunk)
                    specs = downloader.prefetch(chunk) if whole and len(items) > 1 else {}
                    queued.update(files.submit(one, oid, specs.get(oid)) for oid in chunk)
                finished, queued = wait(queued, return_when=FIRST_COMPLETED)
                for future in finished:
                    outcome = future.result()
                    on_outcome(outcome)
                    if isinstance(outcome.error, e.DiskSpaceError):
                        raise outcome.error
        except BaseException:
            downloader.cancel_all()
            files.shutdown(wait=True, cancel_futures=True)
            raise
