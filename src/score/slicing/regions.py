"""Genomic regions for ``view``: parsing as htslib does, BED files, sorting and merging (pure).

Coordinates here are 0-based and half-open (``start`` included, ``end`` excluded), as in pysam
and BED; the region text ``chr:1,000-2,000`` (1-based, inclusive) becomes ``start=999, end=2000``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from score.domain import errors as e

UNMAPPED = "*"  # htslib's name for reads without a position
_RANGE = re.compile(r"^(?P<start>[0-9][0-9,]*)?(?:-(?P<end>[0-9][0-9,]*)?)?$")
_MAX_NAME = 128  # Score's limit on output file names


@dataclass(frozen=True, slots=True)
class Region:
    """One query: a contig (or ``*``) and a 0-based half-open interval within it."""

    contig: str
    start: int
    end: int  # exclusive; the contig's length when the query gave no end


def _number(text: str, whole: str) -> int:
    if ",," in text or text.startswith(",") or text.endswith(","):
        raise e.InvalidRequestError(f"malformed region {whole!r}: bad number {text!r}")
    return int(text.replace(",", ""))


def _interval(spec: str, whole: str, length: int) -> tuple[int, int]:
    m = _RANGE.match(spec)
    if not m or (m.group("start") is None and m.group("end") is None):
        raise e.InvalidRequestError(
            f"malformed region {whole!r}: use chr, chr:start or chr:start-end (1-based, commas allowed)"
        )
    start = _number(m.group("start"), whole) if m.group("start") else 1
    end = _number(m.group("end"), whole) if m.group("end") else length
    if start < 1:
        raise e.InvalidRequestError(f"malformed region {whole!r}: positions start at 1")
    if end < start:
        raise e.InvalidRequestError(f"malformed region {whole!r}: the end is before the start")
    return start - 1, min(end, length)


def _unknown(name: str, whole: str, contigs: Mapping[str, int]) -> e.InvalidRequestError:
    known = ", ".join(list(contigs)[:8]) + (", ..." if len(contigs) > 8 else "")
    return e.InvalidRequestError(f"unknown contig {name!r} in region {whole!r}; the file has: {known}")


def parse_region(text: str, contigs: Mapping[str, int]) -> Region:
    """Parse *text* against the file's contigs (name -> length) the way htslib does.

    ``{name}`` or ``{name}:start-end`` quotes a contig whose name contains a colon; a bare text
    that is both a contig and ``contig:range`` of another contig is ambiguous and refused.

    Raises:
        InvalidRequestError: malformed text, an unknown contig or an ambiguous name.
    """
    whole = text.strip()
    if not whole:
        raise e.InvalidRequestError("empty region")
    if whole == UNMAPPED:
        return Region(UNMAPPED, 0, 0)
    if whole.startswith("{"):
        close = whole.find("}")
        if close < 0:
            raise e.InvalidRequestError(f"malformed region {whole!r}: no closing brace")
        name, rest = whole[1:close], whole[close + 1 :]
        if name not in contigs:
            raise _unknown(name, whole, contigs)
        if not rest:
            return Region(name, 0, contigs[name])
        if not rest.startswith(":"):
            raise e.InvalidRequestError(f"malformed region {whole!r}: expected ':' after the closing brace")
        return Region(name, *_interval(rest[1:], whole, contigs[name]))
    as_name = whole in contigs
    prefix, colon, spec = whole.rpartition(":")
    as_range = bool(colon) and prefix in contigs and _RANGE.match(spec) is not None and spec not in ("", "-")
    if as_name and as_range:
        raise e.InvalidRequestError(
            f"region {whole!r} is ambiguous: it is a contig and a range of contig {prefix!r}; "
            f"write {{{whole}}} for the contig or {{{prefix}}}:{spec} for the range"
        )
    if as_name:
        return Region(whole, 0, contigs[whole])
    if as_range:
        return Region(prefix, *_interval(spec, whole, contigs[prefix]))
    if colon and prefix in contigs:
        _interval(spec, whole, contigs[prefix])  # raises with the reason
    looks_ranged = bool(colon) and spec not in ("", "-") and _RANGE.match(spec) is not None
    raise _unknown(prefix if looks_ranged else whole, whole, contigs)


def read_bed(path: Path, contigs: Mapping[str, int]) -> list[Region]:
    """The regions of a BED file (0-based, half-open); header, track and comment lines are skipped.

    Raises:
        InvalidRequestError: a malformed line (with its number) or an unknown contig.
    """
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        where = f"{path.name} line {number}"
        if len(fields) < 3 or not fields[1].isdigit() or not fields[2].isdigit():
            raise e.InvalidRequestError(f"malformed BED line ({where}): expected contig, start, end")
        name, start, end = fields[0], int(fields[1]), int(fields[2])
        if name not in contigs:
            raise _unknown(name, where, contigs)
        if end < start:
            raise e.InvalidRequestError(f"malformed BED line ({where}): the end is before the start")
        out.append(Region(name, start, min(end, contigs[name])))
    if not out:
        raise e.InvalidRequestError(f"the BED file {path} lists no regions")
    return out


def merge(regions: Iterable[Region], contig_order: Mapping[str, int]) -> list[Region]:
    """Sort by the file's contig order then start, and merge overlapping or adjacent regions.

    ``*`` (unplaced reads) goes last, as in the file.
    """

    def key(r: Region) -> tuple[int, int]:
        return (len(contig_order) if r.contig == UNMAPPED else contig_order[r.contig], r.start)

    out: list[Region] = []
    for r in sorted(regions, key=key):
        last = out[-1] if out else None
        if last is not None and last.contig == r.contig and r.start <= last.end:
            out[-1] = Region(r.contig, last.start, max(last.end, r.end))
        else:
            out.append(r)
    return out


def output_name(base: str, queries: list[str], bed: Path | None, header_only: bool, extension: str) -> str:
    """Score's output file name: ``<base>.<queries>.<ext>`` (':' as '_', joined by '__'),
    ``<base>.<bed name>.<ext>`` or ``<base>.header.<ext>``; at most 128 characters (``~`` marks a cut).
    """
    if header_only:
        middle = "header"
    elif bed is not None:
        middle = bed.stem
    else:
        middle = "__".join(q.replace(":", "_").replace("{", "").replace("}", "") for q in queries) or "all"
    middle = re.sub(r"[^A-Za-z0-9_.,+-]", "_", middle)
    tail = f".{extension}"
    name = f"{base}.{middle}"
    if len(name) + len(tail) > _MAX_NAME:
        name = name[: _MAX_NAME - len(tail) - 1] + "~"
    return name + tail
