"""``score-client download``: its flags, and the report of a batch: a line per object (text or
``--json`` lines) and a summary. Choosing the objects, naming their files, the free-space check and
the downloads themselves are :mod:`score.client.transfer.batch`'s.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from score.cli import client_manifest
from score.cli import exit_codes as ec
from score.cli.arg_types import path_arg
from score.client.printable import printable
from score.client.transfer import batch
from score.client.transfer.batch import (
    AnalysisSkipped,
    BatchOptions,
    ByAnalysis,
    ByIds,
    ByManifest,
    Note,
    Outcome,
    Selection,
)
from score.client.transfer.output_layout import LAYOUTS
from score.client.transfer.progress import Board
from score.domain import errors as e
from score.domain.ids import check_path_id
from score.sdk.session import Session

if TYPE_CHECKING:
    from score.client.transfer.download import DownloadResult


def add_arguments(
    down: argparse.ArgumentParser, object_id: Callable[[str], str], boolean: Callable[[str], bool]
) -> None:
    """The download flags (Score's, plus ``--json``)."""
    down.add_argument(  # repeatable, as Score's
        "--object-id", nargs="+", action="extend", type=object_id, help="one or more object ids (repeatable)"
    )
    down.add_argument(
        "--manifest",
        help="ICGC portal manifest (11 columns) or Song upload manifest: " + client_manifest.MANIFEST_HELP,
    )
    down.add_argument("--analysis-id", help="every file of this analysis (with --study-id)")
    down.add_argument("--study-id", "--program-id", dest="study_id", help="the study of --analysis-id")
    down.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL; default the server URL)")
    down.add_argument(
        "--output-dir", required=True, type=path_arg, help="where the files are written (created if need be)"
    )
    down.add_argument(
        "--output-layout",
        type=str.lower,  # Score's enum flags take any case
        choices=LAYOUTS,
        default="filename",
        help="filename (default), bundle (<analysis>/<file>) or id; unknown objects are named by id",
    )
    down.add_argument(
        "--offset",
        type=int,
        default=0,
        help="first byte of a range; a range is written to <name>.<first>-<last> (e.g. "
        "--offset 0 --length 10 gives <name>.0-9), never under the whole file's name",
    )
    down.add_argument("--length", type=int, default=-1, help="bytes from offset (-1 = to the end)")
    down.add_argument("--validate", type=boolean, default=True, metavar="true|false", help="check the MD5")
    down.add_argument(
        "--index",
        type=boolean,
        default=True,
        metavar="true|false",
        help="also download each BAM/CRAM/VCF's index (.bai, .crai, .tbi, .csi, .idx) from its analysis",
    )
    down.add_argument(
        "--force",
        action="store_true",
        help="replace a file already under the name; without it, a file there is skipped if its size "
        "and MD5 are the server's and refused (exit 7, left as it is) if not",
    )
    down.add_argument(
        "--fsync",
        action="store_true",
        help="flush every file to disk before it takes its name; by default only files of several parts "
        "are (a machine crash may then lose small files just written: download them again)",
    )
    down.add_argument("--json", action="store_true", help="one JSON line per object, then a summary line")


def _selection(args: argparse.Namespace, session: Session) -> Selection:
    chosen = [x for x in (args.object_id, args.manifest, args.analysis_id) if x]
    if len(chosen) != 1:
        raise e.InvalidRequestError("give exactly one of --object-id, --manifest, --analysis-id (with --study-id)")
    if args.object_id:
        return ByIds(tuple(args.object_id))
    if args.manifest:
        return ByManifest(client_manifest.load(args.manifest, session))  # read or fetched before anything else
    if not args.study_id:
        raise e.InvalidRequestError("--analysis-id needs --study-id")
    return ByAnalysis(check_path_id("analysis id", args.analysis_id), check_path_id("study id", args.study_id))


def _note(err: Callable[[str], None], notice: Callable[[str], None]) -> Callable[[Note], None]:
    """An analysis that cannot be read is an error (*err*); a data file without an index, a notice, once."""
    told: set[str] = set()

    def say(note: Note) -> None:
        if isinstance(note, AnalysisSkipped):
            err(f"analysis {printable(note.analysis_id)}: {note.reason} (its sizes and index files are not looked up)")
        elif note.item.object_id not in told:
            told.add(note.item.object_id)
            item = note.item
            notice(f"no index file for {printable(str(item.file_name))} in analysis {printable(str(item.analysis_id))}")

    return say


