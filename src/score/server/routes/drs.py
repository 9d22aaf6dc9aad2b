"""GA4GH DRS 1.2: service-info, objects (blobs and analysis bundles), access URLs, and the
authorization info of ``OPTIONS`` (DRS 1.3+). Errors are DRS's ``{"msg", "status_code"}``; an access
URL's expiry is its response's ``Expires`` header (DRS's AccessURL has no field for it).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse

from score import __version__
from score.config.settings import S3StorageSettings, ServerSettings
from score.server.deps import CurrentPrincipal, DrsSvc, Settings
from score.server.errors import DrsRoute
from score.server.openapi import DRS, errors, expiry_headers, signed_urls
from score.services.drs import AccessUrl
from score.wire.schemas import DrsAccessUrl, DrsObject

PREFIX = "/ga4gh/drs/v1"
router = APIRouter(prefix=PREFIX, tags=["drs"], route_class=DrsRoute)  # errors in DRS's shape
# services/drs.py checks the id (its 400 is DRS's error body); the pattern here only documents it
DrsIdPath = Annotated[
    str, Path(description="an object id or an analysis id", json_schema_extra={"pattern": "^[A-Za-z0-9._~-]{1,128}$"})
]
OBJECT_ERRORS = errors(400, 401, 403, 404, 409, 503, shape=DRS)
OBJECT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DrsObject, "description": "A blob (an object id) or a bundle (an analysis id)"},
    **OBJECT_ERRORS,
}
ACCESS_RESPONSES = signed_urls(DrsAccessUrl, "The object's pre-signed URL", OBJECT_ERRORS)
AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn")


def _host(request: Request, settings: ServerSettings) -> str:
    """This server's name in ``drs://`` URIs: the public URL's host, else the request's Host."""
    public = settings.public_url
    return urlsplit(public).netloc if public else (request.headers.get("host") or request.url.netloc)


def region(settings: ServerSettings) -> str | None:
    """The cloud region of the objects, where it names one: an S3 store on AWS (no endpoint, or an AWS one).

    Other S3 services' regions are only signing labels, and the Azure and GCS settings name no region.
    """
    storage = settings.storage
    if not isinstance(storage, S3StorageSettings):
        return None
    host = (urlsplit(storage.endpoint).hostname or "") if storage.endpoint else "s3.amazonaws.com"
    return storage.region if host.endswith(AWS_HOSTS) else None


def _access(found: AccessUrl) -> JSONResponse:
    return JSONResponse({"url": found.url}, headers=expiry_headers(found.expires_at))


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


@router.get("/objects/{object_id}", response_model=None, responses=OBJECT_RESPONSES)
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
    return await svc.object(principal, object_id, _host(request, settings), region(settings))


@router.post("/objects/{object_id}", response_model=None, responses=OBJECT_RESPONSES)
async def post_object(
    object_id: DrsIdPath,
    request: Request,
    principal: CurrentPrincipal,
    svc: DrsSvc,
    settings: Settings,
    body: Annotated[dict[str, Any] | None, Body()] = None,  # noqa: ARG001  part of the documented signature (FastAPI reads it)
) -> dict[str, Any]:
    """As GET; passports in the body are not used (authorization is by bearer token)."""
    return await svc.object(principal, object_id, _host(request, settings), region(settings))


@router.get("/objects/{object_id}/access/{access_id}", responses=ACCESS_RESPONSES)
async def get_access(object_id: DrsIdPath, access_id: str, principal: CurrentPrincipal, svc: DrsSvc) -> JSONResponse:
    """The object's pre-signed URL (as ``GET /download/{id}?external=true``; audited); ``Expires`` says until when."""
    return _access(await svc.access_url(principal, object_id, access_id))


@router.post("/objects/{object_id}/access/{access_id}", responses=ACCESS_RESPONSES)
async def post_access(
    object_id: DrsIdPath,
    access_id: str,
    principal: CurrentPrincipal,
    svc: DrsSvc,
    body: Annotated[dict[str, Any] | None, Body()] = None,  # noqa: ARG001  part of the documented signature (FastAPI reads it)
) -> JSONResponse:
    """As GET; passports in the body are not used."""
    return _access(await svc.access_url(principal, object_id, access_id))


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
