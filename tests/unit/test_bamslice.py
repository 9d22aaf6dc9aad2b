"""BAM slices by copying whole BGZF blocks (client/bamslice.py through viewer.view): for many regions of
BAMs with spliced, long and unmapped-but-placed reads, written by htslib and re-blocked so that records
run across blocks (as htsjdk writes them), the records equal ``samtools view`` of the same region."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from score.client import bamslice, viewer
from score.client.viewer import Query, Source
from score.formats import bgzf
from tests.kit.bam import file_records, require_test_data, samtools, samtools_records

CONTIGS = [("chr1", 3_000_000), ("chr2", 1_500_000), ("chr3", 40_000)]
GAP = (2_000_000, 2_600_000)  # no reads start here on chr1 (spliced ones reach in)


def _write_bam(path: Path, seed: int) -> Path:
    """~40k reads: most 100M, some spliced (N up to 60 kb, so they reach far past where they start), some
    unmapped but placed beside their mate (no CIGAR: htslib gives them one base), a few with no bases on
    the reference at all (insertions and clips only)."""
    import pysam

    rng = random.Random(seed)
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": n, "LN": ln} for n, ln in CONTIGS]}
    reads = []
    for tid, (_, length) in enumerate(CONTIGS):
        for i in range(length // 110):
            kind = rng.random()
            pos = rng.randrange(length - 200)
            if tid == 0 and GAP[0] <= pos < GAP[1]:
                continue
            if kind < 0.08:
                cigar = f"40M{rng.randrange(1, 60_000)}N60M"
            elif kind < 0.10:
                cigar = ""
            elif kind < 0.105:
                cigar = "20S80I"
            else:
                cigar = "100M"
            reads.append((tid, pos, i, cigar))
    reads.sort()
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for tid, pos, i, cigar in reads:
            r = pysam.AlignedSegment(out.header)
            r.query_name = f"r{tid}_{i}"
            r.reference_id, r.reference_start = tid, pos
            r.query_sequence = "".join(rng.choices("ACGT", k=100))
            if cigar:
                r.cigarstring, r.mapping_quality = cigar, 60
            else:
                r.flag = 4
            out.write(r)
    samtools("index", str(path))
    return path


def _reblock(src: Path, dst: Path, block: int) -> Path:
    """The same BAM cut into blocks of *block* inflated bytes, wherever records fall."""
    data = bgzf.inflate_all(src.read_bytes())
    dst.write_bytes(b"".join(bgzf.compress(data[i: i + block]) for i in range(0, len(data), block)) + bgzf.EOF_BLOCK)
    samtools("index", str(dst))
    return dst


@pytest.fixture(scope="module")
def bams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_test_data()
    tmp = tmp_path_factory.mktemp("bamslice")
    htslib = _write_bam(tmp / "htslib.bam", 11)
    return {"htslib": htslib, "spanning": _reblock(htslib, tmp / "spanning.bam", 23_457)}


def _regions(seed: int) -> list[str]:
    rng = random.Random(seed)
    out = ["chr1", "chr3", "chr2:1-1", "chr1:2,999,000-3,000,000", "chr3:39,999-40,000", "chr2:700,000-700,000",
           "chr1:1,500,000-2,300,000", "chr1:2,100,000-2,500,000", "chr1:2,100,000-2,800,000"]  # ends in the gap
    for _ in range(22):
        name, length = rng.choice(CONTIGS)
        span = rng.choice([1, 150, 5_000, 40_000, 300_000, 1_200_000])
        start = rng.randrange(1, max(2, length - span))
        out.append(f"{name}:{start}-{min(length, start + span)}")
    return out


def _slice(bam: Path, region: str, out: Path, index: Path | None = None) -> int | None:
    idx = index or Path(str(bam) + ".bai")
    local = bamslice.local_bytes(bam)
    read_bytes = 0

    def read(start: int, end: int) -> bytes:
        nonlocal read_bytes
        read_bytes += end - start
        return local.read(start, end)

    src = Source(str(bam), idx, bam.name, bamslice.ObjectBytes(local.size, read, local.copy))
    records = viewer.view(src, Query(queries=(region,), output_format="BAM", output=out)).records
    # the edges are a few blocks each: walking must not fetch a window's worth per window of a gap
    assert read_bytes <= 6 * bamslice.STEP or records is not None and records * 200 > read_bytes / 4, region
    return records


def _edges(bam: Path, seed: int) -> list[str]:
    """Regions that begin right where a read ends (it must be left out) or one base before (it must be in),
    and that end right before a read starts or on its first base; spliced reads first."""
    import pysam

    rng = random.Random(seed)
    with pysam.AlignmentFile(str(bam)) as f:
        reads = [r for r in f.fetch("chr1", 1_000_000, 1_400_000) if not r.is_unmapped]
    reads.sort(key=lambda r: "N" not in (r.cigarstring or ""))
    out = []
    for r in reads[:6] + rng.sample(reads, 6):
        assert r.reference_end is not None
        span = rng.choice([10, 50_000, 400_000])
        out += [f"chr1:{r.reference_end + 1}-{r.reference_end + 1 + span}",
                f"chr1:{r.reference_end}-{r.reference_end + span}",
                f"chr1:{max(1, r.reference_start - span)}-{r.reference_start}",
                f"chr1:{max(1, r.reference_start - span)}-{r.reference_start + 1}"]
    return out


@pytest.mark.parametrize("kind", ["htslib", "spanning"])
def test_records_equal_samtools_for_many_regions(bams: dict[str, Path], tmp_path: Path, kind: str) -> None:
    bam = bams[kind]
    copied = 0
    for n, region in enumerate(_regions(5) + _edges(bam, 3)):
        out = tmp_path / f"{n}.bam"
        records = _slice(bam, region, out)
        copied += records is None
        expected = samtools_records(bam, [region.replace(",", "")])
        got = file_records(out)
        assert got == expected, region
        assert records is None or records == len(expected), region
        subprocess.run(["samtools", "quickcheck", str(out)], check=True)
    assert copied >= 8  # most regions of 40 kb and more went through whole blocks


def test_a_region_whose_run_ends_at_the_end_of_the_data(bams: dict[str, Path], tmp_path: Path) -> None:
    """chr3 is the last reference: the run of its last region stops at the EOF block, not at a record."""
    bam = bams["spanning"]
    out = tmp_path / "tail.bam"
    _slice(bam, "chr3:10,000-40,000", out)
    assert file_records(out) == samtools_records(bam, ["chr3:10000-40000"])


def test_no_linear_index_or_edges_too_far_apart_go_record_by_record(bams: dict[str, Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bam = bams["htslib"]
    region = "chr1:1,000,000-2,000,000"
    expected = samtools_records(bam, ["chr1:1000000-2000000"])
    csi = tmp_path / "htslib.bam.csi"
    samtools("index", "-c", "-o", str(csi), str(bam))
    assert _slice(bam, region, tmp_path / "csi.bam", csi) == len(expected)  # counted: decoded one by one
    assert file_records(tmp_path / "csi.bam") == expected
    assert _slice(bam, region, tmp_path / "copied.bam") is None
    monkeypatch.setattr(bamslice, "EDGE_LIMIT", 10_000)
    assert _slice(bam, region, tmp_path / "limited.bam") == len(expected)
    assert file_records(tmp_path / "limited.bam") == expected


def test_a_truncated_bam_is_an_integrity_error(bams: dict[str, Path], tmp_path: Path) -> None:
    from score.domain import errors as e

    data = bams["spanning"].read_bytes()
    cut = tmp_path / "cut.bam"
    cut.write_bytes(data[: len(data) - 5000])
    with pytest.raises(e.IntegrityError):
        _slice(cut, "chr3", tmp_path / "out.bam", Path(str(bams["spanning"]) + ".bai"))
    assert not (tmp_path / "out.bam").exists() and not list(tmp_path.glob(".*.part"))
