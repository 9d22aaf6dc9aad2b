"""What the OpenAPI document says each route may answer: its error statuses, their bodies and headers.

Routes declare ``responses=errors(400, 401, ...)`` (htsget's and DRS's routes in their own error shapes),
and those answering with pre-signed URLs ``signed_urls()`` (their expiry headers, :func:`expiry_headers`);
:func:`install_openapi` builds the document from them. It also drops the 422 FastAPI documents for
every route with parameters: our parameter errors are 400s (``server/errors.py``), and a route lists
422 only where a checksum or size disagreement answers it. Every route may answer 431 (its request
head is over the cap, ``server/limits.py``), always in Score's JSON shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import FastAPI, Path
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from score.wire.schemas import ErrorBody

HTSGET_MEDIA_TYPE = "application/vnd.ga4gh.htsget.v1.3.0+json"
REF = "#/components/schemas/"

# Declared as UUIDs, checked by the services (their 400 names the malformed id; FastAPI's would be a 422).
ObjectIdPath = Annotated[str, Path(description="the object id (a UUID)", json_schema_extra={"format": "uuid"})]


class HtsgetErrorDetail(BaseModel):
    """htsget's error name and message."""

    error: str
    message: str


class HtsgetErrorBody(BaseModel):
    """htsget 1.3's error response."""

    htsget: HtsgetErrorDetail


class DrsErrorBody(BaseModel):
    """DRS 1.2's error response."""

    msg: str
    status_code: int


@dataclass(frozen=True)
class ErrorShape:
    """The body errors of a family of routes have, and its media type."""

    model: type[BaseModel]
    media_type: str = "application/json"


SCORE = ErrorShape(ErrorBody)
HTSGET = ErrorShape(HtsgetErrorBody, HTSGET_MEDIA_TYPE)
DRS = ErrorShape(DrsErrorBody)
MODELS: tuple[type[BaseModel], ...] = (ErrorBody, HtsgetErrorBody, DrsErrorBody)

WHY: dict[int, str] = {
    400: "A malformed id or parameter",
    401: "No token where one is needed, or a malformed, invalid or expired one",
    403: "The token lacks the scope this needs",
    404: "No such object, upload, analysis or part (to callers who may know it)",
    409: "The request conflicts with the object's or analysis's state",
    416: "The byte range lies outside the object",
    422: "Checksums or sizes disagree",
    431: "The request's headers are over the server's cap",
    503: "The store, metadata service or identity provider is unavailable; retry after Retry-After seconds",
    507: "The server's local store is full",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "the auth scheme: Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}},
}


# GA4GH's AccessURL and htsget ticket have no expiry field (their schemas refuse extra fields), so
# the expiry of their pre-signed URLs is HTTP's: Expires, with no-store so that no cache keeps them.
URL_EXPIRY_HEADERS: dict[str, Any] = {
    "Expires": {
        "description": "when the response's pre-signed URLs stop working (an HTTP-date); absent when it has none",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": "no-store: the URLs are the caller's alone", "schema": {"type": "string"}},
}


def expiry_headers(expires_at: datetime | None) -> dict[str, str]:
    """The headers of a GA4GH response whose pre-signed URLs expire at *expires_at* (none without URLs)."""
    if expires_at is None:
        return {}
    return {"Expires": format_datetime(expires_at.astimezone(UTC), usegmt=True), "Cache-Control": "no-store"}


def signed_urls(
    model: type[BaseModel], description: str, responses: dict[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """*responses* with a 200 (*description*, a *model*) that carries pre-signed URLs and their expiry headers."""
    return {200: {"model": model, "description": description, "headers": URL_EXPIRY_HEADERS}, **responses}


def _content(model: type[BaseModel], media_type: str) -> dict[str, Any]:
    return {media_type: {"schema": {"$ref": REF + model.__name__}}}


def errors(*statuses: int, shape: ErrorShape = SCORE) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may answer *statuses* with errors in *shape* (and 431).

    Args:
        statuses: error statuses the route can answer (keys of :data:`WHY`).
        shape: the routes' error body: Score's, htsget's or DRS's.

    Returns:
        FastAPI's additional responses, bodies referring to the component schemas :func:`install_openapi` adds.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"description": WHY[status], "content": _content(shape.model, shape.media_type)}
        if status in HEADERS:
            entry["headers"] = HEADERS[status]
        out[status] = entry
    out[431] = {"description": WHY[431], "content": _content(ErrorBody, "application/json")}
    return out


def _drop_validation_422(document: dict[str, Any]) -> None:
    """Remove FastAPI's own 422 responses (a validation error is a 400 here) and their schemas."""
    ref = REF + "HTTPValidationError"
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            content = responses.get("422", {}).get("content", {})
            if any(media.get("schema", {}).get("$ref") == ref for media in content.values()):
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _add_error_models(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in MODELS:
        schema = model.model_json_schema(ref_template=REF + "{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema


def build_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of *app*: FastAPI's, with the error bodies added and its 422s removed."""
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    _drop_validation_422(document)
    _add_error_models(document)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_document` as *app*'s ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    generate: Callable[[], dict[str, Any]] = openapi
    app.openapi = generate  # type: ignore[method-assign]
