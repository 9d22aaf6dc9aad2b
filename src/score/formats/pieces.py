"""From a region to the pieces of a stored BAM, CRAM, BCF or bgzipped VCF that hold it (pure): byte
ranges of the object, plus small inline pieces (the EOF marker; a re-packed block where a header
shares its block with records). Concatenated in order, the pieces form a valid file holding every
record that overlaps the regions (and possibly a few more, as htsget allows).

BAM writers keep records inside BGZF blocks, so whole blocks are cut. bgzip and BCF writers do
not: a VCF line or a BCF record may run from one block into the next, so their edges are *exact*:
an :class:`Segment` names the first and last block and the offsets within them, and the caller
(who can read the store) re-packs the partial edge blocks.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property

from score.domain.errors import NotFoundError
from score.formats import bgzf
from score.formats.bam import BamHeader
from score.formats.binning import BinningIndex, merge_chunks
from score.formats.cram import CraiEntry

UNPLACED = "*"
MAX_POSITION = (1 << 31) - 1


@dataclass(frozen=True, slots=True)
class Piece:
    """A byte range ``[start, end)`` of the object, or inline *data*; ``klass`` is header or body, or None
    for bytes that may hold both (a whole-file ticket's: htsget then gives no URL a class).
    """

    klass: str | None
    start: int = 0
    end: int = 0
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """Records from virtual offset ``(first, within_first)`` to ``(last, within_last)``: the tail of block
    *first* from *within_first*, every whole block after it and before *last*, and the head of block
    *last* up to *within_last* (nothing of it when 0). Resolved into pieces by whoever reads the blocks.
    """

    first: int
    within_first: int
    last: int
    within_last: int


@dataclass(frozen=True, slots=True)
class Wanted:
    """One requested region: a reference name (``*`` = unplaced reads), 0-based half-open."""

    name: str
    start: int = 0
    end: int = MAX_POSITION


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _ref(names: list[str], name: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        known = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise NotFoundError(f"reference {name!r} is not in this file (it has: {known})") from None


@dataclass
class BamLayout:
    """What is known of a stored BAM: its header, index, size and the EOF block at its end."""

    header: BamHeader
    index: BinningIndex
    size: int
    has_eof: bool
    exact: bool = False  # records may span blocks (BCF, bgzipped VCF): cut at record edges

    @property
    def data_end(self) -> int:
        """Where the last block of records ends (before the EOF block)."""
        return self.size - (len(bgzf.EOF_BLOCK) if self.has_eof else 0)

    @cached_property
    def _known_blocks(self) -> list[int]:
        """Block starts the index and header reveal, sorted (once per layout: layouts are cached)."""
        return sorted(self.index.block_offsets() | {self.header.end[0]})

    @cached_property
    def _unplaced_start(self) -> int:
        return (self.index.placed_end() or (self.header.end[0] << 16)) >> 16

    def _next_block(self, offset: int) -> int:
        known = self._known_blocks
        i = bisect.bisect_right(known, offset)
        return known[i] if i < len(known) else self.data_end

    def _byte_ranges(self, wanted: list[Wanted]) -> list[tuple[int, int]]:
        ranges = []
        for w in wanted:
            if w.name == UNPLACED:
                ranges.append((self._unplaced_start, self.data_end))
                continue
            for beg, end in self.index.query(_ref(self.header.names, w.name), w.start, w.end):
                block, within = bgzf.virtual(end)
                ranges.append((beg >> 16, block if within == 0 else self._next_block(block)))
        return _merge(ranges)

    def segments(self, wanted: list[Wanted] | None) -> list[Piece | Segment]:
        """For an *exact* layout: the header, a :class:`Segment` per run of records of *wanted*, the EOF block."""
        block, within = self.header.end
        out: list[Piece | Segment] = [
            Piece("header", 0, block) if within == 0 else Piece("header", data=bgzf.compress(self.header.text))
        ]
        chunks = [c for w in wanted or [] for c in self.index.query(_ref(self.header.names, w.name), w.start, w.end)]
        for beg, end in merge_chunks(chunks):
            first, within_first = bgzf.virtual(beg)
            last, within_last = bgzf.virtual(end)
            out.append(Segment(first, within_first, last, within_last))
        out.append(Piece("body", data=bgzf.EOF_BLOCK))
        return out

    def pieces(self, wanted: list[Wanted] | None) -> list[Piece]:
        """The header, then the records of *wanted* (none: header only), then the EOF block."""
        block, within = self.header.end
        # when the header ends inside a block, it is sent re-packed, and the records of that block apart
        out = [Piece("header", 0, block)] if within == 0 else [Piece("header", data=bgzf.compress(self.header.text))]
        for first, end in self._byte_ranges(wanted or []):
            start = first
            if within and start == block:
                out.append(Piece("body", data=bgzf.compress(self.header.block[within:])))
                start = self._next_block(block)
            if end > start:
                out.append(Piece("body", start, end))
        out.append(Piece("body", data=bgzf.EOF_BLOCK))
        return join(out)


@dataclass
class CramLayout:
    """What is known of a stored CRAM: reference names, CRAI, size and its EOF container."""

    names: list[str]
    entries: list[CraiEntry]
    size: int
    eof: bytes

    @property
    def data_end(self) -> int:
        """Where the last data container ends (before the EOF container)."""
        return self.size - len(self.eof)

    @cached_property
    def _containers(self) -> list[int]:
        """Container offsets, sorted (once per layout)."""
        return sorted({e.container for e in self.entries})

    def pieces(self, wanted: list[Wanted] | None) -> list[Piece]:
        """The header containers, the data containers of *wanted*, then the EOF container."""
        containers = self._containers
        first = containers[0] if containers else self.data_end
        out = [Piece("header", 0, first)]
        ranges = []
        for w in wanted or []:
            ref = -1 if w.name == UNPLACED else _ref(self.names, w.name)
            for e in self.entries:
                if e.ref != ref:
                    continue
                if ref >= 0 and not (e.start - 1 < w.end and e.start - 1 + e.span > w.start):
                    continue
                i = bisect.bisect_right(containers, e.container)
                ranges.append((e.container, containers[i] if i < len(containers) else self.data_end))
        out += [Piece("body", start, end) for start, end in _merge(ranges)]
        if self.eof:
            out.append(Piece("body", data=self.eof))
        return join(out)


def resolve(segment: Segment, first: bgzf.Block, last: bgzf.Block) -> list[Piece]:
    """The pieces of *segment*, given its first and last blocks (read from the store; the same block
    when they coincide): inline re-packed edges where a block is cut, a byte range between.
    """
    if segment.first == segment.last:
        data = first.data[segment.within_first : segment.within_last]
        return [Piece("body", data=bgzf.compress(data))] if data else []
    out = []
    start = segment.first
    if segment.within_first:
        out.append(Piece("body", data=bgzf.compress(first.data[segment.within_first :])))
        start = first.offset + first.size
    if segment.last > start:
        out.append(Piece("body", start, segment.last))
    if segment.within_last:
        out.append(Piece("body", data=bgzf.compress(last.data[: segment.within_last])))
    return out


def join(pieces: list[Piece]) -> list[Piece]:
    """Join adjacent byte ranges of the same class into one."""
    out: list[Piece] = []
    for p in pieces:
        last = out[-1] if out else None
        if last and p.data is None and last.data is None and last.klass == p.klass and last.end == p.start:
            out[-1] = Piece(p.klass, last.start, p.end)
        else:
            out.append(p)
    return out
