"""The HTTP contract: Score's JSON shapes (field names kept), shared by server and client.

Fields we add (``urlsExpireAt``, ``objectSize``/``objectMd5`` on progress, ``completed``)
are ignored by Score's Java client and by Song.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class Part(BaseModel):
    """One part of an object specification."""

    model_config = ConfigDict(populate_by_name=True)

    partNumber: int
    partSize: int
    offset: int
    url: str | None = None
    md5: str | None = None
    sourceMd5: str | None = None

    @model_serializer(mode="wrap")
    def _drop_null_source(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("sourceMd5") is None:
            data.pop("sourceMd5", None)
        return data


class ObjectSpecification(BaseModel):
    """Score's upload/download specification."""

    objectKey: str
    objectId: str
    uploadId: str
    parts: list[Part] = Field(default_factory=list)
    objectSize: int
    objectMd5: str | None = None
    urlsExpireAt: datetime | None = None
    etagIsMd5: bool | None = Field(
        None,
        description="(ours) only on an initiate with signMd5=true whose plan is one part: that part's URL is signed "
        "for the file's Content-MD5, and this says whether the store's ETag is then that MD5 (false under SSE-KMS); "
        "left out otherwise",
    )

    @model_serializer(mode="wrap")
    def _drop_null_etag_flag(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("etagIsMd5") is None:
            data.pop("etagIsMd5", None)
        return data


class UploadProgress(BaseModel):
    """Score's upload status; completed parts carry ``md5`` and ``sourceMd5``."""

    objectId: str
    uploadId: str
    parts: list[Part] = Field(default_factory=list)
    objectSize: int | None = None
    objectMd5: str | None = None
    urlsExpireAt: datetime | None = None


class PartUrl(BaseModel):
    """A part's upload URL whose signature covers the part's Content-MD5 (our addition to Score's API).

    The store refuses any other bytes, and a PUT without that Content-MD5.
    ``etagIsMd5`` is false where the store's ETags are not MD5s (SSE-KMS).
    """

    partNumber: int
    partSize: int
    offset: int
    url: str
    md5: str
    expiresAt: datetime
    etagIsMd5: bool = True


class ObjectInfoOut(BaseModel):
    """One entry of ``GET /listing``."""

    id: str
    lastModified: int
    size: int


class ErrorBody(BaseModel):
    """Every error response: a stable code, a human message, and whether to retry."""

    code: str
    message: str
    retryable: bool = False


MAX_BATCH_OBJECTS = 1000  # object ids in one POST /download/specs


class DownloadSpecsRequest(BaseModel):
    """``POST /download/specs``: the objects whose whole-object download specs are wanted (our addition)."""

    objectIds: list[str] = Field(min_length=1, max_length=MAX_BATCH_OBJECTS, description="object ids (UUIDs)")


class ObjectError(BaseModel):
    """Why one object of a batch has no spec: the status and error body its own ``GET /download/{id}`` would answer."""

    objectId: str
    status: int
    code: str
    message: str
    retryable: bool = False


class DownloadSpecs(BaseModel):
    """The specs of a batch, in the order asked (each as ``GET /download/{id}`` answers it), and the objects refused."""

    specs: list[ObjectSpecification] = Field(default_factory=list)
    errors: list[ObjectError] = Field(default_factory=list)


# ---- GA4GH shapes (documentation of the DRS and htsget routes' answers; the routes build plain JSON) ----
class DrsChecksum(BaseModel):
    """A DRS checksum: ``md5`` where anything knows the MD5, else the store's ``etag``."""

    checksum: str
    type: str


class DrsAccessMethod(BaseModel):
    """A blob's one access method: ``/access/https`` gives its pre-signed URL."""

    type: str
    access_id: str
    region: str | None = Field(None, description="the store's cloud region (S3 on AWS only)")


class DrsContentsObject(BaseModel):
    """One file of an analysis bundle."""

    name: str
    id: str
    drs_uri: list[str]


class DrsObject(BaseModel):
    """A DRS 1.2 object: a blob (an object id) or a bundle (an analysis id, with ``contents``)."""

    id: str
    self_uri: str
    size: int
    created_time: str
    updated_time: str
    checksums: list[DrsChecksum] = Field(min_length=1)
    name: str | None = None
    description: str | None = None
    access_methods: list[DrsAccessMethod] | None = Field(None, description="blobs only")
    contents: list[DrsContentsObject] | None = Field(None, description="bundles only")


class DrsAccessUrl(BaseModel):
    """A blob's pre-signed URL; the response's ``Expires`` header says when it stops working."""

    url: str


class HtsgetBlock(BaseModel):
    """One block of an htsget ticket: a pre-signed URL with the ``Range`` to send, or inline ``data:``."""

    model_config = ConfigDict(populate_by_name=True)

    url: str
    headers: dict[str, str] | None = None
    klass: str | None = Field(None, alias="class")


class HtsgetTicketBody(BaseModel):
    """The ticket's format and blocks, in order."""

    format: str
    urls: list[HtsgetBlock]


class HtsgetTicket(BaseModel):
    """An htsget 1.3 ticket; the response's ``Expires`` header says when its URLs stop working."""

    htsget: HtsgetTicketBody
