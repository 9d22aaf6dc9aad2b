"""Batch downloads as a use case: selection, completion from a fake metadata service, targets and
the free-space check, and the parallel run with a fake downloader (no sockets)."""

from __future__ import annotations

import threading
import uuid
from collections import namedtuple
from pathlib import Path

import pytest

from score.client.http.song_entities import Analysis, AnalysisFile, FileEntity
from score.client.transfer import batch
from score.client.transfer.batch import (
    AnalysisSkipped,
    BatchOptions,
    ByAnalysis,
    ByIds,
    ByManifest,
    NoIndex,
    Note,
    Outcome,
)
from score.client.transfer.download import DownloadResult
from score.client.transfer.manifest import ManifestText
from score.client.transfer.output_layout import ObjectEntry
from score.domain import errors as e
from score.wire.client_models import ObjectSpecification

A, B, C, D = (f"{c * 8}-0000-0000-0000-000000000000" for c in "abcd")
Usage = namedtuple("Usage", "free")


class FakeMetadata:
    """Entities and analyses from memory; counts the clients opened and closed."""

    def __init__(self, entities: dict[str, FileEntity], analyses: dict[str, Analysis | e.ScoreError]) -> None:
        self.entities, self.analyses = entities, analyses
        self.opened = self.closed = 0
        self.asked: list[str] = []

    def __call__(self) -> FakeMetadata:
        self.opened += 1
        return self

    def entity(self, object_id: str) -> FileEntity | None:
        self.asked.append(object_id)
        return self.entities.get(object_id)

    def analysis(self, study: str, analysis_id: str) -> Analysis:
        found = self.analyses[analysis_id]
        if isinstance(found, e.ScoreError):
            raise found
        return found

    def analysis_entities(self, analysis_id: str, study: str) -> list[FileEntity]:
        return [x for x in self.entities.values() if x.analysis_id == analysis_id and x.study == study]

    def close(self) -> None:
        self.closed += 1


SONG = FakeMetadata(
    {
        A: FileEntity(A, "r.bam", "an1", "ST1"),
        B: FileEntity(B, "r.bam.bai", "an1", "ST1"),
        C: FileEntity(C, "v.vcf.gz", "an2", "ST1"),
    },
    {
        "an1": Analysis(None, (AnalysisFile(A, "r.bam", 100), AnalysisFile(B, "r.bam.bai", 10))),
        "an2": e.ForbiddenError("not yours"),
    },
)


def _song() -> FakeMetadata:
    return FakeMetadata(SONG.entities, SONG.analyses)


def test_ids_count_once_and_need_no_metadata(tmp_path: Path) -> None:
    song = _song()
    assert batch.select(ByIds((A, B, A)), song) == [ObjectEntry(A), ObjectEntry(B)]
    assert song.opened == 0


def test_a_manifest_selects_its_objects(tmp_path: Path) -> None:
    manifest = tmp_path / "m.txt"
    manifest.write_text(f"an1\t\t\n{A}\t/x/r.bam\t{'a' * 32}\n")
    assert batch.select(ByManifest(manifest), _song()) == [ObjectEntry(A)]
    fetched = ManifestText(manifest.read_text(), "https://portal.example.org/m.tsv")  # issue 22: from a URL
    assert batch.select(ByManifest(fetched), _song()) == [ObjectEntry(A)]


def test_an_analysis_selects_its_named_files_or_is_not_found() -> None:
    song = _song()
    assert batch.select(ByAnalysis("an1", "ST1"), song) == [
        ObjectEntry(A, "r.bam", "an1", study="ST1"),
        ObjectEntry(B, "r.bam.bai", "an1", study="ST1"),
    ]
    assert song.opened == song.closed == 1
    with pytest.raises(e.NotFoundError, match="analysis an9 of study ST1 has no files"):
        batch.select(ByAnalysis("an9", "ST1"), song)
    assert song.closed == 2


def test_completion_names_sizes_and_pairs_indexes_and_notes_what_it_cannot(tmp_path: Path) -> None:
    song = _song()
    notes: list[Note] = []
    items = batch.complete([ObjectEntry(A), ObjectEntry(C), ObjectEntry(D)], BatchOptions(tmp_path), song, notes.append)
    assert items == [
        ObjectEntry(A, "r.bam", "an1", 100, "ST1"),
        ObjectEntry(B, "r.bam.bai", "an1", 10, "ST1"),  # its index, right after it
        ObjectEntry(C, "v.vcf.gz", "an2", None, "ST1"),
        ObjectEntry(D),  # unknown to the metadata service: named by id
    ]
    assert notes == [AnalysisSkipped("an2", "not yours"), NoIndex(items[2])]
    assert song.opened == song.closed == 1


