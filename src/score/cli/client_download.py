"""``score-client download``: choose the objects (ids, manifest, analysis), name the files (layout;
a byte range as ``<name>.<first>-<last>``), download each, report per object (text or ``--json``
lines) and a summary.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from score.cli import client_metadata
from score.cli import exit_codes as ec
from score.cli.client_session import Session
from score.client.printable import printable
from score.client.transfer.disk_space import allocated, check_free
from score.client.transfer.output_layout import LAYOUTS, ObjectEntry, plan_targets, range_bytes, range_name, ranged
from score.client.transfer.progress import Board
from score.domain import errors as e

if TYPE_CHECKING:
    from score.client.transfer.download import DownloadResult


def add_arguments(
    down: argparse.ArgumentParser, object_id: Callable[[str], str], boolean: Callable[[str], bool]
) -> None:
    """The download flags (Score's, plus ``--json``)."""
    down.add_argument("--object-id", nargs="+", type=object_id)
    down.add_argument("--manifest", type=Path, help="ICGC portal manifest (11 columns) or Song upload manifest")
    down.add_argument("--analysis-id", help="every file of this analysis (with --study-id)")
    down.add_argument("--study-id", "--program-id", dest="study_id")
    down.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL; default the server URL)")
    down.add_argument("--output-dir", required=True, type=Path)
    down.add_argument(
        "--output-layout",
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
    down.add_argument("--json", action="store_true", help="one JSON line per object, then a summary line")


def _select(args: argparse.Namespace, session: Session) -> list[ObjectEntry]:
    chosen = [x for x in (args.object_id, args.manifest, args.analysis_id) if x]
    if len(chosen) != 1:
        raise e.InvalidRequestError("give exactly one of --object-id, --manifest, --analysis-id (with --study-id)")
    if args.object_id:
        return [ObjectEntry(oid) for oid in dict.fromkeys(args.object_id)]
    if args.manifest:
        from score.client.transfer.manifest import read_download_manifest

        return [ObjectEntry(oid) for oid in read_download_manifest(args.manifest)]
    if not args.study_id:
        raise e.InvalidRequestError("--analysis-id needs --study-id")
    return client_metadata.analysis_files(session, args.analysis_id, args.study_id)


def _resolve(
    session: Session, items: list[ObjectEntry], layout: str, want_index: bool, warn: Callable[[str], None]
) -> list[ObjectEntry]:
    """Complete the selection from the metadata service: names and analyses (one lookup per object
    that lacks them), then sizes and index files from each analysis (one request per analysis).

    Objects the metadata service does not know stay as they are (named by id).
    """
    if not want_index and (layout == "id" or all(item.file_name for item in items)):
        return items
    from score.client.transfer.index_pairing import pair_indexes

    api = session.metadata()
    try:
        known = []
        for item in items:
            entity = None if item.analysis_id else api.entity(item.object_id)
            known.append(client_metadata.named(entity) if entity is not None else item)
        files: dict[str, list[ObjectEntry]] = {}
        for analysis, study in dict.fromkeys(
            (str(i.analysis_id), str(i.study)) for i in known if i.analysis_id and i.study
        ):
            try:
                files[analysis] = client_metadata.analysis_file_list(api, study, analysis)
            except (e.NotFoundError, e.ForbiddenError) as exc:
                warn(f"analysis {printable(analysis)}: {exc.message} (its sizes and index files are not looked up)")
    finally:
        api.close()
    sizes = {f.object_id: f.size for listed in files.values() for f in listed}
    known = [replace(i, size=i.size if i.size is not None else sizes.get(i.object_id)) for i in known]
    if not want_index:
        return known
    pairing = pair_indexes(known, files)
    for item in pairing.unpaired:
        warn(f"no index file for {printable(str(item.file_name))} in analysis {printable(str(item.analysis_id))}")
    return pairing.items


def _check_space(items: list[ObjectEntry], targets: dict[str, str], args: argparse.Namespace) -> None:
    """Refuse up front when the known sizes of what is still to fetch exceed the free space.

    Sizes come from the metadata service (of a range, the bytes it selects); partial downloads count
    only what they still lack. Objects of unknown size are checked by the downloader when they start.

    Raises:
        DiskSpaceError: with the amounts, before anything is downloaded.
    """
    out_dir, force = args.output_dir, args.force
    need = 0
    for item in items:
        if item.size is None:
            continue
        size, name, state = item.size, targets[item.object_id], f".{item.object_id}"
        if ranged(args.offset, args.length):
            size = range_bytes(args.offset, args.length, item.size)
            name, state = range_name(name, args.offset, size), "." + range_name(item.object_id, args.offset, size)
        if not force and (out_dir / name).exists():
            continue
        need += max(size - (0 if force else allocated(out_dir / state / "data")), 0)
    check_free(out_dir, need, "the download (nothing was downloaded)")


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
        if self._json:
            self._say(
                json.dumps(
                    {
                        "summary": {
                            "objects": objects,
                            "succeeded": self.ok,
                            "failed": self.failed,
                            "bytes": self.bytes,
                            "seconds": round(seconds, 3),
                            "exit_code": self.worst,
                        }
                    }
                )
            )
        elif objects > 1:
            self._say(f"{self.ok} of {objects} objects downloaded or already complete, {self.failed} failed")


def run(
    args: argparse.Namespace, session: Session, progress: bool, say: Callable[[str], None], err: Callable[[str], None]
) -> int:
    """Download every selected object, several at once; the exit code is the worst failure's (0 if none)."""
    from score.client.transfer.download import Downloader

    settings = session.settings
    if args.length == 0:
        raise e.InvalidRequestError("--length 0 selects no bytes: give a positive length, or -1 for the rest")
    items = _resolve(session, _select(args, session), args.output_layout, args.index, err)
    targets = plan_targets(items, args.output_layout)
    _check_space(items, targets, args)
    board = Board(len(items), progress and not args.json)
    report = _Report(args, board.above(say), board.above(err))
    api = session.server()
    data = session.data_plane()
    dl = Downloader(api, data, parallel=settings.parallel, board=board)
    started = time.monotonic()

    def one(oid: str) -> tuple[DownloadResult | e.ScoreError, float]:
        t0 = time.monotonic()
        try:
            result: DownloadResult | e.ScoreError = dl.download(
                oid,
                args.output_dir,
                offset=args.offset,
                length=args.length,
                validate=args.validate,
                force=args.force,
                target=args.output_dir / targets[oid],
            )
        except e.ScoreError as exc:
            if len(items) == 1 and not args.json:
                raise  # one object: main() prints the error with its hint
            result = exc
        return result, round(time.monotonic() - t0, 3)

    try:
        with ThreadPoolExecutor(min(settings.parallel, len(items)), "score-file") as files:
            futures = {files.submit(one, item.object_id): item.object_id for item in items}
            try:
                for future in as_completed(futures):
                    oid = futures[future]
                    result, seconds = future.result()
                    line: dict[str, Any] = {
                        "object_id": oid,
                        "file": str(args.output_dir / targets[oid]),
                        "seconds": seconds,
                    }
                    if isinstance(result, e.ScoreError):
                        report.failure(line, result)
                    else:
                        report.success(line, result)
            except BaseException:
                dl.cancel_all()
                files.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        dl.close()
        api.close()
        data.close()
        board.close()
    report.summary(len(items), time.monotonic() - started)
    return report.worst
