"""Listing, profile, health, JWKS and the Swagger UI alias."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from score import __version__
from score.domain.ports import ObjectStore
from score.server.deps import AppMetrics, AuthenticatedPrincipal, DownloadSvc, Issuer, Store
from score.server.openapi import errors
from score.wire.schemas import ObjectInfoOut

router = APIRouter()


@router.get("/metrics", tags=["health"], include_in_schema=False)
async def metrics(app_metrics: AppMetrics) -> Response:
    """Prometheus metrics (text exposition format)."""
    body, content_type = app_metrics.render()
    return Response(body, media_type=content_type)


@router.get("/listing", response_model=list[ObjectInfoOut], tags=["listing"], responses=errors(401, 503))
async def listing(principal: AuthenticatedPrincipal, svc: DownloadSvc) -> list[ObjectInfoOut]:
    """Objects the caller may read: id, lastModified (ms) and size."""
    return await svc.listing(principal)


@router.get("/profile", response_class=PlainTextResponse, tags=["info"], responses=errors(401, 503))
async def profile(store: Store, principal: AuthenticatedPrincipal) -> str:  # noqa: ARG001  the dependency authenticates the caller
    """The storage profile (``s3`` for S3-like stores, as Score's client expects)."""
    return str(store.profile)


async def _health(store: ObjectStore) -> JSONResponse:
    ok = await store.healthy()
    details: dict[str, Any] = {"foundBucket": ok}
    free_bytes = getattr(store, "free_bytes", None)  # the local store: free space against its floor
    if callable(free_bytes):
        floor = getattr(store, "min_free_bytes", 0)
        try:
            free = free_bytes()
        except OSError:  # no data directory: not found
            free = None
        details.update(freeBytes=free, minFreeBytes=floor)
        if not ok and free is not None and free < floor:  # there, but too full to take uploads
            details.update(foundBucket=True, reason=f"free space {free} bytes is below the floor of {floor}")
    body = {
        "status": "UP" if ok else "OUT_OF_SERVICE",
        "version": __version__,
        "components": {"store": {"status": "UP" if ok else "DOWN", "details": details}},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **errors(),
    200: {"description": "The store is reachable", "content": {"application/json": {"schema": {"type": "object"}}}},
    503: {
        "description": "The store is unreachable, or below its free-space floor (the same body, status DOWN)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


@router.get("/health", tags=["health"], responses=HEALTH_RESPONSES)
async def health(store: Store) -> JSONResponse:
    """Liveness and readiness: the store is reachable."""
    return await _health(store)


@router.get("/actuator/health", tags=["health"], responses=HEALTH_RESPONSES)
async def actuator_health(store: Store) -> JSONResponse:
    """Spring-style alias of /health."""
    return await _health(store)


@router.get("/.well-known/jwks.json", tags=["auth"], responses=errors())
async def jwks(issuer: Issuer) -> dict[str, Any]:
    """Public keys of the embedded issuer (empty when an external provider is used)."""
    return issuer.jwks() if issuer is not None else {"keys": []}


@router.get("/swagger-ui.html", include_in_schema=False)
async def swagger_alias() -> RedirectResponse:
    """Score's Swagger UI path."""
    return RedirectResponse("/docs")
