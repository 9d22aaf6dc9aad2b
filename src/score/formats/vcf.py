"""The headers of bgzipped VCF and of BCF: where the first record begins, and BCF's contig names
(VCF 4.3 spec section 1; BCF2 section 6). A bgzipped VCF's contig names come from its tabix index.
"""

from __future__ import annotations

import re
import struct

from score.domain.errors import InvalidRequestError
from score.formats.bam import BamHeader, parse_bgzf_header

_CONTIG = re.compile(rb"^##contig=<(.*)>\s*$", re.MULTILINE)
_FIELD = re.compile(rb"(?:^|,)(ID|IDX)=([^,>]+)")


def parse_vcf_header(buf: bytes) -> BamHeader:
    """The header of a bgzipped VCF: its ``#`` lines, and the contigs they declare (the records are
    found through the tabix index's own list of names).

    Raises:
        NeedMore: *buf* ends inside the header.
        InvalidRequestError: not a bgzipped VCF.
    """
    return parse_bgzf_header(buf, _scan_vcf)


def _scan_vcf(data: bytearray) -> tuple[int, list[str]] | None:
    if len(data) >= 16 and not data.startswith(b"##fileformat=VCF"):
        raise InvalidRequestError("the object is not a bgzipped VCF file (no ##fileformat=VCF line)")
    pos = 0
    while pos < len(data) and data[pos] == ord("#"):
        nl = data.find(b"\n", pos)
        if nl < 0:
            return None
        pos = nl + 1
    return (pos, contig_names(bytes(data[:pos]))) if pos < len(data) else None


def parse_bcf_header(buf: bytes) -> BamHeader:
    """The header of a BCF and its contig names in dictionary order.

    Raises:
        NeedMore: *buf* ends inside the header.
        InvalidRequestError: not a BCF 2.
    """
    return parse_bgzf_header(buf, _scan_bcf)


def _scan_bcf(data: bytearray) -> tuple[int, list[str]] | None:
    if len(data) >= 4 and data[:4] != b"BCF\x02":
        raise InvalidRequestError("the object is not a BCF 2 file (no BCF magic)")
    if len(data) < 9:
        return None
    end = 9 + struct.unpack_from("<I", data, 5)[0]
    if len(data) < end:
        return None
    return end, contig_names(bytes(data[9:end]))


def contig_names(text: bytes) -> list[str]:
    """Contig names by their BCF index: ``IDX=`` where given, else the order of the ``##contig`` lines."""
    placed: dict[int, str] = {}
    for n, line in enumerate(_CONTIG.findall(text)):
        fields = dict(_FIELD.findall(line))
        if b"ID" not in fields:
            continue
        idx = int(fields[b"IDX"]) if fields.get(b"IDX", b"").isdigit() else n
        placed[idx] = fields[b"ID"].decode("utf-8", "replace")
    return [placed[i] for i in sorted(placed)]
