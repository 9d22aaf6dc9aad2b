"""``score-server``: serve the API, or print a token from the embedded issuer."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from score import __version__
from score.cli.arg_types import path_arg
from score.cli.durations import format_duration, parse_duration
from score.config.settings import ServerSettings, load_server_settings
from score.domain.errors import ConfigError, ScoreError

log = logging.getLogger("score.server")
WORKER_ARGS_ENV = "SCORE_SERVE_ARGS"  # the config file and flags, for the workers of serve --workers N
MAX_TOKEN_TTL = timedelta(days=3650)  # the embedded issuer is for operators and tests, not decade-long keys


def describe_storage(settings: ServerSettings) -> str:
    """Where the data lives, for the start-up line (no secrets)."""
    storage = settings.storage
    if storage.kind == "local":
        return f"local store in {settings.data_dir.resolve()}"
    if storage.kind == "azure":
        return f"azure account {storage.account_name}, container {storage.container}"
    if storage.kind == "gcs":
        return f"gcs {storage.endpoint}, bucket {storage.bucket}"
    if storage.kind == "memory":
        return "in-process memory store (tests: its URLs are served only in process)"
    return f"s3 store {storage.endpoint or 'AWS ' + storage.region}, bucket {storage.object_bucket}"


def describe_metadata(settings: ServerSettings) -> str:
    """Where object records come from, for the start-up line (a database URL without its password)."""
    kind = settings.metadata.kind
    if kind == "song":
        return f"metadata from Song at {settings.metadata.url}"
    if kind != "registry":
        return "no metadata (objects need no registration)"
    if settings.registry.url is None:
        from score.server.app import REGISTRY_FILE

        return f"registry in SQLite {settings.data_dir.resolve() / REGISTRY_FILE}"
    from score.registry.postgres import describe

    return f"registry in {describe(settings.registry.url.get_secret_value())}"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=path_arg, help="TOML config file (env SCORE_CONFIG)")
    p.add_argument("--data-dir", type=path_arg, help="data directory (default ./score-data; env SCORE_DATA_DIR)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="score-server", description="Score object transfer server.")
    p.add_argument("--version", action="version", version=f"score-server {__version__}")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the HTTP server (the default command)")
    _common(serve)
    serve.add_argument("--host", help="bind address (default 127.0.0.1; env SCORE_HOST)")
    serve.add_argument("--port", type=int, help="port (default 5431; env SCORE_PORT)")
    serve.add_argument("--public-url", help="base URL clients use to reach this server (env SCORE_PUBLIC_URL)")
    serve.add_argument(
        "--workers", type=int, help="server processes sharing the port, one core each (default 1; env SCORE_WORKERS)"
    )
    token = sub.add_parser(
        "token",
        help="print an access token signed by the embedded issuer",
        epilog="A token stays valid for its --ttl plus the server's clock-skew leeway (SCORE_AUTH__LEEWAY, "
        "default 30 s): --ttl 1s is still accepted for about 31 s.",
    )
    _common(token)
    token.add_argument("--scope", action="append", default=[], help="scope to grant (repeatable)")
    token.add_argument(
        "--ttl",
        default="1h",
        help=f"lifetime, e.g. 15m, 1h, 7d (default 1h; at most {format_duration(MAX_TOKEN_TTL)}); servers accept it "
        "for their clock-skew leeway longer (SCORE_AUTH__LEEWAY, default 30 s)",
    )
    token.add_argument("--subject", default="score-admin", help="the token's subject (default score-admin)")
    token.add_argument(
        "--create-key",
        action="store_true",
        help="create the signing key if the data directory has none (before the first serve on it)",
    )
    clean = sub.add_parser("cleanup", help="abort uploads older than --older-than and delete their state (cron-able)")
    _common(clean)
    clean.add_argument(
        "--older-than", help="age of uploads to abort, e.g. 6d, 12h (default: upload_retention, 6d as Score)"
    )
    clean.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    migrate = sub.add_parser(
        "migrate",
        help="apply the registry's schema migrations (PostgreSQL: SCORE_REGISTRY__URL; SQLite: the data dir)",
        epilog="Servers apply them at start unless SCORE_REGISTRY__MIGRATE_ON_START=false; replicas starting "
        "together take turns. Exit 0 when the schema is current, 2 when the database cannot be reached or is newer.",
    )
    _common(migrate)
    return p


def _settings(args: argparse.Namespace) -> ServerSettings:
    config = args.config or (Path(os.environ["SCORE_CONFIG"]) if os.environ.get("SCORE_CONFIG") else None)
    overrides: dict[str, Any] = {"data_dir": args.data_dir}
    if args.command == "serve":
        overrides.update({"host": args.host, "port": args.port, "public_url": args.public_url, "workers": args.workers})
    settings = load_server_settings(config, **overrides)
    if args.command == "serve" and settings.workers > 1:
        # the worker processes read their settings as this process did: same file, same flags
        given = {k: str(v) for k, v in overrides.items() if v is not None}
        os.environ[WORKER_ARGS_ENV] = json.dumps({"config": str(config) if config else None, "overrides": given})
    return settings


def worker_app() -> Any:
    """The app of one worker process of ``serve --workers N`` (uvicorn's factory, run in each worker).

    Its metrics go to the files of the directory ``serve`` made for this run (inherited in the environment, as
    prometheus_client wants it), so that ``/metrics`` shows the sums over every worker.
    """
    from score.observability.audit import configure_audit_file
    from score.observability.logging import configure_server_logging
    from score.observability.metrics import MULTIPROC_ENV, Metrics
    from score.server.app import create_app

    args = json.loads(os.environ[WORKER_ARGS_ENV])
    settings = load_server_settings(Path(args["config"]) if args["config"] else None, **args["overrides"])
    configure_server_logging(settings.log_level)
    configure_audit_file(settings.audit_log)
    return create_app(settings, metrics=Metrics(multiprocess_dir=Path(os.environ[MULTIPROC_ENV])))


def port_problem(host: str, port: int) -> str | None:
    """Why *host*:*port* cannot be listened on (in use, not permitted, no such address), or None.

    Checked before anything is printed or started, so a second server on a busy port says so in one line; uvicorn
    binds again right after (a port taken in between is still refused there).
    """
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use (another score-server?): stop it, or give another --port"
            if exc.errno == errno.EACCES:
                return f"port {port} on {host} needs privileges this user lacks: give a port above 1023 with --port"
            return f"cannot listen on {host}:{port} ({exc.strerror or exc}): check --host and --port"
    return None


def _serve(settings: ServerSettings) -> int:
    import uvicorn

    from score.observability.audit import configure_audit_file
    from score.observability.logging import configure_server_logging
    from score.observability.metrics import MULTIPROC_ENV, new_multiprocess_dir
    from score.server.app import create_app, prepare_shared_state
    from score.server.limits import HeadCappedH11Protocol

    problem = port_problem(settings.host, settings.port)
    if problem:
        raise ConfigError(problem)
    configure_server_logging(settings.log_level)
    configure_audit_file(settings.audit_log)
    workers = settings.workers
    metrics_dir: Path | None = None
    if workers > 1:
        if settings.storage.kind == "memory":
            raise ConfigError("the memory store lives in one process: it cannot serve --workers above 1")
        # Keys and the registry's schema are created here, once, before the workers open them.
        prepare_shared_state(settings)
        # The workers' metric files: a new directory for this run (any value inherited is replaced), named before
        # uvicorn spawns the workers, which import prometheus_client afresh.
        metrics_dir = new_multiprocess_dir()
        os.environ[MULTIPROC_ENV] = str(metrics_dir)
        app: Any = "score.cli.server_main:worker_app"
    else:
        app = create_app(settings)
    where = f"{describe_storage(settings)}, {describe_metadata(settings)}"
    log.info(
        "score-server %s listening on %s://%s:%s (%s, %s auth, %d worker%s)",
        __version__,
        "https" if settings.tls_cert else "http",
        settings.host,
        settings.port,
        where,
        "embedded" if settings.auth.embedded else "external",
        workers,
        "s" if workers > 1 else "",
    )
    tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)} if settings.tls_cert else {}
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For/-Proto from any local peer (its
    # default FORWARDED_ALLOW_IPS); RequestLogMiddleware believes them only from SCORE_TRUSTED_PROXIES.
    # h11, not httptools (uvicorn's default), so that an oversized request head is never buffered in full.
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            http=HeadCappedH11Protocol,
            h11_max_incomplete_event_size=settings.max_header_bytes,
            workers=workers if workers > 1 else None,
            factory=workers > 1,
            **tls,  # type: ignore[arg-type]
        )
    finally:
        if metrics_dir is not None:  # the workers have stopped (uvicorn joins them)
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _token(settings: ServerSettings, args: argparse.Namespace) -> int:
    from score.auth.embedded import KEY_FILE, EmbeddedIssuer
    from score.server.app import SECRETS_DIR

    if not settings.auth.embedded:
        print("score-server token: an external identity provider is configured; get tokens from it", file=sys.stderr)
        return 2
    scopes = args.scope or [settings.auth.read_scope, settings.auth.write_scope]
    try:
        ttl = parse_duration(args.ttl, maximum=MAX_TOKEN_TTL)
    except ValueError as exc:
        print(f"score-server token: --ttl: {exc}", file=sys.stderr)
        return 2
    key = (settings.data_dir / SECRETS_DIR / KEY_FILE).resolve()
    if not key.exists() and not args.create_key:
        # A new key here would sign tokens that no server accepts (InvalidSignatureError on every request).
        print(
            f"score-server token: no signing key in {key}: no server has used this data directory, so its tokens "
            "would be refused; give the server's data directory (--data-dir or SCORE_DATA_DIR), "
            "or --create-key to create the key before the server's first start",
            file=sys.stderr,
        )
        return 2
    issuer = EmbeddedIssuer(settings.data_dir / SECRETS_DIR)
    print(f"score-server token: signed with {key}", file=sys.stderr)
    token = issuer.mint(
        issuer=settings.auth.issuer or "score-server",
        audience=settings.auth.audience,
        scopes=scopes,
        ttl=ttl,
        subject=args.subject,
    )
    print(token)
    return 0


def _cleanup(settings: ServerSettings, args: argparse.Namespace) -> int:
    import anyio

    from score.server.app import build_components
    from score.services.cleanup import CleanupService

    try:
        age = parse_duration(args.older_than) if args.older_than else settings.upload_retention
    except ValueError as exc:
        print(f"score-server cleanup: --older-than: {exc}", file=sys.stderr)
        return 2
    service = CleanupService(build_components(settings).ctx)
    try:
        report = anyio.run(lambda: service.run(age, dry_run=args.dry_run))
    except ScoreError as exc:
        print(f"score-server cleanup: {exc.message}", file=sys.stderr)
        return 1
    verb = "would abort" if args.dry_run else "aborted"
    for item in report.aborted:
        print(f"{verb} upload {item}")
    for item in report.orphaned_state:
        print(f"{'would delete' if args.dry_run else 'deleted'} orphaned state {item}")
    print(
        f"cleanup: {len(report.aborted)} upload(s) {verb}, {len(report.orphaned_state)} orphaned state dir(s), "
        f"{report.kept} younger upload(s) kept (cut-off {age})"
    )
    return 0


def _migrate(settings: ServerSettings) -> int:
    from score.server.app import REGISTRY_FILE, prepare_registry

    if settings.metadata.kind != "registry":
        print(f"score-server migrate: metadata.kind is {settings.metadata.kind}: there is no registry to migrate")
        return 0
    applied = prepare_registry(
        settings.model_copy(update={"registry": settings.registry.model_copy(update={"migrate_on_start": True})})
    )
    if settings.registry.url is None:
        print(f"registry: SQLite {settings.data_dir / REGISTRY_FILE}, schema current")
    else:
        from score.registry.migrations import LATEST
        from score.registry.postgres import describe

        done = f"applied migration(s) {applied}" if applied else "nothing to apply"
        print(f"registry: {describe(settings.registry.url.get_secret_value())}, {done}; schema version {LATEST}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``score-server``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "token":
            return _token(settings, args)
        if args.command == "cleanup":
            return _cleanup(settings, args)
        if args.command == "migrate":
            return _migrate(settings)
        return _serve(settings)
    except ConfigError as exc:
        print(f"score-server: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a data directory, key or audit file that cannot be made or written
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"score-server: cannot write{where}: {exc.strerror or exc}; give a writable --data-dir "
            "(or SCORE_DATA_DIR), or fix its permissions",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
