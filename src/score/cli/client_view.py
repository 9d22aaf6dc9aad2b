"""``score-client view``: slice BAM/CRAM objects (or local files) by region.

An object is read through its pre-signed URL; its index comes from the same analysis and is
downloaded (MD5-checked) into a private temporary directory first.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from score.cli import client_manifest
from score.cli import exit_codes as ec
from score.cli.arg_types import path_arg
from score.domain import errors as e
from score.sdk.session import Session
from score.slicing.lookup import local_source, remote_source, stem
from score.slicing.regions import output_name
from score.slicing.viewer import Query, Source, check_query, view


def add_arguments(view: argparse.ArgumentParser, object_id: Callable[[str], str]) -> None:
    """Score's ``view`` flags."""
    view.add_argument("--object-id", type=object_id, help="the BAM/CRAM object to slice")
    view.add_argument("--input-file", type=path_arg, help="a local BAM/CRAM/SAM instead of an object")
    view.add_argument("--input-file-index", type=path_arg, help="the index of --input-file (default: beside it)")
    view.add_argument(
        "--manifest",
        help="slice every BAM/CRAM of a download manifest (needs --output-dir): " + client_manifest.MANIFEST_HELP,
    )
    view.add_argument(
        "--query",
        nargs="+",
        action="extend",
        default=[],
        metavar="REGION",
        help="chr, chr:start or chr:start-end (1-based, commas allowed; {name}:start-end for "
        "names with colons; * = unplaced reads); repeatable",
    )
    view.add_argument("--bed-query", type=path_arg, help="a BED file of regions (replaces --query)")
    view.add_argument("--contained", action="store_true", help="only reads wholly inside a region")
    view.add_argument("--header-only", action="store_true", help="write only the header")
    view.add_argument(
        "--output-original-header",
        action="store_true",
        help="keep the source header as it is (default: add a @PG line for score-client)",
    )
    view.add_argument(
        "--output-format",
        type=str.upper,
        choices=("SAM", "BAM", "CRAM"),
        default="SAM",
        help="SAM (default), BAM or CRAM",
    )
    view.add_argument(
        "--output-type",
        type=str.upper,
        default="TRIMMED",
        choices=("TRIMMED", "MERGED", "CROSS"),
        help="TRIMMED (the default): one file per object with the reads of every region; MERGED and CROSS "
        "write nothing in Score's client (not implemented there) and are refused, except with --header-only",
    )
    view.add_argument("--reference-file", type=path_arg, help="local FASTA (with .fai) for CRAM input or output")
    view.add_argument("--output-dir", type=path_arg, help="write <name>.<regions>.<format> here (default: stdout)")
    view.add_argument("--output-index", action="store_true", help="index the BAM/CRAM written (.bai/.crai)")
    view.add_argument("--stdout", action="store_true", help="write to standard output")
    view.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL; default the server URL)")


# What Score's client does with --output-type MERGED or CROSS: it prints "Output type '...' not
# implemented" and writes nothing (exit 0), unless it writes only a header (--header-only, or an
# object without an index), which it does whatever the type. So the header is written here too, and
# anything else is refused before a byte is fetched, naming what gives the result asked for.
_UNIMPLEMENTED_TYPES = {
    "MERGED": "for one file of several objects, slice each with the default TRIMMED and merge the outputs "
    "(samtools merge)",
    "CROSS": "for one file per region, run view once per --query, with the default TRIMMED",
}


def check_output_type(output_type: str, *, header_only: bool) -> None:
    """Refuse ``--output-type MERGED|CROSS`` unless only a header is written (where Score ignores it).

    Raises:
        InvalidRequestError: MERGED or CROSS with a query: Score's client writes nothing for them.
    """
    if output_type == "TRIMMED" or header_only:
        return
    raise e.InvalidRequestError(
        f"--output-type {output_type} is not implemented in Score's client either (it prints \"Output type "
        f"'{output_type}' not implemented\" and writes nothing); --output-type TRIMMED (the default) writes one "
        f"file per object with the reads of every region; {_UNIMPLEMENTED_TYPES[output_type]}"
    )


