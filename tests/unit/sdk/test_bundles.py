"""The directories of ``score://`` (score.sdk.bundles): what the listing allows, named by the metadata service."""

from __future__ import annotations

from score.client.http.song_entities import FileEntity
from score.fuse.tree import Listed
from score.sdk import bundles

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
C = "00000000-0000-4000-8000-00000000000c"
D = "00000000-0000-4000-8000-00000000000d"


def _listed(*ids: str) -> dict[str, Listed]:
    return {oid: Listed(oid, 100 + i, 0) for i, oid in enumerate(ids)}


def test_readable_objects_sit_in_their_study_and_analysis_the_rest_at_the_top() -> None:
    listed = _listed(A, B, C)
    entities = [
        FileEntity(A, "a.bam", "AN1", "S1"),
        FileEntity(B, "b.bam", "AN2", "S2"),
        FileEntity(D, "d.bam", "AN1", "S1"),  # not readable: not shown, nor its study if it were alone
    ]
    assert bundles.root_entries(listed, entities) == [
        bundles.directory("S1"),
        bundles.directory("S2"),
        bundles.file(C, C, 102),  # no entity
    ]
    assert bundles.study_entries("S1", listed, entities) == [bundles.directory("S1/AN1")]
    assert bundles.analysis_entries("S1", "AN1", listed, entities) == [bundles.file("S1/AN1/a.bam", A, 100)]
    assert bundles.analysis_entries("S1", "AN9", listed, entities) == []


def test_without_metadata_everything_is_listed_by_id() -> None:
    assert bundles.root_entries(_listed(B, A), None) == [bundles.file(A, A, 101), bundles.file(B, B, 100)]


def test_unusable_names_and_taken_places_leave_the_object_at_the_top() -> None:
    listed = _listed(A, B, C, D)
    entities = [
        FileEntity(B, "same.bam", "AN1", "S1"),
        FileEntity(A, "same.bam", "AN1", "S1"),  # the smaller id takes the place
        FileEntity(C, "../up", "AN1", "S1"),
        FileEntity(D, "d.bam", None, "S1"),
    ]
    assert bundles.root_entries(listed, entities) == [
        bundles.directory("S1"),
        bundles.file(B, B, 101),
        bundles.file(C, C, 102),
        bundles.file(D, D, 103),
    ]
    assert bundles.analysis_entries("S1", "AN1", listed, entities) == [bundles.file("S1/AN1/same.bam", A, 100)]
    assert bundles.candidates(entities, "S1", "AN1", "same.bam") == [A, B]
    assert bundles.candidates(entities, "S2", "AN1", "same.bam") == []
