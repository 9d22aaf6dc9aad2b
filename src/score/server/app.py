"""Composition root of the server: build adapters from settings and wire the FastAPI app."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from score import __version__
from score.auth.embedded import EmbeddedIssuer
from score.auth.jwks import JwksKeySet
from score.auth.jwt import JwtVerifier
from score.config.settings import (
    AzureStorageSettings,
    GcsStorageSettings,
    LocalStorageSettings,
    MemoryStorageSettings,
    ServerSettings,
)
from score.domain.access import ScopePolicy
from score.domain.errors import ConfigError
from score.domain.parts import PartLimits
from score.domain.ports import (
    Clock,
    MetadataSource,
    ObjectStore,
    ProvisionableStore,
    RegistryEngine,
    SystemClock,
    TokenVerifier,
)
from score.metadata.song import SongMetadata
from score.metadata.unregistered import UnregisteredMetadata
from score.observability.audit import (
    CURRENT_REQUEST,
    LogAuditor,
    Network,
    RequestInfo,
    client_ip,
    forwarded_request_id,
    parse_networks,
)
from score.observability.metrics import Metered, MeteredAuditor, Metrics
from score.registry.metadata import RegistryMetadata
from score.registry.store import RegistryStore
from score.server.deps import install_services
from score.server.disconnect import CancelOnDisconnect
from score.server.docs_page import install_docs
from score.server.errors import install_error_handlers
from score.server.limits import HeaderLimitMiddleware
from score.server.openapi import install_openapi
from score.server.routes import download, drs, htsget, misc, registry, store, upload
from score.services.context import ServiceContext
from score.storage.local import LocalObjectStore, load_or_create_secret
from score.storage.urlsign import UrlSigner

log = logging.getLogger("score.access")

SECRETS_DIR = "secrets"
URL_KEY_FILE = "url-signing.key"
REGISTRY_FILE = "registry.sqlite"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request its client abandoned before the answer


@dataclass
class Components:
    """Everything the app needs, built once from settings."""

    store: ObjectStore
    verifier: TokenVerifier
    issuer: EmbeddedIssuer | None
    ctx: ServiceContext
    registry: RegistryEngine | None = None
    metrics: Metrics = field(default_factory=Metrics)


def build_store(settings: ServerSettings, clock: Clock | None = None) -> ObjectStore:
    """The object store *settings* select: the embedded local store, S3-compatible, Azure Blob, GCS, or the
    in-process store of tests (whose URLs expire by *clock*).
    """
    storage = settings.storage
    if isinstance(storage, LocalStorageSettings):
        signer = UrlSigner(load_or_create_secret(settings.data_dir / SECRETS_DIR / URL_KEY_FILE))
        limits = PartLimits(min_part_bytes=storage.min_part_size_bytes, max_parts=storage.max_parts)
        return LocalObjectStore(settings.data_dir, settings.base_url, signer, limits, storage.min_free_bytes)
    if isinstance(storage, MemoryStorageSettings):
        from score.storage.memory import MemoryObjectStore

        limits = PartLimits(min_part_bytes=storage.min_part_size_bytes, max_parts=storage.max_parts)
        return MemoryObjectStore(limits=limits, clock=clock)
    if isinstance(storage, AzureStorageSettings):
        from score.server.stores.azure import make_azure_store

        return make_azure_store(storage)
    if isinstance(storage, GcsStorageSettings):
        from score.server.stores.gcs import make_gcs_store

        return make_gcs_store(storage)
    from score.server.stores.s3 import make_store

    return make_store(storage)


def build_components(
    settings: ServerSettings, clock: Clock | None = None, metrics: Metrics | None = None
) -> Components:
    """Create the store, token verifier and service context described by *settings*, counting in *metrics* (a
    new per-app registry by default; a worker of ``serve --workers N`` passes those it shares with the others).

    Raises:
        ConfigError: a key file is unreadable or settings are inconsistent.
    """
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets_dir = data_dir / SECRETS_DIR
    store = build_store(settings, clock)
    auth = settings.auth
    issuer: EmbeddedIssuer | None = None
    verifier: TokenVerifier
    if auth.embedded:
        issuer = EmbeddedIssuer(secrets_dir)
        verifier = JwtVerifier(
            public_key=issuer.public_key,
            issuer=auth.issuer,
            audience=auth.audience,
            algorithms=["ES256"],
            leeway=auth.leeway,
        )
    elif auth.public_key_file is not None:
        try:
            key = serialization.load_pem_public_key(auth.public_key_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read auth.public_key_file {auth.public_key_file}: {exc}") from exc
        verifier = JwtVerifier(
            public_key=key, issuer=auth.issuer, audience=auth.audience, algorithms=auth.algorithms, leeway=auth.leeway
        )
    else:
        keys = JwksKeySet(
            jwks_url=auth.jwks_url if not auth.oidc_issuer else None,
            issuer=auth.oidc_issuer,
            cache_ttl=auth.jwks_cache_ttl,
            refetch_cooldown=auth.jwks_refetch_cooldown,
        )
        verifier = JwtVerifier(
            keys=keys,
            issuer=auth.oidc_issuer or auth.issuer,
            audience=auth.audience,
            algorithms=auth.algorithms,
            leeway=auth.leeway,
        )
    if auth.introspection_url:
        from score.auth.introspection import CompositeVerifier, IntrospectionVerifier

        secret = auth.introspection_client_secret
        verifier = CompositeVerifier(
            verifier,
            IntrospectionVerifier(
                auth.introspection_url,
                client_id=auth.introspection_client_id,
                client_secret=secret.get_secret_value() if secret else None,
                token_field=auth.introspection_token_field,
                cache_ttl=auth.introspection_cache_ttl,
            ),
        )
    registry: RegistryEngine | None = None
    metadata: MetadataSource = UnregisteredMetadata()
    if settings.metadata.kind == "registry":
        registry = open_registry(settings)
        metadata = RegistryMetadata(registry)
    elif settings.metadata.kind == "song":
        assert settings.metadata.url is not None
        metadata = SongMetadata(
            settings.metadata.url, timeout=settings.metadata.timeout, cache_ttl=settings.metadata.cache_ttl
        )
    metrics = metrics if metrics is not None else Metrics()
    ctx = ServiceContext(
        store=cast("ObjectStore", Metered(store, "store", metrics)),
        metadata=cast("MetadataSource", Metered(metadata, "metadata", metrics)),
        policy=ScopePolicy(
            read_scope=auth.read_scope,
            write_scope=auth.write_scope,
            study_prefix=auth.study_prefix,
            read_suffix=auth.study_read_suffix,
            write_suffix=auth.study_write_suffix,
        ),
        upload_url_ttl=settings.upload_url_ttl,
        download_url_ttl=settings.download_url_ttl,
        clock=clock or SystemClock(),
        auditor=MeteredAuditor(LogAuditor(), metrics),
    )
    verifier = cast("TokenVerifier", Metered(verifier, "identity_provider", metrics))
    return Components(store=store, verifier=verifier, issuer=issuer, ctx=ctx, registry=registry, metrics=metrics)


def prepare_registry(settings: ServerSettings) -> list[int]:
    """Create the registry's schema: SQLite's in the data directory, or PostgreSQL's migrations (applied, or
    only checked when ``registry.migrate_on_start`` is off); the PostgreSQL migrations applied.

    Raises:
        ConfigError: the database is unreachable, its schema is not this version's, or psycopg is missing.
    """
    url = settings.registry.url
    if url is None:
        RegistryStore(settings.data_dir / REGISTRY_FILE).close()
        return []
    _need_psycopg()
    from score.registry.postgres import prepare

    return prepare(
        url.get_secret_value(), settings.registry.connect_timeout, migrate=settings.registry.migrate_on_start
    )


def open_registry(settings: ServerSettings) -> RegistryEngine:
    """The registry engine *settings* select: SQLite in the data directory, or a PostgreSQL database (whose
    schema is prepared first: idempotent, and serialized between replicas).
    """
    url = settings.registry.url
    if url is None:
        return RegistryStore(settings.data_dir / REGISTRY_FILE)
    prepare_registry(settings)
    from score.registry.postgres import PostgresRegistry

    reg = settings.registry
    return PostgresRegistry(url.get_secret_value(), reg.pool_size, reg.connect_timeout)


def _need_psycopg() -> None:
    try:
        import psycopg_pool  # noqa: F401 - only whether it is installed
    except ImportError as exc:
        raise ConfigError(
            "registry.url names PostgreSQL, which needs psycopg: pip install 'score[server,postgres]'"
        ) from exc


def prepare_shared_state(settings: ServerSettings) -> None:
    """Create what every worker process of ``serve --workers N`` must share, once, before they start: the
    data directory, the local store's URL-signing key, the embedded issuer's key and the registry's schema.

    Each is also safe to create concurrently (keys: first writer wins; SQLite: a busy timeout), so this only
    spares the workers the race.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(settings.storage, LocalStorageSettings):
        load_or_create_secret(settings.data_dir / SECRETS_DIR / URL_KEY_FILE)
    if settings.auth.embedded:
        EmbeddedIssuer(settings.data_dir / SECRETS_DIR)
    if settings.metadata.kind == "registry":
        prepare_registry(settings)


