"""``score-client mount``: show the objects the token may read as a read-only file system.

Foreground by default (Ctrl-C or ``fusermount3 -u`` ends it); ``--daemonize`` starts the same
command detached, waits until the mount is up (or failed), and returns.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from score.cli import exit_codes as ec
from score.cli.arg_types import path_arg
from score.client.printable import printable
from score.domain import errors as e
from score.sdk.session import Session

MIB = 1024 * 1024
READ_TIMEOUT = 20.0
_CHILD = "SCORE_MOUNT_DAEMON_CHILD"  # set in the detached process, which must not detach again


def add_arguments(mount: argparse.ArgumentParser) -> None:
    """Score's ``mount`` flags, and the cache sizes."""
    mount.add_argument("--mount-point", required=True, type=path_arg, help="an existing, empty directory")
    mount.add_argument(
        "--manifest",
        help="show only the objects of this download manifest (and, in the bundle layout, their index files): "
        "a local file, an http(s) URL, or a portal manifest id (a UUID; needs PORTAL_URL)",
    )
    mount.add_argument(
        "--layout",
        type=lambda v: v.lower().replace("_", "-"),  # Score's enum flags: any case, OBJECT_ID too
        choices=("bundle", "object-id"),
        default="bundle",
        help="bundle (default): <analysis id>/<file name>; object-id: /<object id>",
    )
    mount.add_argument(
        "--cache-metadata",
        action="store_true",
        help=f"keep the file names from the metadata service in ./{_cache_name()} and reuse them",
    )
    mount.add_argument("--daemonize", action="store_true", help="run in the background once mounted")
    mount.add_argument("--options", help="extra FUSE options, comma-separated (e.g. allow_other)")
    mount.add_argument(
        "--cache-size", type=int, default=256, metavar="MIB", help="memory for cached blocks (default 256 MiB)"
    )
    mount.add_argument(
        "--read-ahead",
        type=int,
        default=32,
        metavar="MIB",
        help="how far ahead of a sequential reader to fetch (default 32 MiB)",
    )
    mount.add_argument(
        "--log-file",
        type=path_arg,
        help="with --daemonize: where the mount writes its messages (default ~/.cache/score/mount-<hash>.log)",
    )
    mount.add_argument(
        "--verify-connection", nargs="?", const="true", default="true", metavar="true|false", help=argparse.SUPPRESS
    )  # Score's flag; the listing verifies the connection anyway
    mount.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL; default the server URL)")


def _cache_name() -> str:
    from score.fuse.catalog import CACHE_FILE

    return CACHE_FILE


def _log_path(args: argparse.Namespace) -> Path:
    if args.log_file is not None:
        return Path(args.log_file)
    digest = hashlib.sha256(str(args.mount_point.resolve()).encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "score" / f"mount-{digest}.log"


def _daemonize(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Start this command again, detached; return once it has mounted (0) or failed (its code)."""
    log = _log_path(args)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        seen = out.tell()
        child = subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "score.cli.client_main", *args.argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, _CHILD: "1"},
        )
    point = args.mount_point
    try:
        while child.poll() is None:
            if os.path.ismount(point):
                say(
                    f"mounted at {point} (process {child.pid}, messages in {log}); unmount with: fusermount3 -u {point}"
                )
                return ec.OK
            time.sleep(0.05)
    except KeyboardInterrupt:
        child.send_signal(signal.SIGTERM)
        raise
    with open(log, "rb") as fh:
        fh.seek(seen)
        for line in fh.read().decode("utf-8", "replace").splitlines()[-5:]:
            print(printable(line), file=sys.stderr)
    return child.returncode or ec.FAILURE


def run(args: argparse.Namespace, session: Session, say: Callable[[str], None], warn: Callable[[str], None]) -> int:
    """Mount and serve until unmounted; print what was read."""
    from score.fuse.mount import check_fuse, check_mount_point, parse_fuse_options

    if args.cache_size <= 0 or args.read_ahead < 0:
        raise e.InvalidRequestError("--cache-size must be positive and --read-ahead not negative")
    if args.read_ahead * 2 > args.cache_size:
        raise e.InvalidRequestError("--cache-size must be at least twice --read-ahead")
    options = parse_fuse_options(args.options)
    check_fuse()
    args.mount_point = args.mount_point.resolve()  # a symlink is never "a mount"; its target is
    check_mount_point(args.mount_point)
    if args.daemonize and not os.environ.get(_CHILD):
        return _daemonize(args, say)
    return _serve(args, session, options, say, warn)


def _serve(
    args: argparse.Namespace,
    session: Session,
    options: dict[str, str | bool],
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> int:
    from score.client.transfer.data_plane import DataPlane
    from score.fuse.catalog import CACHE_FILE, Selection, gather
    from score.fuse.mount import serve
    from score.fuse.ops import ScoreOperations
    from score.sdk.reader import Reader

    manifest_ids = None
    if args.manifest:
        from score.cli import client_manifest

        manifest_ids = tuple(client_manifest.object_ids(args.manifest, session))
    settings = session.settings
    selection = Selection(
        args.layout, manifest_ids, Path(CACHE_FILE) if args.cache_metadata else None, settings.metadata_url
    )
    api = session.server()
    meta = session.metadata()
    # a store that stops answering costs a reader at most READ_TIMEOUT per attempt (3 attempts), then EIO
    data = DataPlane(timeout=min(settings.timeout_seconds, READ_TIMEOUT), ssl_context=lambda: session.tls)
    try:
        tree = gather(api, meta, selection, warn)
        meta.close()  # names are all known: no metadata calls while mounted (closing twice is harmless)
        for note in tree.notes[:20]:
            warn(note)
        if tree.files == 0:
            warn("this token may read no object on the server (the listing is empty); mounting an empty directory")
        reader = Reader(
            api,
            data,
            cache_bytes=args.cache_size * MIB,
            read_ahead_bytes=args.read_ahead * MIB,
            workers=max(settings.parallel, 2) * 2,
            attempts=3,
        )
        fetcher, cache, urls = reader.fetcher, reader.cache, reader.urls
        ops = ScoreOperations(tree, cache, urls)
        say(
            f"mounting {tree.files} file(s) at {args.mount_point} ({args.layout} layout); "
            f"unmount with Ctrl-C or: fusermount3 -u {args.mount_point}"
        )
        started = time.monotonic()
        try:
            serve(ops, args.mount_point, options)
        finally:
            reader.close()
        seconds = time.monotonic() - started
        say(
            f"unmounted {args.mount_point}: {ops.opens} open(s), {ops.bytes_read / MIB:.1f} MiB read by programs, "
            f"{fetcher.bytes / MIB:.1f} MiB fetched in {fetcher.requests} request(s) ({cache.stats.hits} block hits, "
            f"{cache.stats.misses} misses, {cache.stats.prefetched} read ahead), {urls.issued} URL(s) issued, "
            f"{seconds:.0f} s"
        )
    finally:
        meta.close()
        api.close()
        data.close()
    return ec.OK
