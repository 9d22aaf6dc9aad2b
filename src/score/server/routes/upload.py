"""Score's upload endpoints: parse, call the service, return the wire shape.

Confirming, forgetting a part, the recovery check and cancelling answer 200 with no body, as Score does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from score.server.deps import AuthenticatedPrincipal, UploadSvc
from score.server.openapi import ObjectIdPath, errors
from score.wire.headers import UPLOAD_TOKEN_HEADER
from score.wire.schemas import ObjectSpecification, PartUrl, UploadProgress

router = APIRouter(prefix="/upload", tags=["upload"])

UploadToken = Annotated[
    str | None,
    Header(alias=UPLOAD_TOKEN_HEADER, description="the client's upload token: only its holder may resume the upload"),
]


@router.post(
    "/{object_id}/uploads",
    response_model=ObjectSpecification,
    response_model_exclude_none=False,
    responses=errors(400, 401, 403, 404, 409, 503, 507),
)
async def initiate_upload(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    fileSize: Annotated[int, Query(ge=0, description="size of the file in bytes")],  # noqa: N803
    md5: Annotated[str | None, Query(description="declared MD5 (hex or base64)")] = None,
    overwrite: bool = False,
    upload_token: UploadToken = None,
    signMd5: Annotated[  # noqa: N803
        bool,
        Query(
            description="(ours) with md5, when the plan is one part: sign its URL for that Content-MD5 and say "
            "etagIsMd5, so the client PUTs and finalizes (with partsMd5) without a part URL or confirmation call"
        ),
    ] = False,
) -> ObjectSpecification:
    """Start an upload; returns the part plan with pre-signed part URLs."""
    return await svc.initiate(principal, object_id, fileSize, md5, overwrite, upload_token, signMd5)


@router.post("/{object_id}/parts", response_class=Response, responses=errors(400, 401, 403, 404, 409, 422, 503, 507))
async def finalize_part(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    uploadId: str,  # noqa: N803
    partNumber: Annotated[int, Query(ge=1)],  # noqa: N803
    md5: str,
    etag: str,
    upload_token: UploadToken = None,
) -> Response:
    """Record a part once the store holds it with this ETag."""
    await svc.confirm_part(principal, object_id, uploadId, partNumber, md5, etag, upload_token)
    return Response(status_code=200)


@router.get("/{object_id}/parts/url", response_model=PartUrl, responses=errors(400, 401, 403, 404, 409, 503))
async def part_url(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    uploadId: str,  # noqa: N803
    partNumber: Annotated[int, Query(ge=1)],  # noqa: N803
    md5: Annotated[str, Query(description="the part's MD5 (hex or base64); the URL's signature covers it")],
    upload_token: UploadToken = None,
) -> PartUrl:
    """A part URL bound to the part's Content-MD5 (not in Score: its URLs do not fix the bytes)."""
    return await svc.part_url(principal, object_id, uploadId, partNumber, md5, upload_token)


@router.delete("/{object_id}/parts", response_class=Response, responses=errors(400, 401, 403, 404, 409, 503))
async def delete_part(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    uploadId: str,  # noqa: N803
    partNumber: Annotated[int, Query(ge=1)],  # noqa: N803
    upload_token: UploadToken = None,
) -> Response:
    """Forget a part so that it is sent again."""
    await svc.delete_part(principal, object_id, uploadId, partNumber, upload_token)
    return Response(status_code=200)


@router.get("/{object_id}/status", response_model=UploadProgress, responses=errors(400, 401, 403, 404, 409, 503))
async def upload_status(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    fileSize: Annotated[int, Query(ge=0)],  # noqa: N803
    upload_token: UploadToken = None,
) -> UploadProgress:
    """Progress of the upload in progress: fresh URLs for every part; completed parts also carry md5."""
    return await svc.status(principal, object_id, fileSize, upload_token)


@router.post("/{object_id}/recovery", response_class=Response, responses=errors(400, 401, 403, 404, 409, 503))
async def recover_upload(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    fileSize: Annotated[int, Query(ge=0)],  # noqa: N803
    upload_token: UploadToken = None,
) -> Response:
    """400 when the file size changed since the upload started."""
    await svc.recovery(principal, object_id, fileSize, upload_token)
    return Response(status_code=200)


@router.post(
    "/{object_id}", response_model=ObjectSpecification, responses=errors(400, 401, 403, 404, 409, 422, 503, 507)
)
async def finalize_upload(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    uploadId: str,  # noqa: N803
    md5: Annotated[str | None, Query(description="the whole file's MD5, as the client computed it")] = None,
    partsMd5: Annotated[  # noqa: N803
        str | None,
        Query(
            description="md5(concat(part MD5s))-N of the client's parts; refused (422) if the server holds others. "
            "With it, parts not confirmed are accepted when the store holds them and their MD5s add up to it"
        ),
    ] = None,
    upload_token: UploadToken = None,
) -> ObjectSpecification:
    """Complete the upload (idempotent); the body is the finished object's spec (Score answers with none)."""
    return await svc.finalize(principal, object_id, uploadId, md5, partsMd5, upload_token)


@router.get("/{object_id}", responses=errors(400, 401, 403, 404, 503))
async def is_object_exist(object_id: ObjectIdPath, principal: AuthenticatedPrincipal, svc: UploadSvc) -> bool:
    """``true`` when the object has been uploaded and finalized."""
    return await svc.exists(principal, object_id)


@router.delete("/{object_id}", response_class=Response, responses=errors(400, 401, 403, 404, 503))
async def cancel_upload(
    object_id: ObjectIdPath,
    principal: AuthenticatedPrincipal,
    svc: UploadSvc,
    uploadId: str | None = None,  # noqa: N803 - ours, optional: only this upload (Score cancels every one)
) -> Response:
    """Abort the upload in progress (only ``uploadId`` when given) and delete its state."""
    await svc.cancel(principal, object_id, uploadId)
    return Response(status_code=200)
