"""Regions to pieces of a BAM/CRAM, checked by concatenating the pieces of real files and reading
the result with samtools; includes a BAM whose header shares its block with records."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from score.domain import errors as e
from score.formats import bgzf
from score.formats.bam import NeedMore, parse_bam_header
from score.formats.binning import parse_index, reg2bins
from score.formats.cram import eof_length, parse_crai, parse_cram_header
from score.formats.pieces import BamLayout, CramLayout, Piece, Wanted
from tests.kit.bam import HTSLIB_TEST, file_records, require_test_data, samtools, samtools_records


def _join(data: bytes, pieces: list[Piece]) -> bytes:
    return b"".join(p.data if p.data is not None else data[p.start : p.end] for p in pieces)


def _bam_layout(path: Path, index: Path) -> BamLayout:
    data = path.read_bytes()
    return BamLayout(parse_bam_header(data), parse_index(index.read_bytes()), len(data), data.endswith(bgzf.EOF_BLOCK))


def _check(
    path: Path,
    layout: BamLayout | CramLayout,
    wanted: list[Wanted],
    regions: list[str],
    tmp: Path,
    reference: Path | None = None,
) -> None:
    out = tmp / ("out" + path.suffix)
    out.write_bytes(_join(path.read_bytes(), layout.pieces(wanted)))
    samtools("quickcheck", str(out))
    got = file_records(out, reference)
    expected = samtools_records(path, regions, reference)
    assert [r for r in got if r in set(expected)] == expected


@pytest.fixture(scope="module")
def shared_block_bam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """range.bam re-blocked so that the header ends inside a block that also holds records."""
    require_test_data()
    raw = (HTSLIB_TEST / "range.bam").read_bytes()
    path = tmp_path_factory.mktemp("bam") / "shared.bam"
    path.write_bytes(bgzf.compress(bgzf.inflate_all(raw)) + bgzf.EOF_BLOCK)
    samtools("index", str(path))
    return path


def test_bam_regions_with_the_header_in_its_own_block(tmp_path: Path) -> None:
    require_test_data()
    path = HTSLIB_TEST / "range.bam"
    layout = _bam_layout(path, HTSLIB_TEST / "range.bam.bai")
    assert layout.header.end == (503, 0) and layout.pieces(None)[0] == Piece("header", 0, 503)
    _check(path, layout, [Wanted("CHROMOSOME_I", 999, 2000)], ["CHROMOSOME_I:1000-2000"], tmp_path)
    _check(
        path,
        layout,
        [Wanted("CHROMOSOME_III"), Wanted("CHROMOSOME_I", 999, 2000)],
        ["CHROMOSOME_I:1000-2000", "CHROMOSOME_III"],
        tmp_path,
    )
    with pytest.raises(e.NotFoundError, match="'chrZ' is not in this file"):
        layout.pieces([Wanted("chrZ")])


def test_bam_whose_header_shares_a_block_with_records(shared_block_bam: Path, tmp_path: Path) -> None:
    layout = _bam_layout(shared_block_bam, Path(str(shared_block_bam) + ".bai"))
    assert layout.header.end[1] > 0  # inside a block
    pieces = layout.pieces([Wanted("CHROMOSOME_I", 0, 5000)])
    assert pieces[0].klass == "header" and pieces[0].data is not None  # re-packed, without records
    _check(shared_block_bam, layout, [Wanted("CHROMOSOME_I", 0, 5000)], ["CHROMOSOME_I:1-5000"], tmp_path)
    _check(shared_block_bam, layout, [Wanted("CHROMOSOME_IV")], ["CHROMOSOME_IV"], tmp_path)
    header_only = tmp_path / "h.bam"
    header_only.write_bytes(_join(shared_block_bam.read_bytes(), layout.pieces(None)))
    assert file_records(header_only) == []


def test_cram_regions_and_header(tmp_path: Path) -> None:
    require_test_data()
    path = HTSLIB_TEST / "range.cram"
    data = path.read_bytes()
    major, names = parse_cram_header(data)
    layout = CramLayout(
        names,
        parse_crai((HTSLIB_TEST / "range.cram.crai").read_bytes()),
        len(data),
        data[-eof_length(major, data[-64:]) :],
    )
    assert major == 3 and names[0] == "CHROMOSOME_I" and len(layout.eof) == 38
    ce = HTSLIB_TEST / "ce.fa"
    _check(path, layout, [Wanted("CHROMOSOME_II", 100, 200)], ["CHROMOSOME_II:101-200"], tmp_path, ce)
    _check(
        path, layout, [Wanted("CHROMOSOME_I"), Wanted("CHROMOSOME_IV")], ["CHROMOSOME_I", "CHROMOSOME_IV"], tmp_path, ce
    )
    with pytest.raises(NeedMore):
        parse_cram_header(data[:40])


def test_index_parsing_and_bins() -> None:
    require_test_data()
    assert reg2bins(0, 1, 14, 5) == [0, 1, 9, 73, 585, 4681]
    assert reg2bins(16384, 16385, 14, 5)[-1] == 4682
    for name, refs in (("index.vcf.gz.tbi", 3), ("index.bcf.csi", 86), ("index.bam.csi", 7)):
        assert len(parse_index((HTSLIB_TEST / name).read_bytes()).refs) == refs
    assert parse_index((HTSLIB_TEST / "index.vcf.gz.tbi").read_bytes()).names == ["1", "2", "10"]
    with pytest.raises(e.InvalidRequestError):
        parse_index(b"not an index at all")
    with pytest.raises(e.InvalidRequestError):
        parse_crai(b"\x1f\x8b garbage")


def test_bgzf_round_trip_and_refusals(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    packed = bgzf.compress(data) + bgzf.EOF_BLOCK
    assert bgzf.inflate_all(packed) == data and len(list(bgzf.blocks(packed))) == 5
    (tmp_path / "x.gz").write_bytes(packed)
    if shutil.which("bgzip"):
        import subprocess

        assert subprocess.run(["bgzip", "-dc", str(tmp_path / "x.gz")], capture_output=True).stdout == data
    with pytest.raises(e.InvalidRequestError):
        list(bgzf.blocks(b"\x00" * 40))
    with pytest.raises(e.InvalidRequestError, match="not a BAM"):
        parse_bam_header(bgzf.compress(b"NOTBAM" + b"\x00" * 100))