def test_completion_looks_up_one_object_per_analysis(tmp_path: Path) -> None:
    song = _song()
    items = batch.complete([ObjectEntry(B), ObjectEntry(A)], BatchOptions(tmp_path), song, print)
    assert song.asked == [B]  # A is named and sized by an1's listing, which B's lookup brought
    assert sorted(items, key=lambda i: i.object_id) == [
        ObjectEntry(A, "r.bam", "an1", 100, "ST1"),
        ObjectEntry(B, "r.bam.bai", "an1", 10, "ST1"),
    ]


def test_completion_asks_nothing_when_nothing_is_needed(tmp_path: Path) -> None:
    song = _song()
    items = [ObjectEntry(A), ObjectEntry(D)]
    assert batch.complete(items, BatchOptions(tmp_path, layout="id", with_indexes=False), song, print) == items
    named = [ObjectEntry(A, "r.bam", "an1", study="ST1")]
    assert batch.complete(named, BatchOptions(tmp_path, with_indexes=False), song, print) == named
    assert song.opened == 0


def test_the_plan_refuses_two_objects_under_one_name(tmp_path: Path) -> None:
    items = [ObjectEntry(A, "same"), ObjectEntry(B, "same")]
    with pytest.raises(e.InvalidRequestError, match="same file"):
        batch.plan(items, BatchOptions(tmp_path))
    assert batch.plan(items, BatchOptions(tmp_path, layout="id")).targets == {A: A, B: B}


def test_the_space_check_counts_what_is_still_missing(tmp_path: Path) -> None:
    items = [ObjectEntry(A, "a", size=600), ObjectEntry(B, "b", size=500), ObjectEntry(C, "c")]  # C: size unknown
    (tmp_path / "b").write_bytes(b"done")  # complete under its name: needs nothing (without force)
    assert batch.plan(items, BatchOptions(tmp_path), lambda _p: Usage(600)).targets[A] == "a"
    with pytest.raises(e.DiskSpaceError, match="nothing was downloaded"):
        batch.plan(items, BatchOptions(tmp_path, force=True), lambda _p: Usage(1000))
    # a range needs only its bytes, under its own name
    batch.plan(items, BatchOptions(tmp_path, offset=0, length=10, force=True), lambda _p: Usage(20))


class FakeDownloader:
    def __init__(
        self, fail: set[str], refused: frozenset[str] = frozenset(), full: frozenset[str] = frozenset()
    ) -> None:
        self.fail = fail
        self.refused = refused  # the batch call answers these with a 403
        self.full = full  # these find the disk full
        self.cancelled = threading.Event()
        self.calls: list[tuple[str, Path, int, int]] = []
        self.specs_given: dict[str, ObjectSpecification | None] = {}
        self.prefetched: list[tuple[int, list[str]]] = []  # (downloads done by then, the ids asked)

    def prefetch(self, object_ids: list[str]) -> dict[str, ObjectSpecification | e.ScoreError]:
        self.prefetched.append((len(self.calls), list(object_ids)))
        return {
            oid: e.ForbiddenError("not yours")
            if oid in self.refused
            else ObjectSpecification(objectKey=f"data/{oid}", objectId=oid, uploadId=oid, objectSize=5)
            for oid in object_ids
        }

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
        self.calls.append((object_id, target, offset, length))
        self.specs_given[object_id] = spec
        if object_id in self.fail:
            raise e.IntegrityError(f"{object_id}: md5 mismatch")
        if object_id in self.full:
            raise e.DiskSpaceError(f"the output file system is full: writing {object_id} failed")
        return DownloadResult(object_id, target, 5, None, validate, 1, 1)

    def cancel_all(self) -> None:
        self.cancelled.set()


def test_every_object_ends_in_an_outcome(tmp_path: Path) -> None:
    options = BatchOptions(tmp_path, layout="id")
    plan = batch.plan([ObjectEntry(A), ObjectEntry(B), ObjectEntry(C)], options)
    dl = FakeDownloader({B})
    outcomes: list[Outcome] = []
    batch.download_all(plan, dl, options, 2, outcomes.append)
    by_id = {o.object_id: o for o in outcomes}
    assert set(by_id) == {A, B, C} and not dl.cancelled.is_set()
    assert by_id[A].result is not None and by_id[A].file == tmp_path / A and by_id[A].error is None
    assert isinstance(by_id[B].error, e.IntegrityError) and by_id[B].result is None


def test_what_the_caller_raises_cancels_the_batch(tmp_path: Path) -> None:
    options = BatchOptions(tmp_path, layout="id")
    plan = batch.plan([ObjectEntry(A)], options)
    dl = FakeDownloader({A})

    def stop(outcome: Outcome) -> None:
        assert outcome.error is not None
        raise outcome.error

    with pytest.raises(e.IntegrityError):
        batch.download_all(plan, dl, options, 4, stop)
    assert dl.cancelled.is_set()


