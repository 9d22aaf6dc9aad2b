"""Real BAM/CRAM test data: Debian's samtools-test and htslib-test files, a synthetic large BAM,
and ``samtools view`` as the reference answer."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

HTSLIB_TEST = Path("/usr/share/htslib-test/test")
SAMTOOLS_TEST = Path("/usr/share/samtools/test")
SAMTOOLS_ENV = {**os.environ, "REF_PATH": ":"}  # never ask EBI for a reference


def require_test_data() -> None:
    """Fail (not skip) when the Debian test packages are missing: scripts/setup installs them."""
    missing = [p for p in (HTSLIB_TEST / "range.bam", SAMTOOLS_TEST / "mpileup") if not p.exists()]
    if missing or shutil.which("samtools") is None:
        raise RuntimeError("samtools, samtools-test and htslib-test are needed: run scripts/setup")


def samtools(*args: str, cwd: Path | None = None) -> str:
    """Run samtools (in *cwd*) and return its standard output."""
    return subprocess.run(
        ["samtools", *args], check=True, capture_output=True, text=True, env=SAMTOOLS_ENV, timeout=120, cwd=cwd
    ).stdout


def samtools_records(path: Path, regions: list[str], reference: Path | None = None) -> list[str]:
    """``samtools view -M`` (each record once, in file order) of a local file: the expected slice."""
    ref = ["-T", str(reference)] if reference else []
    multi = ["-M"] if len(regions) > 1 else []
    return samtools("view", *multi, *ref, str(path), *regions).splitlines()


def file_records(path: Path, reference: Path | None = None, decode_md: bool = True) -> list[str]:
    """Every record of a SAM/BAM/CRAM as SAM lines (no header).

    htslib adds MD and NM tags when it decodes CRAM; *decode_md* False leaves them out, to compare
    a CRAM written from a BAM with the BAM.
    """
    ref = ["-T", str(reference)] if reference else []
    opt = [] if decode_md else ["--input-fmt-option", "decode_md=0"]
    return samtools("view", *ref, *opt, str(path)).splitlines()


def large_bam(path: Path, target_bytes: int, seed: int = 7) -> Path:
    """A coordinate-sorted, indexed BAM of random 150-bp reads over two contigs, about *target_bytes*."""
    import pysam

    rng = random.Random(seed)
    contigs = [("chr1", 50_000_000), ("chr2", 20_000_000)]
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": name, "LN": length} for name, length in contigs],
        "RG": [{"ID": "rg1", "SM": "sample1"}],
    }
    per_read = 170  # compressed bytes per read, measured
    reads = max(1000, target_bytes // per_read)
    # a pool larger than deflate's 32 KiB window, so reuse barely helps compression
    seqs = ["".join(rng.choices("ACGT", k=150)) for _ in range(2048)]
    quals = [
        pysam.qualitystring_to_array("".join(chr(33 + rng.randrange(2, 41)) for _ in range(150))) for _ in range(2048)
    ]
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for tid, (_name, length) in enumerate(contigs):
            count = reads * length // sum(c[1] for c in contigs)
            step = length // count
            for i in range(count):
                r = pysam.AlignedSegment(out.header)
                r.query_name = f"r{tid}_{i}"
                r.reference_id = tid
                r.reference_start = i * step + rng.randrange(step)
                r.mapping_quality = 60
                r.cigarstring = "150M"
                r.query_sequence = seqs[i % 2048]
                r.query_qualities = quals[(i * 7 + tid) % 2048]
                r.set_tag("RG", "rg1")
                out.write(r)
    pysam.index(str(path))
    return path


def corrupt_copied_block(bam: Path, how: str, tid: int, beg: int, end: int) -> tuple[bytes, int]:
    """The bytes of *bam* with the middle one of the blocks a slice of ``[beg, end)`` of *tid* copies whole
    damaged: bytes flipped in its deflate data (``deflate``), its CRC32 changed (``crc32``), or its ISIZE
    changed (``isize``). Returns them and the block's offset."""
    import struct

    from score.formats import bam_plan, bgzf
    from score.formats.binning import parse_index
    from score.slicing import bam_copy

    local = bam_copy.local_bytes(bam)
    plan = bam_plan.plan(local.read, local.size, parse_index(Path(f"{bam}.bai").read_bytes()), tid, beg, end)
    data = bytearray(bam.read_bytes())
    copied = list(bgzf.blocks(bytes(data[plan.copy_start : plan.copy_end]), plan.copy_start))
    assert len(copied) > 4, "the region copies too few blocks"
    block = copied[len(copied) // 2]
    if how == "deflate":
        middle = block.offset + block.size // 2
        data[middle : middle + 3] = bytes(b ^ 0x5A for b in data[middle : middle + 3])
    elif how == "crc32":
        data[block.offset + block.size - 8] ^= 0x01
    elif how == "isize":
        struct.pack_into("<I", data, block.offset + block.size - 4, len(block.data) - 1)
    else:
        raise ValueError(how)
    return bytes(data), block.offset
