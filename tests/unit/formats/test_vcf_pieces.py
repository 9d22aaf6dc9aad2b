"""bgzipped VCF and BCF headers, and exact segments cut at record edges (records may span blocks)."""

from __future__ import annotations

import struct

import pytest

from score.domain import errors as e
from score.formats import bgzf
from score.formats.bam import NeedMore
from score.formats.pieces import Segment, resolve
from score.formats.vcf import contig_names, parse_bcf_header, parse_vcf_header

HEADER = b"##fileformat=VCFv4.2\n##contig=<ID=chr2,length=10>\n##contig=<ID=chr1,length=20>\n#CHROM\tPOS\n"


def test_vcf_header_ends_at_the_first_record_even_across_blocks() -> None:
    body = b"chr1\t5\n" * 3
    raw = bgzf.compress(HEADER[:30]) + bgzf.compress(HEADER[30:] + body)
    header = parse_vcf_header(raw)
    first_block = len(bgzf.compress(HEADER[:30]))
    assert header.end == (first_block, len(HEADER) - 30) and header.text == HEADER
    assert header.names == ["chr2", "chr1"]
    with pytest.raises(NeedMore):
        parse_vcf_header(bgzf.compress(HEADER[:-3]))
    with pytest.raises(e.InvalidRequestError, match="not a bgzipped VCF"):
        parse_vcf_header(bgzf.compress(b"this is not a VCF file at all\n"))


def test_bcf_header_and_contig_order() -> None:
    text = HEADER + b"\x00"
    raw = bgzf.compress(b"BCF\x02\x02" + struct.pack("<I", len(text)) + text + b"records")
    header = parse_bcf_header(raw)
    assert header.end == (0, 9 + len(text)) and header.names == ["chr2", "chr1"]
    with pytest.raises(e.InvalidRequestError, match="not a BCF"):
        parse_bcf_header(bgzf.compress(b"BAM\x01" + b"\x00" * 20))
    assert contig_names(b"##contig=<ID=b,IDX=1>\n##contig=<ID=a,IDX=0>\n") == ["a", "b"]


def _block(offset: int, data: bytes) -> bgzf.Block:
    return bgzf.Block(offset, len(bgzf.compress(data)), data)


def test_a_segment_inside_one_block_is_one_repacked_piece() -> None:
    block = _block(100, b"AAAA\nBBBB\nCCCC\n")
    pieces = resolve(Segment(100, 5, 100, 10), block, block)
    assert len(pieces) == 1 and bgzf.inflate_all(pieces[0].data or b"") == b"BBBB\n"
    assert resolve(Segment(100, 5, 100, 5), block, block) == []


def test_a_segment_over_blocks_cuts_only_its_edges() -> None:
    first = _block(100, b"tail of an earlier line\nREC1\nRE")
    last = _block(900, b"C9\nREC10 continues\n")
    pieces = resolve(Segment(100, 24, 900, 3), first, last)
    assert bgzf.inflate_all(pieces[0].data or b"") == b"REC1\nRE"
    assert (pieces[1].start, pieces[1].end, pieces[1].data) == (100 + first.size, 900, None)
    assert bgzf.inflate_all(pieces[2].data or b"") == b"C9\n"
    whole = resolve(Segment(100, 0, 900, 0), first, last)  # block-aligned: one byte range
    assert [(p.start, p.end) for p in whole] == [(100, 900)]
