"""Output layouts and download manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from score.client.transfer.manifest import read_download_manifest
from score.client.transfer.output_layout import (
    ObjectEntry,
    plan_targets,
    range_bytes,
    range_name,
    ranged,
    relative_target,
)
from score.domain.errors import InvalidRequestError

A = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"
B = "6c6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a02"


def test_layouts() -> None:
    item = ObjectEntry(A, "x.bam", "AN1")
    assert relative_target(item, "filename") == "x.bam"
    assert relative_target(item, "bundle") == "AN1/x.bam"
    assert relative_target(item, "id") == A
    assert relative_target(ObjectEntry(A), "bundle") == A  # unknown to the metadata service: by id
    for bad in ("../x", "a/b", "..", ""):
        with pytest.raises(InvalidRequestError):
            relative_target(ObjectEntry(A, bad, "AN1"), "filename")


def test_duplicates_are_refused_not_overwritten() -> None:
    items = [ObjectEntry(A, "x.bam", "AN1"), ObjectEntry(B, "x.bam", "AN2")]
    with pytest.raises(InvalidRequestError, match="x.bam"):
        plan_targets(items, "filename")
    assert plan_targets(items, "bundle") == {A: "AN1/x.bam", B: "AN2/x.bam"}


def test_download_manifests(tmp_path: Path) -> None:
    icgc = tmp_path / "icgc.tsv"
    header = "\t".join(["c"] * 11)
    icgc.write_text(f"{header}\nr\tf\t{A}\tBAM\tx\t1\tm\t\td\tp\ts\nr\tf\t{A}\tBAM\tx\t1\tm\t\td\tp\ts\n")
    assert read_download_manifest(icgc) == [A]  # de-duplicated
    song = tmp_path / "song.txt"
    song.write_text(f"AN1\t\t\n{B}\t/x\t{'a' * 32}\n")
    assert read_download_manifest(song) == [B]
    bad = tmp_path / "bad.tsv"
    bad.write_text(f"{header}\nr\tf\tnot-an-id\tBAM\tx\t1\tm\t\td\tp\ts\n")
    with pytest.raises(InvalidRequestError, match=":2:"):
        read_download_manifest(bad)


def test_a_range_is_named_by_its_bytes() -> None:
    """Issue 20, defect 5: a range must never get the name of the whole file."""
    assert range_name("x.bam", 0, 10) == "x.bam.0-9"  # inclusive, as an HTTP Range header
    assert range_name(A, 1000, 1) == f"{A}.1000-1000"
    assert not ranged(0, -1) and ranged(0, 10) and ranged(5, -1) and ranged(0, 100)
    assert range_bytes(0, -1, 100) == 100 and range_bytes(90, -1, 100) == 10 and range_bytes(90, 50, 100) == 10
    assert range_bytes(10, 20, 100) == 20 and range_bytes(200, -1, 100) == 0
