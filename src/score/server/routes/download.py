"""Score's download endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from score.server.deps import CurrentPrincipal, DownloadSvc
from score.server.errors import status_for
from score.server.openapi import ObjectIdPath, errors
from score.wire.schemas import DownloadSpecs, DownloadSpecsRequest, ObjectError, ObjectSpecification

router = APIRouter(prefix="/download", tags=["download"])


@router.get("/ping", response_class=PlainTextResponse, responses=errors(503, 507))
async def ping(svc: DownloadSvc) -> str:
    """A short-lived signed URL of the sentinel object, to prove the store is reachable."""
    return await svc.ping()


@router.post("/specs", response_model=DownloadSpecs, responses=errors(400, 401, 503))
async def download_specs(body: DownloadSpecsRequest, principal: CurrentPrincipal, svc: DownloadSvc) -> DownloadSpecs:
    """Our addition: whole-object download specs of up to 1,000 objects in one call, each as
    ``GET /download/{id}`` (``offset=0``, ``length=-1``) answers it; an object refused on its own
    (malformed id, unknown, forbidden, not published...) is listed under ``errors`` with the status
    and body its own request would get. A failure of the store or metadata service (5xx) fails the
    whole call, to be retried.
    """
    specs, refused = [], []
    for object_id, answer in await svc.download_specs(principal, body.objectIds):
        if isinstance(answer, ObjectSpecification):
            specs.append(answer)
            continue
        status = status_for(answer)
        if status >= 500:
            raise answer
        refused.append(
            ObjectError(
                objectId=object_id, status=status, code=answer.code, message=answer.message, retryable=answer.retryable
            )
        )
    return DownloadSpecs(specs=specs, errors=refused)


@router.get("/{object_id}", response_model=ObjectSpecification, responses=errors(400, 401, 403, 404, 409, 416, 503))
async def download_spec(
    object_id: ObjectIdPath,
    principal: CurrentPrincipal,
    svc: DownloadSvc,
    offset: Annotated[int, Query()] = 0,
    length: Annotated[int, Query(description="-1 = to the end")] = -1,
    external: bool = False,
    exclude_urls: Annotated[bool, Query(alias="exclude-urls")] = False,
) -> Response:
    """Per-part URLs signed for their Range; ``external`` one whole-object URL; ``exclude-urls`` none."""
    spec = await svc.download_spec(principal, object_id, offset, length, external, exclude_urls)
    # The service built a valid model: rendered once, not validated again against response_model.
    return Response(spec.model_dump_json(), media_type="application/json")