class RequestLogMiddleware:
    """Adds ``X-Request-Id`` and logs one line per request (path only: never query strings)."""

    def __init__(
        self,
        app: ASGIApp,
        trusted_proxies: Sequence[Network] = (),
        metrics: Metrics | None = None,
        worker: int | None = None,
    ) -> None:
        """Wrap *app*; X-Forwarded-For and X-Request-Id are believed only from *trusted_proxies*; count
        requests in *metrics*; with *worker* (the process id under ``serve --workers N``) each line names it.
        """
        self.app = app
        self.proxies = list(trusted_proxies)
        self.metrics = metrics
        self.worker = worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        claimed_id: bytes | None = None
        hops: list[str] = []
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                claimed_id = value
            elif name == b"x-forwarded-for":
                hops.append(value.decode("latin-1"))
        # uvicorn runs without proxy_headers: the peer here is the TCP peer, never a header's claim
        peer = (scope.get("client") or ("", 0))[0]
        request_id = forwarded_request_id(peer, claimed_id, self.proxies) or secrets.token_hex(8)
        CURRENT_REQUEST.set(RequestInfo(request_id, client_ip(peer, ", ".join(hops) or None, self.proxies)))
        start = time.perf_counter()
        status: dict[str, int] = {}
        scope.setdefault("state", {})["request_id"] = request_id

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception:
            # An unhandled error: Starlette's outermost ServerErrorMiddleware answers 500 after we return.
            status.setdefault("code", 500)
            raise
        finally:
            seconds = time.perf_counter() - start
            code = status.get("code", CLIENT_CLOSED_REQUEST)  # no answer and no error: cancelled, client gone
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "status": code,
                "ms": round(seconds * 1000, 1),
                "token": scope["state"].get("token_hash", ""),
            }
            if self.worker is not None:
                fields["worker"] = self.worker
            log.info("request", extra={"fields": fields})
            if self.metrics is not None:
                route = getattr(scope.get("route"), "path", None) or "unmatched"  # the template, never ids
                self.metrics.child(self.metrics.requests, scope["method"], route, str(code)).inc()
                self.metrics.child(self.metrics.latency, scope["method"], route).observe(seconds)


