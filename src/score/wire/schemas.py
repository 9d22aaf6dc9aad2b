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
