"""GA4GH htsget 1.3 tickets for stored BAM and CRAM objects (reads) and bgzipped VCF and BCF
objects (variants).

The same policy as downloads decides (study scopes, open/controlled, publish state); the object's
index comes from its analysis; the ticket lists pre-signed URLs of byte ranges of the stored
object (each one audited) and small inline pieces. No record bytes pass through the server.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from score.domain import errors as e
from score.domain import ids
from score.domain.model import GetTarget, ObjectInfo, ObjectRecord, Principal
from score.domain.ranges import ByteRange
from score.formats import bgzf
from score.formats.bam import BamHeader, NeedMore, parse_bam_header
from score.formats.bgzf import EOF_BLOCK as _BGZF_EOF
from score.formats.binning import parse_index
from score.formats.cram import eof_length, parse_crai, parse_cram_header
from score.formats.naming import index_names
from score.formats.pieces import UNPLACED, BamLayout, CramLayout, Piece, Segment, Wanted, join, resolve
from score.formats.vcf import parse_bcf_header, parse_vcf_header
from score.services.auditing import url_issued
from score.services.context import ServiceContext
from score.services.download import readable_record

T = TypeVar("T")
FORMATS = {
    "reads": {".bam": "BAM", ".cram": "CRAM"},
    "variants": {".vcf.gz": "VCF", ".vcf.bgz": "VCF", ".bcf": "BCF"},
}
MAX_HEADER = 64 * 1024 * 1024
MAX_BLOCK = 1 << 30  # htsget's guidance: no URL over about 1 GB
CACHE_SIZE = 256


@dataclass(frozen=True)
class Request:
    """What an htsget client asked for; ``regions`` None = the whole file."""

    object_id: str
    format: str | None = None
    klass: str | None = None
    regions: tuple[Wanted, ...] | None = None
    datatype: str = "reads"


@dataclass(frozen=True)
class Ticket:
    """An htsget ticket and when its pre-signed URLs expire (None: it has none, only inline data)."""

    body: dict[str, Any]
    expires_at: datetime | None


def stored_format(record: ObjectRecord | None, object_id: str, datatype: str = "reads") -> str:
    """BAM or CRAM (reads), VCF or BCF (variants), from the registered file name.

    Raises:
        UnsupportedFormatError: the object holds none of the datatype's formats.
    """
    name = (record.file_name if record else None) or ""
    for suffix, fmt in FORMATS[datatype].items():
        if name.lower().endswith(suffix):
            return fmt
    wanted = " or ".join(sorted(set(FORMATS[datatype].values())))
    raise e.UnsupportedFormatError(
        f"object {object_id} ({name or 'no file name'}) is not {wanted}; htsget serves {datatype} from {wanted} objects"
    )


def _class(piece: Piece) -> dict[str, str]:
    return {} if piece.klass is None else {"class": piece.klass}


class HtsgetService:
    """Framework-free htsget logic."""

    def __init__(self, ctx: ServiceContext) -> None:
        """Bind to the adapters in *ctx*."""
        self._ctx = ctx
        self._layouts: OrderedDict[tuple[str, int, str], BamLayout | CramLayout] = OrderedDict()

    async def ticket(self, principal: Principal, req: Request) -> Ticket:
        """The htsget ticket for *req*, and its URLs' expiry.

        Raises:
            InvalidRequestError / UnsupportedFormatError / NotFoundError / ForbiddenError / UnauthenticatedError.
        """
        record = await readable_record(self._ctx, principal, req.object_id)
        fmt = stored_format(record, req.object_id, req.datatype)
        if req.datatype == "variants" and any(w.name == UNPLACED for w in req.regions or ()):
            raise e.InvalidRequestError("referenceName '*' (unplaced reads) is for reads only")
        if req.format is not None and req.format.upper() != fmt:
            raise e.UnsupportedFormatError(
                f"object {req.object_id} is stored as {fmt}; it cannot be served as {req.format} (no conversion)"
            )
        if req.klass not in (None, "header"):
            raise e.InvalidRequestError(f"class must be 'header' when given, not {req.klass!r}")
        key = ids.object_key(req.object_id)
        info = await self._ctx.store.head(key)
        if info is None:
            raise e.NotFoundError(f"object {req.object_id} is registered but its data is missing from the store")
        if req.klass is None and req.regions is None:
            pieces = [
                # the whole file, header and body together: no URL gets a class (htsget 1.3: "either all or
                # none of the URLs ... MUST have a class"), so no client takes the header's bytes for body
                Piece(None, start, min(start + MAX_BLOCK, info.size))
                for start in range(0, info.size, MAX_BLOCK)
            ]
        else:
            layout = await self._layout(req.object_id, record, fmt, info)
            regions = None if req.klass == "header" else list(req.regions or ())
            if isinstance(layout, BamLayout) and layout.exact:
                pieces = await self._resolve(info, layout.segments(regions))
            else:
                pieces = layout.pieces(regions)
        expires = self._ctx.clock.now() + self._ctx.download_url_ttl
        urls = self._urls(principal, req.object_id, record, info, pieces, expires)
        signed = any(not u["url"].startswith("data:") for u in urls)
        return Ticket({"htsget": {"format": fmt, "urls": urls}}, expires if signed else None)

    async def _resolve(self, info: ObjectInfo, parts: list[Piece | Segment]) -> list[Piece]:
        """Read the edge blocks of each segment and cut them at the records' edges."""
        out: list[Piece] = []
        for part in parts:
            if isinstance(part, Piece):
                out.append(part)
                continue
            first = await self._block(info, part.first)
            last = first if part.last == part.first or not part.within_last else await self._block(info, part.last)
            out += resolve(part, first, last)
        return join(out)

    async def _block(self, info: ObjectInfo, offset: int) -> bgzf.Block:
        raw = await self._ctx.store.read_range(
            GetTarget(info.key, ByteRange(offset, min(bgzf.MAX_BLOCK, info.size - offset)), info.location)
        )
        block = next(bgzf.blocks(raw, offset), None)
        if block is None:
            raise e.InvalidRequestError(
                f"no complete BGZF block at offset {offset}: the object or its index is corrupt"
            )
        return block

    def _urls(
        self,
        principal: Principal,
        object_id: str,
        record: ObjectRecord | None,
        info: ObjectInfo,
        pieces: list[Piece],
        expires: datetime,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in pieces:
            if p.data is not None:
                inline = "data:application/octet-stream;base64," + base64.b64encode(p.data).decode()
                out.append({"url": inline} | _class(p))
                continue
            for start in range(p.start, p.end, MAX_BLOCK):
                rng = ByteRange(start, min(p.end, start + MAX_BLOCK) - start)
                url = self._ctx.store.sign_get(GetTarget(info.key, rng, info.location), expires)
                url_issued(self._ctx, principal, "url:download", object_id, record, rng)
                out.append({"url": url, "headers": {"Range": rng.header()}} | _class(p))
        return out

    def _index_id(self, record: ObjectRecord | None, object_id: str) -> str:
        name = (record.file_name if record else None) or ""
        by_name = {file_name: oid for oid, file_name in (record.analysis_files if record else ())}
        for candidate in index_names(name):
            if candidate in by_name:
                return by_name[candidate]
        raise e.NotFoundError(
            f"no index for {name or object_id} in its analysis (expected one of "
            f"{', '.join(index_names(name)) or '.bai/.crai/.tbi/.csi'}); regions need an index"
        )

    async def _layout(
        self, object_id: str, record: ObjectRecord | None, fmt: str, info: ObjectInfo
    ) -> BamLayout | CramLayout:
        index_id = self._index_id(record, object_id)
        cache_key = (object_id, info.size, f"{index_id}/{info.etag or info.last_modified.isoformat()}")
        hit = self._layouts.get(cache_key)
        if hit is not None:
            self._layouts.move_to_end(cache_key)
            return hit
        index_raw = await self._ctx.store.read_range(GetTarget(ids.object_key(index_id)))
        tail_len = min(info.size, 64)
        tail = await self._ctx.store.read_range(
            GetTarget(info.key, ByteRange(info.size - tail_len, tail_len), info.location)
        )
        layout: BamLayout | CramLayout
        if fmt in ("BAM", "VCF", "BCF"):
            index = parse_index(index_raw)
            parse = {"BAM": parse_bam_header, "VCF": parse_vcf_header, "BCF": parse_bcf_header}[fmt]
            header: BamHeader = await self._read_header(info, parse)
            if fmt == "VCF":  # tabix numbers the contigs with records; the others declared have none
                names = index.names + [n for n in header.names if n not in set(index.names)]
                header = BamHeader(names, header.end, header.text, header.block)
            layout = BamLayout(header, index, info.size, has_eof=tail.endswith(_BGZF_EOF), exact=fmt != "BAM")
        else:
            major, names = await self._read_header(info, parse_cram_header)
            eof = eof_length(major, tail)
            layout = CramLayout(names, parse_crai(index_raw), info.size, tail[len(tail) - eof :])
        self._layouts[cache_key] = layout
        while len(self._layouts) > CACHE_SIZE:
            self._layouts.popitem(last=False)
        return layout

    async def _read_header(self, info: ObjectInfo, parse: Callable[[bytes], T]) -> T:
        """Parse the object's header from its first bytes, reading more until *parse* has enough."""
        length = 64 * 1024
        while True:
            length = min(length, info.size)
            head = await self._ctx.store.read_range(GetTarget(info.key, ByteRange(0, length), info.location))
            try:
                return parse(head)
            except NeedMore:
                if length >= min(info.size, MAX_HEADER):
                    raise e.InvalidRequestError("the object's header is truncated or larger than 64 MiB") from None
                length *= 4