def create_app(settings: ServerSettings, clock: Clock | None = None, metrics: Metrics | None = None) -> FastAPI:
    """Build the FastAPI application for *settings* (and *metrics*, see :func:`build_components`); no work
    happens at import time.
    """
    components = build_components(settings, clock, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        storage = settings.storage
        if not isinstance(storage, LocalStorageSettings) and storage.create_buckets:
            assert isinstance(components.store, ProvisionableStore)
            await components.store.ensure_buckets()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Score API",
        version=__version__,
        description="Score-compatible object transfer service: pre-signed URLs for genomics data.",
        docs_url=None,  # docs_page.py serves /docs with its assets, not from a CDN
        redoc_url=None,  # ReDoc would load from a CDN too: a blank page offline
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.store = components.store
    app.state.verifier = components.verifier
    app.state.issuer = components.issuer
    app.state.clock = components.ctx.clock
    install_services(app, components.ctx, components.registry)
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    for module in (upload, download, misc, htsget, drs):
        app.include_router(module.router)
    if isinstance(components.store, LocalObjectStore):
        app.include_router(store.router)
    if components.registry is not None:
        app.include_router(registry.router)
    app.state.metrics = components.metrics
    app.add_middleware(HeaderLimitMiddleware, max_bytes=settings.max_header_bytes)
    app.add_middleware(CancelOnDisconnect)  # inside the request log, which records the cancelled request
    app.add_middleware(
        RequestLogMiddleware,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        metrics=components.metrics,
        worker=os.getpid() if settings.workers > 1 else None,
    )
    return app