def test_a_full_disk_stops_the_batch_at_once(tmp_path: Path) -> None:
    """Outside-in trial, issue 24: a disk that filled up mid-batch failed every object left, one error line
    each (172 of them); the first object that finds the disk full ends the batch, its downloads in flight
    cancelled (their resume state kept)."""
    ids = [str(uuid.UUID(int=i)) for i in range(1, 41)]
    options = BatchOptions(tmp_path, layout="id")
    plan = batch.plan([ObjectEntry(oid) for oid in ids], options)
    dl = FakeDownloader(set(), full=frozenset(ids[2:]))  # from the third object on, the disk is full
    outcomes: list[Outcome] = []
    with pytest.raises(e.DiskSpaceError, match="the output file system is full"):
        batch.download_all(plan, dl, options, 1, outcomes.append)
    assert dl.cancelled.is_set()
    full = [o for o in outcomes if o.error is not None]
    assert len(full) == 1 and full[0] is outcomes[-1] and isinstance(full[0].error, e.DiskSpaceError)
    assert {o.object_id for o in outcomes[:-1]} <= set(ids[:2])


def test_specs_are_asked_in_batches_shortly_ahead_of_the_downloads(tmp_path: Path) -> None:
    ids = [str(uuid.UUID(int=i)) for i in range(1, 2 * batch.SPECS_AHEAD + 51)]
    options = BatchOptions(tmp_path, layout="id")
    plan = batch.plan([ObjectEntry(oid) for oid in ids], options)
    dl = FakeDownloader(set(), refused=frozenset({ids[7]}))
    outcomes: list[Outcome] = []
    batch.download_all(plan, dl, options, 2, outcomes.append)
    assert [asked for _, asked in dl.prefetched] == [
        ids[: batch.SPECS_AHEAD],
        ids[batch.SPECS_AHEAD : 2 * batch.SPECS_AHEAD],
        ids[2 * batch.SPECS_AHEAD :],
    ]
    # the third call waits until the queue has drained below SPECS_AHEAD + parallel: bounded memory, fresh URLs
    assert dl.prefetched[2][0] >= batch.SPECS_AHEAD - 2
    refused = next(o for o in outcomes if o.object_id == ids[7])
    assert isinstance(refused.error, e.ForbiddenError) and ids[7] not in dl.specs_given  # never downloaded
    assert len(outcomes) == len(ids) and len(dl.calls) == len(ids) - 1
    assert all(spec is not None and spec.objectId == oid for oid, spec in dl.specs_given.items())


def test_a_range_or_a_single_object_asks_no_batch(tmp_path: Path) -> None:
    options = BatchOptions(tmp_path, layout="id", offset=0, length=3)
    dl = FakeDownloader(set())
    batch.download_all(
        batch.plan([ObjectEntry(A), ObjectEntry(B)], options, lambda _p: Usage(10**9)), dl, options, 2, print
    )
    whole = BatchOptions(tmp_path, layout="id")
    batch.download_all(batch.plan([ObjectEntry(C)], whole), dl, whole, 2, print)
    assert dl.prefetched == [] and set(dl.specs_given) == {A, B, C}
    assert set(dl.specs_given.values()) == {None}


def _many(analyses: int, per_analysis: int) -> FakeMetadata:
    entities, listings = {}, {}
    for a in range(analyses):
        files = []
        for f in range(per_analysis):
            oid = str(uuid.UUID(int=a * 10_000 + f + 1))
            entities[oid] = FileEntity(oid, f"s{a}-{f}.vcf", f"an{a}", "ST1")
            files.append(AnalysisFile(oid, f"s{a}-{f}.vcf", 100 + f))
        listings[f"an{a}"] = Analysis(None, tuple(files))
    return FakeMetadata(entities, dict(listings))


@pytest.mark.parametrize(("analyses", "per_analysis", "most_lookups"), [(2, 65, 3), (150, 1, 150)])
def test_completion_of_a_large_batch_is_in_order_and_asks_about_once_per_analysis(
    tmp_path: Path, analyses: int, per_analysis: int, most_lookups: int
) -> None:
    song = _many(analyses, per_analysis)
    ids = sorted(song.entities, key=lambda oid: (int(uuid.UUID(oid)) % 10_000, oid))  # the analyses interleaved
    options = BatchOptions(tmp_path, with_indexes=False)
    items = batch.complete([ObjectEntry(oid) for oid in ids], options, song, print)
    assert [i.object_id for i in items] == ids
    assert all(i.file_name == song.entities[i.object_id].file_name and i.size is not None for i in items)
    assert len(song.asked) <= most_lookups and song.opened == song.closed == 1