def _query(args: argparse.Namespace, output: Path | None) -> Query:
    return Query(
        queries=tuple(args.query),
        bed=args.bed_query,
        contained=args.contained,
        header_only=args.header_only,
        original_header=args.output_original_header,
        output_format=args.output_format,
        reference=args.reference_file.resolve() if args.reference_file else None,
        output=output.resolve() if output else None,
        output_index=args.output_index,
        command_line=shlex.join(["score-client", *getattr(args, "argv", sys.argv[1:])]),
    )


def _output(args: argparse.Namespace, name: str, taken: set[Path] | None = None) -> Path | None:
    """``<name without .bam/.cram/.sam>.<regions>.<format>``; the full file name when another object
    of this run already took that name.
    """
    if args.stdout or args.output_dir is None:
        return None
    ext = args.output_format.lower()
    out_dir: Path = args.output_dir
    path = out_dir / output_name(stem(name), args.query, args.bed_query, args.header_only, ext)
    if taken is not None:
        if path in taken:
            path = out_dir / output_name(name, args.query, args.bed_query, args.header_only, ext)
        taken.add(path)
    return path


def _one(
    args: argparse.Namespace,
    session: Session,
    object_id: str | None,
    say: Callable[[str], None],
    taken: set[Path] | None = None,
) -> int:
    """Slice one object (or the local file); in a manifest run (*taken* given) other files are skipped."""
    alignments_only = taken is not None
    check_query(_query(args, _output(args, "object.bam")))  # before anything is fetched
    work = Path(tempfile.mkdtemp(prefix="score-view-index-"))
    data = session.data_plane()
    try:
        need_index = not args.header_only and bool(args.query or args.bed_query)
        if object_id is None:
            found: Source | None = local_source(args.input_file, args.input_file_index)
        else:
            found = remote_source(
                object_id,
                session.metadata,
                session.server,
                data,
                work,
                need_index=need_index,
                alignments_only=alignments_only,
            )
        if found is None:
            say(f"skipped {object_id}: not a BAM, CRAM or SAM file")
            return ec.OK
        result = view(found, _query(args, _output(args, found.name, taken)))
    finally:
        data.close()
        shutil.rmtree(work, ignore_errors=True)
    if result.output is not None:
        what = (
            "header"
            if args.header_only
            else "whole blocks copied"
            if result.records is None
            else f"{result.records} records"
        )
        say(f"{found.name}: {what} -> {result.output}" + (f" (index {result.index.name})" if result.index else ""))
    return ec.OK


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace, session: Session, say: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Slice one object, one local file or every BAM/CRAM of a manifest."""
    chosen = [x for x in (args.object_id, args.input_file, args.manifest) if x]
    if len(chosen) != 1:
        raise e.InvalidRequestError("give exactly one of --object-id, --input-file, --manifest")
    missing = [name for name in ("pysam", "isal") if not _importable(name)]
    if missing:  # the view extra is not installed (a server-only or plain install)
        raise e.ConfigError(f"view needs {' and '.join(missing)}: pip install 'score[view]'")
    check_output_type(args.output_type, header_only=args.header_only)
    to_stdout = args.stdout or args.output_dir is None
    tell = err if to_stdout else say  # never mix messages into records on stdout
    if not args.manifest:
        return _one(args, session, args.object_id, tell)
    if to_stdout:
        raise e.InvalidRequestError("--manifest needs --output-dir (one output file per object)")
    worst = ec.OK
    taken: set[Path] = set()
    for oid in client_manifest.object_ids(args.manifest, session):
        try:
            _one(args, session, oid, tell, taken)
        except e.ScoreError as exc:
            code = ec.exit_code_for(exc)
            worst = code if worst == ec.OK else worst
            err(f"{oid}: {exc.message}")
    return worst
