"""Index pairing: htslib's two spellings, per format, within the analysis, never twice."""

from __future__ import annotations

import pytest

from score.client.transfer.index_pairing import index_names, pair_indexes
from score.client.transfer.output_layout import ObjectEntry


@pytest.mark.parametrize(
    ("name", "first", "also"),
    [
        ("a.bam", "a.bam.bai", "a.bai"),
        ("a.BAM", "a.BAM.bai", "a.bai"),
        ("a.cram", "a.cram.crai", "a.crai"),
        ("a.vcf.gz", "a.vcf.gz.tbi", "a.vcf.gz.csi"),
        ("a.bcf", "a.bcf.csi", "a.csi"),
        ("a.vcf", "a.vcf.idx", "a.idx"),
    ],
)
def test_index_names(name: str, first: str, also: str) -> None:
    names = index_names(name)
    assert names[0] == first and also in names


def test_not_indexable() -> None:
    assert index_names("reads.fastq.gz") == [] and index_names("") == []


def f(oid: str, name: str, analysis: str = "A1") -> ObjectEntry:
    return ObjectEntry(oid, name, analysis)


def test_pairs_within_the_analysis_prefers_the_long_name_and_never_adds_twice() -> None:
    files = {
        "A1": [
            f("1", "x.bam"),
            f("2", "x.bai"),
            f("3", "x.bam.bai"),
            f("4", "y.cram"),
            f("5", "y.crai"),
            f("6", "z.vcf.gz"),
            f("7", "notes.txt"),
        ],
        "A2": [f("8", "z.vcf.gz.tbi", "A2")],
    }
    selected = [
        f("1", "x.bam"),
        f("4", "y.cram"),
        f("5", "y.crai"),
        f("6", "z.vcf.gz"),
        f("7", "notes.txt"),
        ObjectEntry("9"),
    ]
    p = pair_indexes(selected, files)
    assert [i.object_id for i in p.items] == ["1", "3", "4", "5", "6", "7", "9"]
    assert p.added == 1
    assert [u.object_id for u in p.unpaired] == ["6"]  # its .tbi is in another analysis: not taken
