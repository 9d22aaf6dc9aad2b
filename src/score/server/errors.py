"""THE table from domain errors to HTTP statuses, and the handlers that render them in each API's shape.

Score's routes answer ``ErrorBody``; htsget's and DRS's routers declare their own format with
``route_class=HtsgetRoute`` / ``DrsRoute``, so the format follows the route the request matched,
wherever the router is mounted (a path no route matched takes the format of the API mounted above it).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from score.domain import errors as e
from score.server.openapi import HTSGET_MEDIA_TYPE
from score.wire.schemas import ErrorBody

log = logging.getLogger("score.server")

STATUS: dict[type[e.ScoreError], int] = {
    e.InvalidRequestError: 400,
    e.RangeNotSatisfiableError: 416,
    e.UnauthenticatedError: 401,
    e.ForbiddenError: 403,
    e.SignatureError: 403,
    e.UrlExpiredError: 403,
    e.NotFoundError: 404,
    e.ConflictError: 409,
    # Final, as Score answers it: Score's Java client retries any status but 400, 401, 403, 404 and 500.
    e.AnalysisStateError: 400,
    e.IntegrityError: 422,
    e.UpstreamUnavailableError: 503,
    e.ResumeStateError: 500,
    e.DiskSpaceError: 507,  # the server's store is full: not the caller's fault, not worth retrying at once
    e.ConfigError: 500,
    e.InternalError: 500,
}


RETRY_AFTER_SECONDS = 5  # a 503's Retry-After: an upstream that is down is asked again soon, not hammered


def status_headers(status: int) -> dict[str, str] | None:
    """Headers every error of *status* carries: the auth challenge of a 401, the Retry-After of a 503."""
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status == 503:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return None


def status_for(exc: e.ScoreError) -> int:
    """HTTP status of a domain error (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


# htsget's own error names (htsget 1.3, "Errors"); InvalidRange is a 400 there
HTSGET_ERRORS: list[tuple[type[e.ScoreError], str, int]] = [
    (e.UnsupportedFormatError, "UnsupportedFormat", 400),
    (e.RangeNotSatisfiableError, "InvalidRange", 400),
    (e.InvalidRequestError, "InvalidInput", 400),
    (e.UnauthenticatedError, "InvalidAuthentication", 401),
    (e.ForbiddenError, "PermissionDenied", 403),
    (e.AnalysisStateError, "PermissionDenied", 403),  # not readable yet, by anyone
    (e.NotFoundError, "NotFound", 404),
]


def error_response(exc: e.ScoreError) -> JSONResponse:
    """Render a domain error as Score's ``{"code", "message", "retryable"}``."""
    status = status_for(exc)
    body = ErrorBody(code=exc.code, message=exc.message, retryable=exc.retryable)
    return JSONResponse(body.model_dump(), status_code=status, headers=status_headers(status))


def htsget_error(exc: e.ScoreError) -> JSONResponse:
    """Render a domain error as htsget's ``{"htsget": {"error", "message"}}``."""
    name, status = next(
        ((n, s) for cls, n, s in HTSGET_ERRORS if isinstance(exc, cls)),
        ("ServiceUnavailable" if status_for(exc) == 503 else "InternalError", status_for(exc)),
    )
    return JSONResponse(
        {"htsget": {"error": name, "message": exc.message}},
        status_code=status,
        headers=status_headers(status),
        media_type=HTSGET_MEDIA_TYPE,
    )


def drs_error(exc: e.ScoreError) -> JSONResponse:
    """Render a domain error as DRS's ``{"msg", "status_code"}``."""
    status = status_for(exc)
    return JSONResponse({"msg": exc.message, "status_code": status}, status_code=status, headers=status_headers(status))


def score_routing_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """A 404 (no such path) or 405 (no such method) in Score's shape, with a 405's ``Allow``."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = ErrorBody(code=code, message=str(exc.detail), retryable=False)
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=http_error_headers(request, exc))


def htsget_routing_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """An unknown htsget endpoint is htsget's NotFound; a 405 stays in Score's shape (as ever)."""
    if exc.status_code == 404:
        return htsget_error(e.NotFoundError(f"no such htsget endpoint: {request.url.path}"))
    return score_routing_error(request, exc)


def drs_routing_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """A 404 or 405 in DRS's shape, with a 405's ``Allow``."""
    return JSONResponse(
        {"msg": str(exc.detail), "status_code": exc.status_code},
        status_code=exc.status_code,
        headers=http_error_headers(request, exc),
    )


@dataclass(frozen=True)
class ErrorFormat:
    """How one API's routes render errors: a domain error, and a routing error (404, 405)."""

    render: Callable[[e.ScoreError], JSONResponse]
    routing: Callable[[Request, StarletteHTTPException], JSONResponse]


SCORE_FORMAT = ErrorFormat(error_response, score_routing_error)
HTSGET_FORMAT = ErrorFormat(htsget_error, htsget_routing_error)
DRS_FORMAT = ErrorFormat(drs_error, drs_routing_error)


class HtsgetRoute(APIRoute):
    """A route whose errors are htsget's (``APIRouter(route_class=HtsgetRoute)``), wherever it is mounted."""

    error_format = HTSGET_FORMAT


class DrsRoute(APIRoute):
    """A route whose errors are DRS's (``APIRouter(route_class=DrsRoute)``), wherever it is mounted."""

    error_format = DRS_FORMAT


def _leaf_routes(app: FastAPI) -> Iterable[Any]:
    """Every route of *app*, those of included routers too (FastAPI >= 0.160 nests them)."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    return iterate(app.routes) if iterate is not None else app.routes


def allowed_methods(request: Request) -> str | None:
    """A 405's ``Allow``: the methods of every route of the request's path.

    Starlette's own names only the methods of the first route whose path matches, and ``/upload/{id}``
    has three (GET, POST, DELETE).
    """
    methods: set[str] = set()
    for route in _leaf_routes(request.app):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods)) or None


def http_error_headers(request: Request, exc: StarletteHTTPException) -> dict[str, str] | None:
    """The headers of a routing error: the exception's own, and a 405's ``Allow`` listing all the path's methods."""
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allow = allowed_methods(request)
        if allow:
            headers["Allow"] = allow
    return headers or None


def _format_of(route: Any) -> ErrorFormat:
    """The format a route's class declares (through FastAPI's RouteContext of an included router too)."""
    fmt: ErrorFormat = getattr(getattr(route, "original_route", route), "error_format", SCORE_FORMAT)
    return fmt


def _mount_points(app: FastAPI) -> list[tuple[str, ErrorFormat]]:
    """Where each API with its own error format is mounted: the directory common to its routes."""
    paths: dict[int, tuple[ErrorFormat, list[str]]] = {}
    for route in _leaf_routes(app):
        fmt = _format_of(route)
        if fmt is not SCORE_FORMAT:
            static = str(getattr(route, "path", "")).split("{", 1)[0]  # the directory above any parameter
            paths.setdefault(id(fmt), (fmt, []))[1].append(posixpath.dirname(static))
    out = []
    for fmt, found in paths.values():
        prefix = posixpath.commonpath(found).rstrip("/") + "/"
        if prefix != "/":
            out.append((prefix, fmt))
    return sorted(out, key=lambda mount: len(mount[0]), reverse=True)


def error_format(request: Request) -> ErrorFormat:
    """The error format of the route the request matched (its router's); for a path no route matched
    (a 404), that of the API mounted above the path; Score's otherwise.
    """
    route = request.scope.get("route")
    if route is not None:
        return _format_of(route)
    path = request.url.path
    return next((fmt for prefix, fmt in _mount_points(request.app) if path.startswith(prefix)), SCORE_FORMAT)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers: domain errors, parameter errors, unknown routes, bugs (each in its route's format)."""

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.ScoreError)
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None and status_for(exc) in (401, 403):
            metrics.denied(exc)
        if status_for(exc) >= 500:
            log.error("request failed: %s", exc.message, exc_info=exc)
        return error_format(request).render(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            problems.append(f"{loc}: {err.get('msg', 'invalid')}")
        return error_format(request).render(e.InvalidRequestError("invalid parameters: " + "; ".join(problems)))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        fmt = error_format(request)
        if exc.status_code == 400:  # FastAPI's answer to a body that is not JSON: ours, in the route's shape
            return fmt.render(e.InvalidRequestError(f"invalid request body: {exc.detail}"))
        return fmt.routing(request, exc)

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001  Starlette's exception-handler signature
        log.error("unhandled error", exc_info=exc)
        body = ErrorBody(code="internal", message="internal server error", retryable=True)
        return JSONResponse(body.model_dump(), status_code=500)

    app.add_exception_handler(e.ScoreError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
