"""Slice a BAM/CRAM/SAM by region with pysam (htslib): read from a URL or a path, stream the
records to SAM, BAM or CRAM.

htslib runs inside a private temporary directory (it caches remote index files in the current
directory and silently reuses a stale one of the same name), and never fetches a CRAM reference
from the internet (``REF_PATH`` is pinned to local paths).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import select
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from score import __version__
from score.domain import errors as e
from score.formats import bam_plan, bgzf
from score.formats.binning import parse_index
from score.slicing import bam_copy
from score.slicing.regions import UNMAPPED, Region, merge, parse_region, read_bed

FORMATS = {"SAM": ("w", "sam"), "BAM": ("wb", "bam"), "CRAM": ("wc", "cram")}
# keep MD and NM exactly as read (htslib would otherwise drop them and make them up on decoding)
CRAM_OPTIONS = ["store_md=1", "store_nm=1"]
# BAM/CRAM compression runs on htslib's thread pool while Python hands records over: compression,
# not the per-record loop, is what made large slices slower than samtools (measured: 5.9 s -> 3.3 s
# for 536k records on 2 cores; samtools 2.1 s with libdeflate)
OUTPUT_THREADS = 4
# ...but starting and joining that pool costs ~20 ms, more than compressing a small slice: the first
# records are read ahead, and a slice that ends within them is written on the calling thread
SMALL_SLICE = 5000


@dataclass(frozen=True)
class Source:
    """What to read: a URL or a local path, its index (a local path; None = none) and a display name."""

    location: str
    index: Path | None
    name: str
    bytes: bam_copy.ObjectBytes | None = None  # ranged access, for copying whole blocks of BAM slices


@dataclass(frozen=True)
class Query:
    """What to write."""

    queries: tuple[str, ...] = ()
    bed: Path | None = None
    contained: bool = False
    header_only: bool = False
    original_header: bool = False
    output_format: str = "SAM"
    reference: Path | None = None
    output: Path | None = None  # None = standard output
    output_index: bool = False
    command_line: str = ""


@dataclass
class ViewResult:
    """What was written."""

    records: int | None = 0  # None: whole blocks were copied, their records not counted
    output: Path | None = None
    index: Path | None = None


def check_query(query: Query) -> None:
    """Refuse impossible combinations before anything is fetched.

    Raises:
        InvalidRequestError: with what to do instead.
    """
    if query.output_format not in FORMATS:
        raise e.InvalidRequestError(f"unknown output format {query.output_format!r}: use SAM, BAM or CRAM")
    if query.output_format == "CRAM" and query.reference is None:
        raise e.InvalidRequestError("CRAM output needs the reference: give --reference-file FASTA")
    if query.output_index and (query.output is None or query.output_format == "SAM"):
        raise e.InvalidRequestError("--output-index needs --output-format BAM or CRAM written to --output-dir")
    if query.reference is not None and not query.reference.is_file():
        raise e.InvalidRequestError(f"reference file {query.reference} does not exist")
    if query.bed is not None and not query.bed.is_file():
        raise e.InvalidRequestError(f"BED file {query.bed} does not exist")


@contextlib.contextmanager
def private_htslib_dir() -> Iterator[Path]:
    """Run htslib in a fresh private directory, with CRAM references from local paths only."""
    saved_cwd = os.getcwd()
    saved_ref = os.environ.get("REF_PATH")
    work = Path(tempfile.mkdtemp(prefix="score-view-"))
    os.chmod(work, 0o700)
    user_ref = saved_ref or ""
    os.environ["REF_PATH"] = user_ref if user_ref and "://" not in user_ref and "URL=" not in user_ref else ":"
    os.chdir(work)
    try:
        yield work
    finally:
        os.chdir(saved_cwd)
        if saved_ref is None:
            os.environ.pop("REF_PATH", None)
        else:
            os.environ["REF_PATH"] = saved_ref
        shutil.rmtree(work, ignore_errors=True)


_URL_QUERY = re.compile(r"(https?://[^\s'\"?]*)\?[^\s'\"]*")


def _reading_error(exc: Exception, name: str) -> e.ScoreError:
    # htslib's errors may quote the pre-signed URL it was reading: never its query (the signature)
    text = _URL_QUERY.sub(r"\1", str(exc))
    low = text.lower()
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return bam_copy.output_error(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM):
        return e.ForbiddenError(f"{name}: the store refused the URL (it may have expired); run the command again")
    if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
        return e.NotFoundError(f"{name}: not found")
    if "truncated" in low or "eof marker" in low:
        return e.IntegrityError(f"{name} is truncated (no end-of-file marker, or a record is cut short)")
    if "reference" in low:
        return e.InvalidRequestError(f"{name}: its CRAM reference could not be used ({text}); check --reference-file")
    if isinstance(exc, ValueError) or "format" in low or "alignment data" in low or _errno(exc) == errno.ENOEXEC:
        return e.InvalidRequestError(f"{name} is not a readable BAM, CRAM or SAM file ({text})")
    return e.IntegrityError(
        f"{name} could not be sliced: {text} (for CRAM, --reference-file must hold "
        "every contig of the file, at full length)"
    )


def _errno(exc: Exception) -> int | None:
    return exc.errno if isinstance(exc, OSError) else None


def _tag(line: str, tag: str) -> str | None:
    """The value of *tag* in a SAM header line."""
    return next((f[len(tag) + 1 :] for f in line.split("\t") if f.startswith(tag + ":")), None)


def _header(source: Any, query: Query) -> Any:
    """The source header as it is, or with a ``@PG`` line of score-client appended (order kept)."""
    import pysam

    if query.original_header:
        return source.header
    # htslib adds @SQ lines for references the text lacks, after a blank line it then refuses to read
    text = "".join(line + "\n" for line in str(source.header).splitlines() if line.strip())
    ids = [_tag(line, "ID") for line in text.splitlines() if line.startswith("@PG\t")]
    pg_id, n = "score-client", 1
    while pg_id in ids:
        pg_id, n = f"score-client.{n}", n + 1
    fields = [f"ID:{pg_id}", "PN:score-client", f"VN:{__version__}"]
    if ids and ids[-1]:
        fields.append(f"PP:{ids[-1]}")
    if query.command_line:
        fields.append("CL:" + query.command_line.replace("\t", " ").replace("\n", " "))
    line = "\t".join(["@PG", *fields])
    return pysam.AlignmentHeader.from_text(text.rstrip("\n") + "\n" + line + "\n")


def _regions(source: Any, query: Query) -> list[Region]:
    contigs = dict(zip(source.references, source.lengths, strict=False))
    order = {name: i for i, name in enumerate(source.references)}
    found = [parse_region(q, contigs) for q in query.queries]
    if query.bed is not None:
        found = read_bed(query.bed, contigs)  # Score: a BED file overrides --query
    return merge(found, order)


def _records(source: Any, regions: list[Region], contained: bool) -> Iterator[Any]:
    """Each record once, in file order, though it may overlap several regions."""
    previous: Region | None = None
    for region in regions:
        if region.contig == UNMAPPED:
            iterator = source.fetch(region=UNMAPPED)
        else:
            length = source.get_reference_length(region.contig)
            if region.start >= length:
                continue  # past the contig's end: no records (htslib would call it "invalid coordinates")
            iterator = source.fetch(region.contig, region.start, min(region.end, length))
        for record in iterator:
            if region.contig != UNMAPPED:
                start = record.reference_start
                if previous is not None and previous.contig == region.contig and start < previous.end:
                    continue
                if contained:
                    end = record.reference_end if record.reference_end is not None else start + 1
                    if start < region.start or end > region.end:
                        continue
            yield record
        previous = region


def _block_plan(src: Source, source: Any, query: Query, regions: list[Region]) -> bam_plan.Plan | None:
    """A plan to copy whole blocks, for one region of a BAM written as BAM; None to go record by record."""
    if (
        src.bytes is None
        or src.index is None
        or query.output_format != "BAM"
        or query.contained
        or not source.is_bam
        or len(regions) != 1
        or regions[0].contig == UNMAPPED
    ):
        return None
    region = regions[0]
    try:
        index = parse_index(src.index.read_bytes())
        return bam_plan.plan(
            src.bytes.read, src.bytes.size, index, source.get_tid(region.contig), region.start, region.end
        )
    except (bam_plan.Fallback, e.InvalidRequestError):
        return None
    except e.IntegrityError as exc:
        raise e.IntegrityError(f"{src.name}: {exc.message}") from None


def _write_blocks(src: Source, header: Any, the_plan: bam_plan.Plan, part: Path | None) -> None:
    assert src.bytes is not None
    with open(part, "wb") if part else contextlib.nullcontext(sys.stdout.buffer) as out:
        try:
            bam_copy.write(out, _header_blocks(header), the_plan, src.bytes.copy)
        except e.IntegrityError as exc:
            raise e.IntegrityError(f"{src.name}: {exc.message}") from None


def reader_gone(fd: int = 1) -> bool:
    """Whether *fd* (standard output) is a pipe or socket whose reader has gone away (``view ... | head``).

    htslib says only that a write failed; this tells a closed pipe from a failure.
    """
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _header_blocks(header: Any) -> bytes:
    """*header* as htslib writes it (BGZF blocks, no EOF block): the same bytes as the record path's."""
    import pysam

    path = Path(tempfile.mkdtemp(prefix="header-", dir=".")) / "header.bam"  # in the private htslib directory
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass
    data = path.read_bytes()
    shutil.rmtree(path.parent, ignore_errors=True)
    if not data.endswith(bgzf.EOF_BLOCK):
        raise e.InternalError("htslib wrote a BAM header without its EOF block")
    return data[: -len(bgzf.EOF_BLOCK)]


