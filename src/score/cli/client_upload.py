"""``score-client upload``: one file, or every file of a Song manifest.

Small files of a manifest go several at once, each with one part transfer and an equal share of
the memory budget, so the whole batch stays within ``--parallel`` transfers and ``--memory``; large
files go one after another, each with every transfer and the whole budget.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from score.cli import client_manifest
from score.cli import exit_codes as ec
from score.client.transfer.manifest import UploadEntry, parse_upload_manifest
from score.client.transfer.progress import Board
from score.domain import errors as e
from score.sdk.session import Session

if TYPE_CHECKING:
    from score.client.transfer.upload import UploadResult


def _entries(args: argparse.Namespace, session: Session) -> list[UploadEntry]:
    if args.manifest is not None:
        if args.object_id or args.file:
            raise e.InvalidRequestError("give either --manifest or --object-id with --file, not both")
        entries = parse_upload_manifest(client_manifest.load(args.manifest, session))  # a file, URL or id
    elif args.object_id and args.file:
        entries = [UploadEntry(args.object_id, args.file, args.md5 or "")]
    else:
        raise e.InvalidRequestError("give --object-id and --file, or --manifest")
    for entry in entries:
        if not entry.path.is_file():
            raise e.InvalidRequestError(f"{entry.path} is not a readable file")
    return entries


def run(args: argparse.Namespace, session: Session, progress: bool, say: Callable[[str], None]) -> int:
    """Upload; the first failure stops the batch (what was uploaded stays, a re-run resumes the rest)."""
    from score.sdk.client import Client

    entries = _entries(args, session)
    s = session.settings
    share = max(s.memory_bytes // s.parallel, 1)
    small = [x for x in entries if len(entries) > 1 and x.path.stat().st_size <= share // 2]
    large = [x for x in entries if x not in small]
    client = Client.from_session(session)
    board = Board(len(large), progress)  # the large files' line; small ones are over too soon to follow
    say = board.above(say)

    def report(r: UploadResult) -> None:
        if r.already_uploaded:
            say(
                f"skipped {r.object_id}: already uploaded, with this file's size and MD5 {r.md5} "
                "(--force sends it again)"
            )
            return
        say(
            f"uploaded {r.object_id}: {r.size} bytes, md5 {r.md5}, {r.parts_sent} of {r.parts_total} parts "
            f"sent, {r.parts_skipped} already on the server"
        )

    try:
        if small:
            one = client.uploader(parallel=1, memory_bytes=share)
            with ThreadPoolExecutor(min(s.parallel, len(small)), "score-file") as files:
                futures = [files.submit(one.upload, x.object_id, x.path, x.md5 or None, args.force) for x in small]
                try:
                    pending = set(futures)
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                        for f in done:
                            report(f.result())
                finally:
                    for f in futures:
                        f.cancel()
        up = client.uploader(board=board)
        for x in large:
            report(up.upload(x.object_id, x.path, x.md5 or None, args.force))
    finally:
        board.close()  # before main() prints an error or the Ctrl-C message: on a line of its own
        client.close_connections()
    return ec.OK
