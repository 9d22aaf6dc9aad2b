"""BAI, CSI and TBI: the binning indexes of BAM, BCF and bgzipped VCF (SAM spec section 5; CSI and
tabix specs). Parsing and the region query, in virtual offsets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from score.domain.errors import InvalidRequestError
from score.formats.bgzf import inflate_all

PSEUDO_BIN_BAI = 37450
Chunk = tuple[int, int]  # [begin, end) as virtual offsets


@dataclass
class RefIndex:
    """One reference's bins (bin number -> chunks), linear index and CSI bin offsets."""

    bins: dict[int, list[Chunk]] = field(default_factory=dict)
    linear: list[int] = field(default_factory=list)
    loffsets: dict[int, int] = field(default_factory=dict)


@dataclass
class BinningIndex:
    """A parsed BAI/CSI/TBI; ``names`` only when the index carries them (TBI, CSI from tabix)."""

    min_shift: int
    depth: int
    refs: list[RefIndex]
    names: list[str] = field(default_factory=list)

    @property
    def pseudo_bin(self) -> int:
        """The bin that holds per-reference statistics, not reads."""
        return ((1 << ((self.depth + 1) * 3)) - 1) // 7 + 1

    def block_offsets(self) -> set[int]:
        """Every file offset the index knows to be a block start."""
        out: set[int] = set()
        for ref in self.refs:
            for chunks in ref.bins.values():
                for beg, end in chunks:
                    out.add(beg >> 16)
                    out.add(end >> 16)
            out.update(v >> 16 for v in ref.linear)
        return out

    def placed_end(self) -> int:
        """The virtual offset after the last placed record (where unplaced reads begin)."""
        ends = [end for ref in self.refs for b, chunks in ref.bins.items() if b != self.pseudo_bin for _, end in chunks]
        return max(ends, default=0)

    def query(self, ref: int, beg: int, end: int) -> list[Chunk]:
        """The merged chunks that hold every record overlapping ``[beg, end)`` of reference *ref*."""
        if ref < 0 or ref >= len(self.refs):
            return []
        index = self.refs[ref]
        end = min(end, 1 << (self.min_shift + self.depth * 3))
        if end <= beg:
            return []
        # BAI/TBI: no record overlapping beg lies before the linear index's offset of beg's window
        min_off = index.linear[min(beg >> self.min_shift, len(index.linear) - 1)] if index.linear else 0
        chunks = [
            c for b in reg2bins(beg, end, self.min_shift, self.depth) for c in index.bins.get(b, []) if c[1] > min_off
        ]
        return merge_chunks(chunks)


def reg2bins(beg: int, end: int, min_shift: int, depth: int) -> list[int]:
    """The bins that may hold records overlapping ``[beg, end)`` (htslib's hts_reg2bins)."""
    out: list[int] = []
    end -= 1
    s = min_shift + depth * 3
    t = 0
    for level in range(depth + 1):
        out.extend(range(t + (beg >> s), t + (end >> s) + 1))
        t += 1 << (level * 3)
        s -= 3
    return out


def merge_chunks(chunks: list[Chunk]) -> list[Chunk]:
    """Sort and join overlapping or touching chunks."""
    out: list[Chunk] = []
    for beg, end in sorted(chunks):
        if out and beg <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((beg, end))
    return out


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise InvalidRequestError("the index file is truncated")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def one(self, fmt: str) -> int:
        return self.take(fmt)[0]

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise InvalidRequestError("the index file is truncated")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out


def _refs(r: _Reader, n_ref: int, csi: bool) -> list[RefIndex]:
    refs = []
    for _ in range(n_ref):
        ref = RefIndex()
        for _ in range(r.one("<i")):
            number = r.one("<I")
            if csi:
                ref.loffsets[number] = r.one("<Q")
            n = r.one("<i")
            flat = r.take(f"<{2 * n}Q")
            ref.bins.setdefault(number, []).extend(zip(flat[0::2], flat[1::2], strict=False))
        if not csi:
            n = r.one("<i")
            ref.linear = list(r.take(f"<{n}Q"))
        refs.append(ref)
    return refs


def _tabix_names(meta: bytes) -> list[str]:
    return [n.decode("utf-8", "replace") for n in meta.split(b"\0") if n]


def parse_index(raw: bytes) -> BinningIndex:
    """Parse a BAI (raw), or a CSI or TBI (BGZF-compressed).

    Raises:
        InvalidRequestError: not an index this module reads, or truncated.
    """
    data = raw if raw[:4] == b"BAI\1" else inflate_all(raw) if raw[:2] == b"\x1f\x8b" else raw
    r = _Reader(data)
    magic = r.raw(4)
    if magic == b"BAI\1":
        return BinningIndex(14, 5, _refs(r, r.one("<i"), csi=False))
    if magic == b"TBI\1":
        n_ref = r.one("<i")
        r.take("<6i")  # format, col_seq, col_beg, col_end, meta, skip
        names = _tabix_names(r.raw(r.one("<i")))
        return BinningIndex(14, 5, _refs(r, n_ref, csi=False), names)
    if magic == b"CSI\1":
        min_shift, depth, l_aux = r.take("<3i")
        aux = r.raw(l_aux)
        names = _tabix_names(aux[28:]) if l_aux >= 28 else []  # tabix's fields, then the names
        return BinningIndex(min_shift, depth, _refs(r, r.one("<i"), csi=True), names)
    raise InvalidRequestError("the index is not BAI, CSI or TBI")
