"""BAM slices by copying whole BGZF blocks (slicing/bam_copy.py through viewer.view): for many regions of
BAMs with spliced, long and unmapped-but-placed reads, written by htslib and re-blocked so that records
run across blocks (as htsjdk writes them), the records equal ``samtools view`` of the same region."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from score.formats import bam_plan, bgzf
from score.slicing import bam_copy, viewer
from score.slicing.viewer import Query, Source
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
    dst.write_bytes(b"".join(bgzf.compress(data[i : i + block]) for i in range(0, len(data), block)) + bgzf.EOF_BLOCK)
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
    out = [
        "chr1",
        "chr3",
        "chr2:1-1",
        "chr1:2,999,000-3,000,000",
        "chr3:39,999-40,000",
        "chr2:700,000-700,000",
        "chr1:1,500,000-2,300,000",
        "chr1:2,100,000-2,500,000",
        "chr1:2,100,000-2,800,000",
    ]  # ends in the gap
    for _ in range(22):
        name, length = rng.choice(CONTIGS)
        span = rng.choice([1, 150, 5_000, 40_000, 300_000, 1_200_000])
        start = rng.randrange(1, max(2, length - span))
        out.append(f"{name}:{start}-{min(length, start + span)}")
    return out


def _slice(bam: Path, region: str, out: Path, index: Path | None = None) -> int | None:
    idx = index or Path(str(bam) + ".bai")
    local = bam_copy.local_bytes(bam)
    read_bytes = 0

    def read(start: int, end: int) -> bytes:
        nonlocal read_bytes
        read_bytes += end - start
        return local.read(start, end)

    src = Source(str(bam), idx, bam.name, bam_copy.ObjectBytes(local.size, read, local.copy))
    records = viewer.view(src, Query(queries=(region,), output_format="BAM", output=out)).records
    # the edges are a few blocks each: walking must not fetch a window's worth per window of a gap
    assert read_bytes <= 6 * bam_plan.STEP or (records is not None and records * 200 > read_bytes / 4), region
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
        out += [
            f"chr1:{r.reference_end + 1}-{r.reference_end + 1 + span}",
            f"chr1:{r.reference_end}-{r.reference_end + span}",
            f"chr1:{max(1, r.reference_start - span)}-{r.reference_start}",
            f"chr1:{max(1, r.reference_start - span)}-{r.reference_start + 1}",
        ]
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


def test_no_linear_index_or_edges_too_far_apart_go_record_by_record(
    bams: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bam = bams["htslib"]
    region = "chr1:1,000,000-2,000,000"
    expected = samtools_records(bam, ["chr1:1000000-2000000"])
    csi = tmp_path / "htslib.bam.csi"
    samtools("index", "-c", "-o", str(csi), str(bam))
    assert _slice(bam, region, tmp_path / "csi.bam", csi) == len(expected)  # counted: decoded one by one
    assert file_records(tmp_path / "csi.bam") == expected
    assert _slice(bam, region, tmp_path / "copied.bam") is None
    monkeypatch.setattr(bam_plan, "EDGE_LIMIT", 10_000)
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


def _header_of(path: Path) -> bytes:
    return bgzf.inflate_all(path.read_bytes()).split(b"\0\0\0\0", 1)[0]  # up to the first record, roughly


@pytest.mark.parametrize("original", [True, False])
def test_the_header_is_written_as_the_record_path_writes_it(
    bams: dict[str, Path], tmp_path: Path, original: bool
) -> None:
    """Also for a header whose text lacks the @SQ lines (htslib makes them up): byte for byte the same."""
    from tests.kit.bam import HTSLIB_TEST

    odd = tmp_path / "no_hdr_sq_1.bam"
    odd.write_bytes((HTSLIB_TEST / "no_hdr_sq_1.bam").read_bytes())
    samtools("index", str(odd))
    for bam, region in ((bams["htslib"], "chr1:1,000,000-2,000,000"), (odd, "CHROMOSOME_I")):
        outs = []
        for blocks in (True, False):
            out = tmp_path / f"{bam.stem}-{blocks}.bam"
            src = Source(str(bam), Path(str(bam) + ".bai"), bam.name, bam_copy.local_bytes(bam) if blocks else None)
            viewer.view(
                src,
                Query(
                    queries=(region,),
                    output_format="BAM",
                    output=out,
                    original_header=original,
                    command_line="score-client view",
                ),
            )
            outs.append(out)
        assert samtools("view", "-H", "--no-PG", str(outs[0])) == samtools("view", "-H", "--no-PG", str(outs[1]))
        assert file_records(outs[0]) == file_records(outs[1]) == samtools_records(bam, [region.replace(",", "")])


def test_a_file_cut_inside_a_block_is_truncated_not_short(bams: dict[str, Path], tmp_path: Path) -> None:
    from score.domain import errors as e
    from score.formats.binning import parse_index

    bam = bams["htslib"]
    data = bam.read_bytes()
    last = list(bgzf.blocks(data))[-2]  # the last block with records (the last one is the EOF block)
    cut = tmp_path / "cut.bam"
    cut.write_bytes(data[: last.offset + last.size // 2])
    index = parse_index(Path(str(bam) + ".bai").read_bytes())
    local = bam_copy.local_bytes(cut)
    with pytest.raises(e.IntegrityError, match="truncated"):
        bam_plan.plan(local.read, local.size, index, 2, 0, 40_000)
    with pytest.raises(bam_plan.Fallback):  # an index of a longer file: not this file's
        bam_plan.plan(local.read, local.size // 100, index, 2, 0, 40_000)


class _FlakyPlane:
    """Serves ranges of *data*, failing half-way through the first *failures* GETs."""

    def __init__(self, data: bytes, failures: int) -> None:
        self.data, self.failures, self.requested = data, failures, 0

    def get_range(self, url: str, rng: Any, sink: Any, cancel: Any, *, hash_bytes: bool = True) -> str:
        from score.domain import errors as e

        self.requested += rng.length
        chunk = self.data[rng.start : rng.start + rng.length]
        half = len(chunk) // 2 if self.failures else len(chunk)
        for at in range(0, half, 1000):
            sink(memoryview(chunk[at : min(at + 1000, half)]), at)
        if self.failures:
            self.failures -= 1
            raise e.UpstreamUnavailableError("connection reset")
        return ""


def test_a_remote_copy_resumes_after_what_it_wrote(tmp_path: Path) -> None:
    from score.attempts import RetryPolicy

    data = bytes(range(256)) * 400
    plane = _FlakyPlane(data, failures=2)
    remote = bam_copy.remote_bytes(
        plane.get_range, "http://store/x", len(data), RetryPolicy(attempts=3, base_seconds=0.001)
    )
    with open(tmp_path / "out", "wb") as out:
        remote.copy(1000, 91_000, out)
    assert (tmp_path / "out").read_bytes() == data[1000:91_000]
    assert plane.requested == 90_000 + 45_000 + 22_500  # each retry asks only for what is missing


def test_a_full_disk_is_said_once_not_retried_as_a_network_error() -> None:
    import errno

    from score.attempts import RetryPolicy
    from score.domain import errors as e

    class Full:
        def write(self, view: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    plane = _FlakyPlane(bytes(10_000), failures=0)
    remote = bam_copy.remote_bytes(
        plane.get_range, "http://store/x", 10_000, RetryPolicy(attempts=5, base_seconds=0.001)
    )
    with pytest.raises(e.DiskSpaceError, match="no space left"):
        remote.copy(0, 10_000, Full())  # type: ignore[arg-type]
    assert plane.requested == 10_000


@pytest.mark.parametrize("how", ["deflate", "crc32", "isize"])
def test_a_copied_block_corrupted_at_rest_fails_the_slice(bams: dict[str, Path], tmp_path: Path, how: str) -> None:
    """Issue 20, defect 6: whole blocks copied without decoding are inflated and checked against their CRC32
    and ISIZE; one corrupt block fails the view as an integrity error and leaves no output file."""
    import shutil

    from score.domain import errors as e
    from tests.kit.bam import corrupt_copied_block

    bam, bad = bams["htslib"], tmp_path / "bad.bam"
    data, offset = corrupt_copied_block(bam, how, 0, 999_999, 2_000_000)
    bad.write_bytes(data)
    shutil.copy(f"{bam}.bai", f"{bad}.bai")
    out = tmp_path / "out" / "slice.bam"
    with pytest.raises(e.IntegrityError, match=f"bad.bam: the BGZF block at byte {offset} is corrupt"):
        _slice(bad, "chr1:1,000,000-2,000,000", out)
    assert not list(out.parent.iterdir())  # neither the output nor its .part


@pytest.mark.parametrize("how", ["deflate", "crc32"])
def test_a_corrupt_edge_block_is_an_integrity_error_not_laundered(
    bams: dict[str, Path], tmp_path: Path, how: str
) -> None:
    """The blocks a slice inflates and re-packs are checked too: a corrupt one must not be re-compressed
    under a fresh, correct CRC32."""
    from score.domain import errors as e
    from score.formats.binning import parse_index

    bam = bams["htslib"]
    local = bam_copy.local_bytes(bam)
    the_plan = bam_plan.plan(
        local.read, local.size, parse_index(Path(str(bam) + ".bai").read_bytes()), 0, 999_999, 2_000_000
    )
    edge = next(bgzf.blocks(local.read(the_plan.copy_end, the_plan.copy_end + bgzf.MAX_BLOCK), the_plan.copy_end))
    data = bytearray(bam.read_bytes())
    at = edge.offset + (edge.size // 2 if how == "deflate" else edge.size - 8)
    data[at] ^= 0x01
    bad = tmp_path / "bad.bam"
    bad.write_bytes(data)
    out = tmp_path / "out" / "slice.bam"
    with pytest.raises(e.IntegrityError, match=f"bad.bam: the BGZF block at byte {edge.offset} is corrupt"):
        _slice(bad, "chr1:1,000,000-2,000,000", out, Path(str(bam) + ".bai"))
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_checked_writer_passes_whole_checked_batches_in_order(
    bams: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes arriving in any chunking come out unchanged; a corrupt block stops them at a batch boundary
    before it; bytes that end inside a block are an error, not a short output."""
    import io

    from score.domain import errors as e
    from score.slicing import block_check as blockcheck
    from tests.kit.bam import corrupt_copied_block

    monkeypatch.setattr(blockcheck, "BATCH_BYTES", 100_000)
    bam = bams["htslib"]
    good = bam.read_bytes()
    out = io.BytesIO()
    with blockcheck.CheckedWriter(out, 0) as checked:
        for at in range(0, len(good), 7919):
            checked.write(memoryview(good)[at : at + 7919])
    assert out.getvalue() == good
    bad, offset = corrupt_copied_block(bam, "crc32", 0, 999_999, 2_000_000)
    out = io.BytesIO()
    with pytest.raises(e.IntegrityError, match=f"block at byte {offset} is corrupt"):
        with blockcheck.CheckedWriter(out, 0) as checked:
            checked.write(bad)
    assert out.getvalue() == good[: len(out.getvalue())] and len(out.getvalue()) <= offset
    out = io.BytesIO()
    with pytest.raises(e.IntegrityError, match="end inside the BGZF block"):
        with blockcheck.CheckedWriter(out, 0) as checked:
            checked.write(good[:-5])
