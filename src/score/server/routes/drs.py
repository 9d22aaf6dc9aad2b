"""GA4GH DRS 1.2: service-info, objects (blobs and analysis bundles), access URLs, and the
authorization info of ``OPTIONS`` (DRS 1.3+). Errors are DRS's ``{"msg", "status_code"}``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse

from score import __version__
from score.config.settings import ServerSettings
from score.server.deps import CurrentPrincipal, DrsSvc, Settings
from score.server.errors import DrsRoute
from score.server.openapi import DRS, errors

PREFIX = "/ga4gh/drs/v1"
router = APIRouter(prefix=PREFIX, tags=["drs"], route_class=DrsRoute)  # errors in DRS's shape
# services/drs.py checks the id (its 400 is DRS's error body); the pattern here only documents it
DrsIdPath = Annotated[
    str, Path(description="an object id or an analysis id", json_schema_extra={"pattern": "^[A-Za-z0-9._~-]{1,128}$"})
]
OBJECT_ERRORS = errors(400, 401, 403, 404, 409, 503, shape=DRS)


def _host(request: Request, settings: ServerSettings) -> str:
    """This server's name in ``drs://`` URIs: the public URL's host, else the request's Host."""
    public = settings.public_url
    return urlsplit(public).netloc if public else (request.headers.get("host") or request.url.netloc)


@router.get("/service-info", responses=errors())
async def service_info() -> dict[str, Any]:
    """GA4GH service-info (only the fields DRS 1.2 validators accept)."""
    return {
        "id": "org.overture.score.drs",
        "name": "Score DRS",
        "type": {"group": "org.ga4gh", "artifact": "drs", "version": "1.2.0"},
        "description": "Every Score object as a DRS blob and every analysis as a bundle, with pre-signed URLs",
        "organization": {"name": "Score", "url": "https://github.com/overture-stack/score"},
        "version": __version__,
    }


@router.get("/objects/{object_id}", responses=OBJECT_ERRORS)
async def get_object(
    object_id: DrsIdPath,
    request: Request,
    principal: CurrentPrincipal,
    svc: DrsSvc,
    settings: Settings,
    expand: bool = False,  # noqa: ARG001  part of the documented signature (FastAPI reads it)
) -> dict[str, Any]:
    """A blob (an object) or a bundle (an analysis: its files the token may read). *expand* changes
    nothing here: a bundle's contents are files, never nested bundles.
    """
    return await svc.object(principal, object_id, _host(request, settings))


@router.post("/objects/{object_id}", responses=OBJECT_ERRORS)
async def post_object(
    object_id: DrsIdPath,
    request: Request,
    principal: CurrentPrincipal,
    svc: DrsSvc,
    settings: Settings,
    body: Annotated[dict[str, Any] | None, Body()] = None,  # noqa: ARG001  part of the documented signature (FastAPI reads it)
) -> dict[str, Any]:
    """As GET; passports in the body are not used (authorization is by bearer token)."""
    return await svc.object(principal, object_id, _host(request, settings))


@router.get("/objects/{object_id}/access/{access_id}", responses=OBJECT_ERRORS)
async def get_access(object_id: DrsIdPath, access_id: str, principal: CurrentPrincipal, svc: DrsSvc) -> dict[str, Any]:
    """The object's pre-signed URL (as ``GET /download/{id}?external=true``; audited)."""
    return await svc.access_url(principal, object_id, access_id)


@router.post("/objects/{object_id}/access/{access_id}", responses=OBJECT_ERRORS)
async def post_access(
    object_id: DrsIdPath,
    access_id: str,
    principal: CurrentPrincipal,
    svc: DrsSvc,
    body: Annotated[dict[str, Any] | None, Body()] = None,  # noqa: ARG001  part of the documented signature (FastAPI reads it)
) -> dict[str, Any]:
    """As GET; passports in the body are not used."""
    return await svc.access_url(principal, object_id, access_id)


@router.options("/objects/{object_id}", responses=errors())
async def authorizations(object_id: str, settings: Settings) -> JSONResponse:
    """How to authorize (DRS 1.3+): bearer tokens from this server's issuer. Answered for any id, so
    that it tells nobody which objects exist.
    """
    auth = settings.auth
    issuer = auth.oidc_issuer or auth.issuer
    return JSONResponse(
        {
            "drs_object_id": object_id,
            "supported_types": ["BearerAuth"],
            "bearer_auth_issuers": [issuer] if issuer else [],
        }
    )