class _Report:
    """Per-object lines (text or JSON) and the batch summary; called from one thread."""

    def __init__(self, args: argparse.Namespace, say: Callable[[str], None], err: Callable[[str], None]) -> None:
        self._json = args.json
        self._say, self._err = say, err
        self.worst, self.ok, self.failed, self.bytes = ec.OK, 0, 0, 0

    def failure(self, line: dict[str, Any], exc: e.ScoreError) -> None:
        self.failed += 1
        code = ec.exit_code_for(exc)
        self.worst = code if self.worst == ec.OK else self.worst
        line.update(status="failed", error=exc.message, error_code=exc.code, exit_code=code)
        if self._json:
            self._say(json.dumps(line))
        else:
            self._err(f"{line['object_id']}: {exc.message}")

    def success(self, line: dict[str, Any], r: DownloadResult) -> None:
        self.ok += 1
        self.bytes += 0 if r.skipped else r.size
        line.update(
            file=str(r.path),
            status="skipped" if r.skipped else "ok",
            bytes=r.size,
            md5_verified=r.verified,
            retries=r.retries,
            parts_fetched=r.parts_fetched,
            parts_resumed=r.parts_resumed,
        )
        if self._json:
            self._say(json.dumps(line))
        elif r.skipped:
            self._say(f"skipped {r.object_id}: {printable(str(r.path))} is already complete (size and MD5 checked)")
        else:
            check = "md5 verified" if r.verified else "md5 not verified"
            self._say(
                f"downloaded {r.object_id} -> {printable(str(r.path))}: {r.size} bytes, {check}, "
                f"{r.parts_fetched} of {r.parts_total} parts fetched, {r.parts_resumed} resumed"
            )

    def summary(self, objects: int, seconds: float) -> None:
        """The batch's counts; objects a stop (a full disk) left untried are "not started"."""
        not_started = objects - self.ok - self.failed
        if self._json:
            self._say(
                json.dumps(
                    {
                        "summary": {
                            "objects": objects,
                            "succeeded": self.ok,
                            "failed": self.failed,
                            "not_started": not_started,
                            "bytes": self.bytes,
                            "seconds": round(seconds, 3),
                            "exit_code": self.worst,
                        }
                    }
                )
            )
        elif objects > 1:
            untried = f", {not_started} not started" if not_started else ""
            self._say(f"{self.ok} of {objects} objects downloaded or already complete, {self.failed} failed{untried}")


def run(
    args: argparse.Namespace,
    session: Session,
    progress: bool,
    say: Callable[[str], None],
    err: Callable[[str], None],
    notice: Callable[[str], None] | None = None,
) -> int:
    """Download every selected object, several at once; the exit code is the worst failure's (0 if none).

    A data file without an index file is told to *notice* (default *err*) before the downloads start.
    """
    from score.sdk.client import Client

    settings = session.settings
    if args.length == 0:
        raise e.InvalidRequestError("--length 0 selects no bytes: give a positive length, or -1 for the rest")
    options = BatchOptions(
        args.output_dir, args.output_layout, args.index, args.offset, args.length, args.validate, args.force
    )
    items = batch.complete(
        batch.select(_selection(args, session), session.metadata), options, session.metadata, _note(err, notice or err)
    )
    plan = batch.plan(items, options)
    board = Board(len(items), progress and not args.json, expected_bytes=batch.known_bytes(items, options))
    report = _Report(args, board.above(say), board.above(err))
    client = Client.from_session(session)
    dl = client.downloader(board=board, fsync=args.fsync)
    started = time.monotonic()

    def show(outcome: Outcome) -> None:
        line: dict[str, Any] = {"object_id": outcome.object_id, "file": str(outcome.file), "seconds": outcome.seconds}
        if outcome.error is not None:
            if (len(items) == 1 or isinstance(outcome.error, e.DiskSpaceError)) and not args.json:
                # one object, or a full disk, which stops the batch: main() prints the error with its hint
                raise outcome.error
            report.failure(line, outcome.error)
        elif outcome.result is not None:
            report.success(line, outcome.result)

    try:
        batch.download_all(plan, dl, options, settings.parallel, show)
    except e.DiskSpaceError:
        if args.json:  # the failed object's line is out: the summary too, then main() prints the error
            report.summary(len(items), time.monotonic() - started)
            args.json_summarized = True
        raise
    finally:
        dl.close()
        client.close_connections()
        board.close()
    report.summary(len(items), time.monotonic() - started)
    return report.worst
