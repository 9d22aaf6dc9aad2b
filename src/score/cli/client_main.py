"""``score-client``: upload, download, url, version, submit, publish, unpublish.

The only place that knows exit codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from score import __version__
from score.cli import client_download, client_metadata
from score.cli import exit_codes as ec
from score.cli.client_config import ClientSettings, load_client_settings
from score.domain import errors as e
from score.domain.ids import validate_object_id


def _bool(text: str) -> bool:
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError("expected true or false")


def _object_id(text: str) -> str:
    try:
        return validate_object_id(text)
    except e.InvalidRequestError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server-url", help="score-server URL (env STORAGE_URL; default http://127.0.0.1:5431)")
    common.add_argument("--config", type=Path, help="client TOML file (default ~/.config/score/client.toml)")
    common.add_argument("--parallel", type=int, help="parallel part transfers (env TRANSPORT_PARALLEL; default 4)")
    common.add_argument("--memory", type=int, metavar="MIB", help="upload buffer budget in MiB (default 100)")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_argument("--silent", action="store_true", help="print nothing at all")
    p = argparse.ArgumentParser(prog="score-client", description="Transfer files through a Score server.")
    p.add_argument("--version", action="version", version=f"score-client {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upload", parents=[common], help="upload a file, or every file of a manifest")
    up.add_argument("--object-id", type=_object_id)
    up.add_argument("--file", type=Path)
    up.add_argument("--manifest", type=Path, help="Song's upload manifest (object id, file, md5; first line skipped)")
    up.add_argument("--md5", help="the file's MD5 (hex); computed when not given")
    up.add_argument("--force", action="store_true", help="replace an existing object / restart the upload")
    down = sub.add_parser("download", parents=[common], help="download objects")
    client_download.add_arguments(down, _object_id, _bool)
    url = sub.add_parser("url", parents=[common], help="print a pre-signed URL of the whole object")
    url.add_argument("--object-id", required=True, type=_object_id)
    sub.add_parser("version", parents=[common], help="print the client version (and the server's health)")
    client_metadata.add_commands(sub, common)
    return p


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.silent:
        print(text, flush=True)


def _clients(settings: ClientSettings) -> tuple[Any, Any]:
    from score.client.api import ServerApi
    from score.client.dataplane import DataPlane

    api = ServerApi(settings.server_url, settings.token, timeout=settings.timeout_seconds)
    data = DataPlane(timeout=settings.timeout_seconds)
    return api, data


def _upload(args: argparse.Namespace, settings: ClientSettings, progress: bool) -> int:
    from score.client.manifest import UploadEntry, read_upload_manifest
    from score.client.upload import Uploader

    if args.manifest is not None:
        if args.object_id or args.file:
            raise e.InvalidRequestError("give either --manifest or --object-id with --file, not both")
        entries = read_upload_manifest(args.manifest)
    elif args.object_id and args.file:
        entries = [UploadEntry(args.object_id, args.file, args.md5 or "")]
    else:
        raise e.InvalidRequestError("give --object-id and --file, or --manifest")
    for entry in entries:
        if not entry.path.is_file():
            raise e.InvalidRequestError(f"{entry.path} is not a readable file")
    api, data = _clients(settings)
    try:
        up = Uploader(api, data, parallel=settings.parallel, memory_bytes=settings.memory_bytes, show_progress=progress)
        for entry in entries:
            r = up.upload(entry.object_id, entry.path, entry.md5 or None, args.force)
            _say(
                args,
                f"uploaded {r.object_id}: {r.size} bytes, md5 {r.md5}, {r.parts_sent} of {r.parts_total} parts "
                f"sent, {r.parts_skipped} already on the server",
            )
    finally:
        api.close()
        data.close()
    return ec.OK


def _url(args: argparse.Namespace, settings: ClientSettings) -> int:
    from score.client.api import ServerApi

    api = ServerApi(settings.server_url, settings.token, timeout=settings.timeout_seconds)
    try:
        spec = api.download_spec(args.object_id, external=True)
    finally:
        api.close()
    url = spec.parts[0].url if spec.parts else None
    if not url:
        raise e.NotFoundError(f"the server returned no URL for {args.object_id}")
    _say(args, url)
    return ec.OK


def _err(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "silent", False):
        print(f"score-client: error: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``score-client``."""
    args = _parser().parse_args(argv)
    if args.silent:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Score's --silent closes output
    try:
        if args.command == "version":
            print(f"score-client {__version__}")
            return ec.OK
        settings = load_client_settings(
            config=args.config,
            server_url=args.server_url,
            parallel=args.parallel,
            memory_mib=args.memory,
            metadata_url=getattr(args, "metadata_url", None),
        )
        progress = sys.stderr.isatty() and not args.quiet and not args.silent
        if args.command == "upload":
            return _upload(args, settings, progress)
        if args.command == "download":
            return client_download.run(args, settings, progress, lambda t: _say(args, t), lambda t: _err(args, t))
        if args.command == "submit":
            return client_metadata.submit(args, settings, lambda text: _say(args, text))
        if args.command in ("publish", "unpublish"):
            return client_metadata.set_state(args, settings, lambda text: _say(args, text))
        return _url(args, settings)
    except e.ScoreError as exc:
        code = ec.exit_code_for(exc)
        hint = ec.HINTS.get(code)
        _err(args, exc.message + (f" ({hint})" if hint else ""))
        return code
    except KeyboardInterrupt:
        _err(args, "interrupted; re-run the same command to resume")
        return ec.INTERRUPTED
    except OSError as exc:
        _err(args, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return ec.FAILURE


if __name__ == "__main__":
    sys.exit(main())
