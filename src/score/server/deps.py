"""Everything a route depends on, as FastAPI ``Annotated`` aliases: the caller, the services, the app's parts.

:func:`install_services` builds the use cases once per app (``create_app`` calls it); routes declare
what they need (``svc: HtsgetSvc``, ``store: LocalStore``) and never read ``request.app.state``
themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from score.auth.embedded import EmbeddedIssuer
from score.config.settings import ServerSettings
from score.domain.errors import UnauthenticatedError
from score.domain.model import ANONYMOUS, Principal
from score.domain.ports import Clock, ObjectStore, RegistryEngine, TokenVerifier
from score.observability.metrics import Metrics
from score.services.context import ServiceContext
from score.services.download import DownloadService
from score.services.drs import DrsService
from score.services.htsget import HtsgetService
from score.services.registry import RegistryService
from score.services.upload import UploadService
from score.storage.local import LocalObjectStore


def install_services(app: FastAPI, ctx: ServiceContext, registry: RegistryEngine | None = None) -> None:
    """Build every use case the routes call, over *ctx*; the registry's only with a *registry* store."""
    app.state.upload_service = UploadService(ctx)
    app.state.download_service = DownloadService(ctx)
    app.state.htsget_service = HtsgetService(ctx)
    app.state.drs_service = DrsService(ctx, app.state.download_service)
    if registry is not None:
        app.state.registry_service = RegistryService(ctx, registry)


# ---- the caller ---------------------------------------------------------------------------------
async def current_principal(request: Request) -> Principal:
    """Verify the bearer token if one is sent; anonymous otherwise.

    Raises:
        UnauthenticatedError: a malformed Authorization header or an invalid token.
    """
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("the Authorization header must be 'Bearer <token>'", reason="malformed_header")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(token.strip())
    request.state.token_hash = principal.token_hash
    return principal


async def authenticated(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Like :func:`current_principal`, but anonymous callers are refused."""
    if principal.is_anonymous:
        raise UnauthenticatedError("a bearer token is required", reason="no_token")
    return principal


# ---- the services and the app's parts ------------------------------------------------------------
def _from_state(name: str, what: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that provides the app's ``state.<name>`` (*what* is its docstring).

    A coroutine function: FastAPI runs a plain function dependency in its thread pool, which would
    cost each request a thread hop for an attribute lookup.
    """

    async def provide(request: Request) -> Any:
        return getattr(request.app.state, name)

    provide.__name__ = name
    provide.__doc__ = what
    return provide


UploadSvc = Annotated[UploadService, Depends(_from_state("upload_service", "The upload use cases."))]
DownloadSvc = Annotated[DownloadService, Depends(_from_state("download_service", "The download use cases."))]
HtsgetSvc = Annotated[HtsgetService, Depends(_from_state("htsget_service", "The htsget use case."))]
DrsSvc = Annotated[DrsService, Depends(_from_state("drs_service", "The DRS use case."))]
RegistrySvc = Annotated[
    RegistryService, Depends(_from_state("registry_service", "The registry use cases (metadata.kind = registry)."))
]
Settings = Annotated[ServerSettings, Depends(_from_state("settings", "The settings the app was built from."))]
Store = Annotated[ObjectStore, Depends(_from_state("store", "The object store (unmetered: health and profile)."))]
LocalStore = Annotated[LocalObjectStore, Depends(_from_state("store", "The embedded local store (its data plane)."))]
Issuer = Annotated[
    EmbeddedIssuer | None, Depends(_from_state("issuer", "The embedded issuer; None with an external IdP."))
]
AppClock = Annotated[Clock, Depends(_from_state("clock", "The clock every expiry is checked against."))]
AppMetrics = Annotated[Metrics, Depends(_from_state("metrics", "The Prometheus metrics of this app."))]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AuthenticatedPrincipal = Annotated[Principal, Depends(authenticated)]
