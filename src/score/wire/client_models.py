"""The client's side of the HTTP contract: schemas.py's shapes as plain dataclasses, parsed without pydantic.

score-client starts once per command; importing pydantic and building the models cost ~80 ms of a
0.3 s ``view`` of a small region, more than all its HTTP calls together. These classes keep schemas.py's
field names (Score's) and types; ``tests/unit/wire/test_client_models.py`` fails when the two drift apart.
Parsing is strict on what the client uses (types, required fields) and ignores unknown fields, as
old clients ignore our additions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class MalformedError(ValueError):
    """A response body that does not have the contract's shape."""


def _typed(d: dict[str, Any], key: str, kind: type, what: str, required: bool) -> Any:
    """``d[key]`` if it is a *kind* (booleans are not integers here); None when absent and not required."""
    value = d.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedError(f"{key}: expected {what}, got {value!r:.40}")
    return value


def _int(d: dict[str, Any], key: str, *, required: bool = True) -> Any:
    return _typed(d, key, int, "an integer", required)


def _str(d: dict[str, Any], key: str, *, required: bool = True) -> Any:
    return _typed(d, key, str, "a string", required)


def _bool(d: dict[str, Any], key: str, default: bool) -> bool:
    value = d.get(key, default)
    if not isinstance(value, bool):
        raise MalformedError(f"{key}: expected true or false, got {value!r:.40}")
    return value


def _time(d: dict[str, Any], key: str, *, required: bool = False) -> Any:
    value = _typed(d, key, str, "a date-time", required)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise MalformedError(f"{key}: not an ISO 8601 date-time: {value!r:.40}") from None


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MalformedError(f"expected a JSON object, got {type(raw).__name__}")
    return raw


def _list(d: dict[str, Any], key: str) -> list[Any]:
    value = d.get(key, [])
    if not isinstance(value, list):
        raise MalformedError(f"{key}: expected a list")
    return value


def loads(content: bytes | str) -> Any:
    """JSON, or MalformedError."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedError(f"not JSON: {exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One part of an object specification (schemas.Part)."""

    partNumber: int
    partSize: int
    offset: int
    url: str | None = None
    md5: str | None = None
    sourceMd5: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Part:
        """From decoded JSON."""
        d = _object(raw)
        return cls(
            partNumber=_int(d, "partNumber"),
            partSize=_int(d, "partSize"),
            offset=_int(d, "offset"),
            url=_str(d, "url", required=False),
            md5=_str(d, "md5", required=False),
            sourceMd5=_str(d, "sourceMd5", required=False),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectSpecification:
    """Score's upload/download specification (schemas.ObjectSpecification)."""

    objectKey: str
    objectId: str
    uploadId: str
    parts: list[Part] = field(default_factory=list)
    objectSize: int
    objectMd5: str | None = None
    urlsExpireAt: datetime | None = None
    etagIsMd5: bool | None = None  # set only when the one part's URL is signed for the file's MD5

    @classmethod
    def parse(cls, raw: Any) -> ObjectSpecification:
        """From decoded JSON."""
        d = _object(raw)
        flag = d.get("etagIsMd5")
        return cls(
            objectKey=_str(d, "objectKey"),
            objectId=_str(d, "objectId"),
            uploadId=_str(d, "uploadId"),
            parts=[Part.parse(p) for p in _list(d, "parts")],
            objectSize=_int(d, "objectSize"),
            objectMd5=_str(d, "objectMd5", required=False),
            urlsExpireAt=_time(d, "urlsExpireAt"),
            etagIsMd5=None if flag is None else _bool(d, "etagIsMd5", True),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadProgress:
    """Score's upload status (schemas.UploadProgress)."""

    objectId: str
    uploadId: str
    parts: list[Part] = field(default_factory=list)
    objectSize: int | None = None
    objectMd5: str | None = None
    urlsExpireAt: datetime | None = None

    @classmethod
    def parse(cls, raw: Any) -> UploadProgress:
        """From decoded JSON."""
        d = _object(raw)
        return cls(
            objectId=_str(d, "objectId"),
            uploadId=_str(d, "uploadId"),
            parts=[Part.parse(p) for p in _list(d, "parts")],
            objectSize=_int(d, "objectSize", required=False),
            objectMd5=_str(d, "objectMd5", required=False),
            urlsExpireAt=_time(d, "urlsExpireAt"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PartUrl:
    """A part's upload URL bound to its Content-MD5 (schemas.PartUrl)."""

    partNumber: int
    partSize: int
    offset: int
    url: str
    md5: str
    expiresAt: datetime
    etagIsMd5: bool = True

    @classmethod
    def parse(cls, raw: Any) -> PartUrl:
        """From decoded JSON."""
        d = _object(raw)
        return cls(
            partNumber=_int(d, "partNumber"),
            partSize=_int(d, "partSize"),
            offset=_int(d, "offset"),
            url=_str(d, "url"),
            md5=_str(d, "md5"),
            expiresAt=_time(d, "expiresAt", required=True),
            etagIsMd5=_bool(d, "etagIsMd5", True),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectInfoOut:
    """One entry of ``GET /listing`` (schemas.ObjectInfoOut)."""

    id: str
    lastModified: int
    size: int

    @classmethod
    def parse(cls, raw: Any) -> ObjectInfoOut:
        """From decoded JSON."""
        d = _object(raw)
        return cls(id=_str(d, "id"), lastModified=_int(d, "lastModified"), size=_int(d, "size"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorBody:
    """Every error response (schemas.ErrorBody)."""

    code: str
    message: str
    retryable: bool = False

    @classmethod
    def parse(cls, raw: Any) -> ErrorBody:
        """From decoded JSON."""
        d = _object(raw)
        return cls(code=_str(d, "code"), message=_str(d, "message"), retryable=_bool(d, "retryable", False))


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectError:
    """One object of a batch that has no spec (schemas.ObjectError): its own request's status and error body."""

    objectId: str
    status: int
    code: str
    message: str
    retryable: bool = False

    @classmethod
    def parse(cls, raw: Any) -> ObjectError:
        """From decoded JSON."""
        d = _object(raw)
        return cls(
            objectId=_str(d, "objectId"),
            status=_int(d, "status"),
            code=_str(d, "code"),
            message=_str(d, "message"),
            retryable=_bool(d, "retryable", False),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadSpecs:
    """The answer of ``POST /download/specs`` (schemas.DownloadSpecs)."""

    specs: list[ObjectSpecification] = field(default_factory=list)
    errors: list[ObjectError] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: Any) -> DownloadSpecs:
        """From decoded JSON."""
        d = _object(raw)
        return cls(
            specs=[ObjectSpecification.parse(s) for s in _list(d, "specs")],
            errors=[ObjectError.parse(x) for x in _list(d, "errors")],
        )
