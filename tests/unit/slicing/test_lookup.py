"""What a slice reads: an object's name and its index from the same analysis (fake metadata service),
the source behind its URL, and a local file with the index beside it. No sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from score.client.http.song_entities import Analysis, AnalysisFile, FileEntity
from score.client.transfer.output_layout import ObjectEntry
from score.domain import errors as e
from score.slicing import lookup
from score.slicing.viewer import Source

A, B, C = (f"{c * 8}-0000-0000-0000-000000000000" for c in "abc")


class FakeSong:
    def __init__(self) -> None:
        self.closed = 0

    def __call__(self) -> FakeSong:
        return self

    def entity(self, object_id: str) -> FileEntity | None:
        return {
            A: FileEntity(A, "r.bam", "an1", "ST1"),
            C: FileEntity(C, "notes.txt", "an1", "ST1"),
        }.get(object_id)

    def analysis(self, study: str, analysis_id: str) -> Analysis:
        return Analysis(None, (AnalysisFile(A, "r.bam", 9), AnalysisFile(B, "r.bai", 3)))

    def analysis_entities(self, analysis_id: str, study: str) -> list[FileEntity]:
        raise AssertionError("not needed")

    def close(self) -> None:
        self.closed += 1


class FakeServer:
    def __init__(self) -> None:
        self.closed = 0

    def __call__(self) -> FakeServer:
        return self

    def whole_object(self, object_id: str) -> tuple[str, None, int]:
        return f"https://store.test/{object_id}?sig=x", None, 9

    def close(self) -> None:
        self.closed += 1


class FakeData:
    def get_range(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("nothing is read while locating")


def test_names_and_extensions() -> None:
    assert lookup.stem("x.BAM") == "x" and lookup.stem("x.cram") == "x" and lookup.stem("x.vcf") == "x.vcf"
    assert lookup.is_alignment("a.Sam") and not lookup.is_alignment("a.bai")


def test_an_object_is_located_with_its_index() -> None:
    found = lookup.locate(FakeSong(), A)
    assert found.item == ObjectEntry(A, "r.bam", "an1", study="ST1")
    assert found.index == ObjectEntry(B, "r.bai", "an1", 3, "ST1")
    assert lookup.locate(FakeSong(), B) == lookup.Located(ObjectEntry(B))  # unknown to the metadata service


def _remote(object_id: str, *, need_index: bool, alignments_only: bool = False) -> Source | None:
    song, server = FakeSong(), FakeServer()
    try:
        return lookup.remote_source(
            object_id,
            song,
            server,  # type: ignore[arg-type]
            FakeData(),  # type: ignore[arg-type]
            Path("/nonexistent"),
            need_index=need_index,
            alignments_only=alignments_only,
        )
    finally:
        assert song.closed == 1 and server.closed in (0, 1)


def test_a_remote_source_reads_behind_the_url_and_skips_other_files_in_a_manifest_run() -> None:
    source = _remote(A, need_index=False)
    assert source is not None and source.location.startswith("https://store.test/") and source.name == "r.bam"
    assert source.index is None and source.bytes is not None
    assert _remote(C, need_index=False, alignments_only=True) is None


def test_regions_of_an_object_without_an_index_are_refused_with_the_way_out() -> None:
    with pytest.raises(e.InvalidRequestError, match=r"^notes.txt is not a BAM, CRAM or SAM file \(by its name\)"):
        _remote(C, need_index=True)  # trial: "no index ... upload its index" for a text file
    with pytest.raises(e.NotFoundError, match="in the metadata service") as missing:
        _remote(B, need_index=True)
    assert missing.value.reason == e.NO_INDEX  # the CLI adds "or use --header-only"; the Python API has no such flag


def test_a_local_file_finds_its_index_beside_it(tmp_path: Path) -> None:
    bam = tmp_path / "x.bam"
    bam.write_bytes(b"BAM\x01")
    assert lookup.local_source(bam, None).index is None
    (tmp_path / "x.bai").write_bytes(b"")
    assert lookup.local_source(bam, None).index == (tmp_path / "x.bai").resolve()
    (tmp_path / "x.bam.bai").write_bytes(b"")
    source = lookup.local_source(bam, None)
    assert source.index == (tmp_path / "x.bam.bai").resolve() and source.name == "x.bam"
    with pytest.raises(e.InvalidRequestError, match="index file .* does not exist"):
        lookup.local_source(bam, tmp_path / "nope.bai")
    with pytest.raises(e.InvalidRequestError, match="input file .* does not exist"):
        lookup.local_source(tmp_path / "nope.bam", None)
