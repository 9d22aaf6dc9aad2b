"""``score-client download``: choose the objects (ids, manifest, analysis), name the files (layout),
download each, report per object (text or ``--json`` lines) and a summary."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from score.cli import client_metadata
from score.cli import exit_codes as ec
from score.cli.client_config import ClientSettings
from score.client.layout import LAYOUTS, Named, plan_targets
from score.domain import errors as e


def add_arguments(down: argparse.ArgumentParser, object_id: Callable[[str], str], boolean: Callable[[str], bool]) -> None:
    """The download flags (Score's, plus ``--json``)."""
    down.add_argument("--object-id", nargs="+", type=object_id)
    down.add_argument("--manifest", type=Path,
                      help="ICGC portal manifest (11 columns) or Song upload manifest")
    down.add_argument("--analysis-id", help="every file of this analysis (with --study-id)")
    down.add_argument("--study-id", "--program-id", dest="study_id")
    down.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL; default the server URL)")
    down.add_argument("--output-dir", required=True, type=Path)
    down.add_argument("--output-layout", choices=LAYOUTS, default="filename",
                      help="filename (default), bundle (<analysis>/<file>) or id; unknown objects are named by id")
    down.add_argument("--offset", type=int, default=0)
    down.add_argument("--length", type=int, default=-1, help="bytes from offset (-1 = to the end)")
    down.add_argument("--validate", type=boolean, default=True, metavar="true|false", help="check the MD5")
    down.add_argument("--force", action="store_true", help="download again even if the file exists")
    down.add_argument("--json", action="store_true", help="one JSON line per object, then a summary line")


def _select(args: argparse.Namespace, settings: ClientSettings) -> list[Named]:
    chosen = [x for x in (args.object_id, args.manifest, args.analysis_id) if x]
    if len(chosen) != 1:
        raise e.InvalidRequestError("give exactly one of --object-id, --manifest, --analysis-id (with --study-id)")
    if args.object_id:
        return [Named(oid) for oid in dict.fromkeys(args.object_id)]
    if args.manifest:
        from score.client.manifest import read_download_manifest

        return [Named(oid) for oid in read_download_manifest(args.manifest)]
    if not args.study_id:
        raise e.InvalidRequestError("--analysis-id needs --study-id")
    return client_metadata.analysis_files(settings, args.analysis_id, args.study_id)


def _names(settings: ClientSettings, items: list[Named], layout: str) -> list[Named]:
    """Look up the names the layout needs and the selection did not bring (one request per object)."""
    if layout == "id" or all(item.file_name for item in items):
        return items
    from score.client.metadata import MetadataApi

    api = MetadataApi(settings.metadata_url, settings.token, timeout=settings.timeout_seconds)
    try:
        out = []
        for item in items:
            entity = None if item.file_name else api.entity(item.object_id)
            out.append(client_metadata.named(entity) if entity is not None else item)
        return out
    finally:
        api.close()


def run(args: argparse.Namespace, settings: ClientSettings, progress: bool, say: Callable[[str], None],
        err: Callable[[str], None]) -> int:
    """Download every selected object; the exit code is the worst failure's (0 when all succeeded)."""
    from score.client.api import ServerApi
    from score.client.dataplane import DataPlane
    from score.client.download import Downloader

    items = _names(settings, _select(args, settings), args.output_layout)
    object_ids = [item.object_id for item in items]
    targets = plan_targets(items, args.output_layout)
    api = ServerApi(settings.server_url, settings.token, timeout=settings.timeout_seconds)
    data = DataPlane(timeout=settings.timeout_seconds)
    worst, ok, failed, total_bytes = ec.OK, 0, 0, 0
    started = time.monotonic()
    try:
        dl = Downloader(api, data, parallel=settings.parallel, show_progress=progress and not args.json)
        for oid in object_ids:
            t0 = time.monotonic()
            line: dict[str, Any] = {"object_id": oid, "file": str(args.output_dir / targets[oid])}
            try:
                r = dl.download(oid, args.output_dir, offset=args.offset, length=args.length,
                                validate=args.validate, force=args.force, target=args.output_dir / targets[oid])
            except e.ScoreError as exc:
                if len(object_ids) == 1 and not args.json:
                    raise
                failed += 1
                code = ec.exit_code_for(exc)
                worst = code if worst == ec.OK else worst
                line.update(status="failed", error=exc.message, error_code=exc.code, exit_code=code,
                            seconds=round(time.monotonic() - t0, 3))
                if args.json:
                    say(json.dumps(line))
                else:
                    err(f"{oid}: {exc.message}")
                continue
            ok += 1
            total_bytes += 0 if r.skipped else r.size
            line.update(status="skipped" if r.skipped else "ok", bytes=r.size, md5_verified=r.verified,
                        retries=r.retries, seconds=round(time.monotonic() - t0, 3))
            if args.json:
                say(json.dumps(line))
            elif r.skipped:
                say(f"skipped {oid}: {r.path} already exists (use --force to download it again)")
            else:
                check = "md5 verified" if r.verified else "md5 not verified"
                say(f"downloaded {oid} -> {r.path}: {r.size} bytes, {check}, {r.parts_fetched} of "
                    f"{r.parts_total} parts fetched, {r.parts_resumed} resumed")
    finally:
        api.close()
        data.close()
    if args.json:
        say(json.dumps({"summary": {"objects": len(object_ids), "succeeded": ok, "failed": failed,
                                    "bytes": total_bytes, "seconds": round(time.monotonic() - started, 3),
                                    "exit_code": worst}}))
    elif len(object_ids) > 1:
        say(f"{ok} of {len(object_ids)} objects downloaded or already complete, {failed} failed")
    return worst
