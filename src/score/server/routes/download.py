"""Score's download endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from score.server.deps import CurrentPrincipal, DownloadSvc
from score.server.openapi import ObjectIdPath, errors
from score.wire.schemas import ObjectSpecification

router = APIRouter(prefix="/download", tags=["download"])


@router.get("/ping", response_class=PlainTextResponse, responses=errors(503, 507))
async def ping(svc: DownloadSvc) -> str:
    """A short-lived signed URL of the sentinel object, to prove the store is reachable."""
    return await svc.ping()


@router.get("/{object_id}", response_model=ObjectSpecification, responses=errors(400, 401, 403, 404, 409, 416, 503))
async def download_spec(
    object_id: ObjectIdPath,
    principal: CurrentPrincipal,
    svc: DownloadSvc,
    offset: Annotated[int, Query()] = 0,
    length: Annotated[int, Query(description="-1 = to the end")] = -1,
    external: bool = False,
    exclude_urls: Annotated[bool, Query(alias="exclude-urls")] = False,
) -> ObjectSpecification:
    """Per-part URLs signed for their Range; ``external`` one whole-object URL; ``exclude-urls`` none."""
    return await svc.download_spec(principal, object_id, offset, length, external, exclude_urls)