def _write_records(source: Any, query: Query, target: str, whole_file: bool, regions: list[Region]) -> int:
    """Decode and write record by record; the number written."""
    import pysam

    mode, _ = FORMATS[query.output_format]
    records = iter(source.fetch(until_eof=True) if whole_file else _records(source, regions, query.contained))
    first = list(itertools.islice(records, SMALL_SLICE))
    small = len(first) < SMALL_SLICE or query.output_format == "SAM"
    written = 0
    with pysam.AlignmentFile(
        target,
        mode,
        header=_header(source, query),
        reference_filename=str(query.reference) if query.reference else None,
        format_options=CRAM_OPTIONS if query.output_format == "CRAM" else None,
        threads=1 if small else OUTPUT_THREADS,
    ) as out:
        for record in itertools.chain(first, records):
            out.write(record)
            written += 1
    return written


def view(src: Source, query: Query) -> ViewResult:
    """Write the query's records (or only the header) from *src*.

    The output appears under its final name only when complete; ``--output-index`` indexes it.

    Raises:
        InvalidRequestError: bad regions, a missing index or reference, input that is not BAM/CRAM/SAM.
        IntegrityError: truncated input, or a BGZF block that does not match its CRC32 and ISIZE.
        ForbiddenError: the store refused the URL.
        BrokenPipeError: the output is standard output and its reader went away (not a failure).
    """
    import pysam

    check_query(query)
    result = ViewResult(output=query.output)
    part = query.output.with_name(f".{query.output.name}.part") if query.output else None
    with private_htslib_dir():
        pysam.set_verbosity(0)
        try:
            source = pysam.AlignmentFile(
                src.location,
                "r",
                index_filename=str(src.index) if src.index else None,
                reference_filename=str(query.reference) if query.reference else None,
                require_index=False,
                check_sq=False,
            )
        except (OSError, ValueError) as exc:
            raise _reading_error(exc, src.name) from None
        try:
            if source.is_cram and query.reference is None and not query.header_only:
                raise e.InvalidRequestError(
                    f"{src.name} is CRAM: give its reference with --reference-file FASTA "
                    "(a local file; references are never fetched from the internet)"
                )
            regions = [] if query.header_only else _regions(source, query)
            whole_file = not query.header_only and not regions
            if regions and not source.has_index():
                raise e.InvalidRequestError(
                    f"{src.name} has no index (.bai/.crai), so regions cannot be read; index it (samtools index)",
                    reason=e.NO_INDEX,
                )
            block_plan = _block_plan(src, source, query, regions)
            if part is not None:  # only now that the query is known to be good
                part.parent.mkdir(parents=True, exist_ok=True)
            try:
                if block_plan is not None:
                    _write_blocks(src, _header(source, query), block_plan, part)
                    result.records = block_plan.records
                else:
                    result.records = _write_records(source, query, str(part) if part else "-", whole_file, regions)
            except BrokenPipeError:
                raise
            except (OSError, ValueError) as exc:
                if part is None and reader_gone():  # htslib's write to standard output failed: a closed pipe
                    raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)) from None
                raise _reading_error(exc, src.name) from None
        except BaseException:
            if part is not None:
                part.unlink(missing_ok=True)
            raise
        finally:
            source.close()
    if part is not None and query.output is not None:
        if query.output_index:
            pysam.index(str(part))
            suffix = ".crai" if query.output_format == "CRAM" else ".bai"
            index = part.with_name(part.name + suffix)
            result.index = query.output.with_name(query.output.name + suffix)
            index.replace(result.index)
        part.replace(query.output)
    return result
