"""Region parsing as htslib does it, BED files, merging and Score's output names."""

from __future__ import annotations

from pathlib import Path

import pytest

from score.domain import errors as e
from score.slicing.regions import Region, merge, output_name, parse_region, read_bed

CONTIGS = {"chr1": 1000, "chr1:100": 500, "chr1:100-200": 500, "chr2": 2000, "HLA-A*01:01": 300}


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("chr2", Region("chr2", 0, 2000)),
        ("chr2:100", Region("chr2", 99, 2000)),
        ("chr2:1,000-1,500", Region("chr2", 999, 1500)),
        ("chr2:100-", Region("chr2", 99, 2000)),
        ("chr2:-300", Region("chr2", 0, 300)),
        ("chr2:1500-9999", Region("chr2", 1499, 2000)),  # clipped to the contig
        ("{chr1:100}", Region("chr1:100", 0, 500)),
        ("{chr1:100}:5-10", Region("chr1:100", 4, 10)),
        ("chr1:100-200:7-8", Region("chr1:100-200", 6, 8)),  # only one reading is a contig
        ("HLA-A*01:01", Region("HLA-A*01:01", 0, 300)),
        ("*", Region("*", 0, 0)),
    ],
)
def test_regions_parse_like_htslib(text: str, region: Region) -> None:
    assert parse_region(text, CONTIGS) == region


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chr9", "unknown contig 'chr9'"),
        ("chr9:1-5", "unknown contig 'chr9'"),
        ("chr2:500-100", "the end is before the start"),
        ("chr2:0-10", "positions start at 1"),
        ("chr2:1,,000", "bad number"),
        ("chr2:abc", "malformed region"),
        ("chr1:100", "ambiguous"),  # contig chr1:100, and chr1 from 100
        ("chr1:100-200", "ambiguous"),
        ("{chr1:100", "no closing brace"),
        ("{chr1}x", "expected ':'"),
        ("", "empty region"),
    ],
)
def test_bad_regions_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(e.InvalidRequestError, match=message.replace("*", r"\*").replace("(", r"\(")):
        parse_region(text, CONTIGS)


def test_merge_sorts_by_file_order_and_joins_overlaps_and_neighbours() -> None:
    order = {name: i for i, name in enumerate(CONTIGS)}
    regions = [
        Region("chr2", 50, 60),
        Region("chr1", 10, 20),
        Region("*", 0, 0),
        Region("chr2", 0, 50),
        Region("chr1", 15, 30),
        Region("chr1", 100, 200),
    ]
    assert merge(regions, order) == [
        Region("chr1", 10, 30),
        Region("chr1", 100, 200),
        Region("chr2", 0, 60),
        Region("*", 0, 0),
    ]


def test_bed_files_are_zero_based_and_checked(tmp_path: Path) -> None:
    bed = tmp_path / "x.bed"
    bed.write_text("# comment\ntrack name=t\nchr1\t0\t10\tgeneA\nchr2 5 5000\n")
    assert read_bed(bed, CONTIGS) == [Region("chr1", 0, 10), Region("chr2", 5, 2000)]
    bed.write_text("chr1\t10\n")
    with pytest.raises(e.InvalidRequestError, match="x.bed line 1"):
        read_bed(bed, CONTIGS)
    bed.write_text("chrZ\t1\t10\n")
    with pytest.raises(e.InvalidRequestError, match="unknown contig 'chrZ'"):
        read_bed(bed, CONTIGS)


def test_output_names_follow_score() -> None:
    assert output_name("NA12878", ["chr1:1-100", "chr2"], None, False, "bam") == "NA12878.chr1_1-100__chr2.bam"
    assert output_name("x", [], Path("genes.bed"), False, "sam") == "x.genes.sam"
    assert output_name("x", ["chr1"], None, True, "sam") == "x.header.sam"
    long = output_name("x", [f"chr1:{i}-{i + 1}" for i in range(100)], None, False, "cram")
    assert len(long) == 128 and long.endswith("~.cram")
    assert "/" not in output_name("x", ["{a/b}:1-2"], None, False, "sam")
