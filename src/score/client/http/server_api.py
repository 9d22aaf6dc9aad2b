"""Typed client of the Score API; wire errors become domain errors (inverse of server/errors.py)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from score import __version__
from score.attempts import RetryPolicy, Sleep, with_retry
from score.client.http.tokens import BearerAuth, TokenSource, as_source, jwt_expired
from score.client.printable import printable
from score.domain import errors as e
from score.wire.client_models import (
    DownloadSpecs,
    ErrorBody,
    MalformedError,
    ObjectInfoOut,
    ObjectSpecification,
    PartUrl,
    UploadProgress,
    loads,
)
from score.wire.headers import UPLOAD_TOKEN_HEADER

T = TypeVar("T")
INSUFFICIENT_STORAGE = 507  # the server's store is full: retrying at once cannot help

_BY_STATUS: dict[int, type[e.ScoreError]] = {
    400: e.InvalidRequestError,
    401: e.UnauthenticatedError,
    403: e.ForbiddenError,
    404: e.NotFoundError,
    409: e.ConflictError,
    416: e.RangeNotSatisfiableError,
    422: e.IntegrityError,
}


NO_TOKEN = "no access token: set ACCESSTOKEN or run score-client login"  # noqa: S105  a message, not a secret
SCOPE_REFUSAL = "the token lacks the scope"  # how score-server's 403s for a missing scope begin (domain/access.py)
NO_TOKEN_REASON = "no_token"  # noqa: S105  the reason of the error when this client sent no token at all
NO_ENDPOINT_REASON = "no_endpoint"  # a path the server does not serve: the URL is wrong, not the object id
UNREACHABLE_REASON = "unreachable"  # no connection at all: refused, unknown host, TLS handshake
SERVER_SETTING = "--server-url / STORAGE_URL"
METADATA_SETTING = "--metadata-url / METADATA_URL"
_ROUTING_MESSAGE = "Not Found"  # a score-server's answer to a path it has no route for (Starlette's detail)


def _sent(response: httpx.Response) -> httpx.Request | None:
    """The request *response* answers (None for a response made up from a store's body)."""
    try:
        return response.request
    except RuntimeError:
        return None


def _no_endpoint(request: httpx.Request, setting: str) -> e.NotFoundError:
    return e.NotFoundError(
        f"no such endpoint: {request.method} {request.url.copy_with(query=None)} answered 404 Not Found; "
        f"check {setting}",
        reason=NO_ENDPOINT_REASON,
    )


def _error_class(code: str, status: int) -> type[e.ScoreError]:
    """The domain error of a wire error: by its ``code``, else by its HTTP *status*."""
    cls = e.error_class_for_code(code)
    return _BY_STATUS.get(status, e.ScoreError) if cls is e.ScoreError else cls


def error_from_response(response: httpx.Response, setting: str = SERVER_SETTING) -> e.ScoreError:
    """Turn an error response into the matching domain error (by code, else by status).

    The server's message is kept with its control characters escaped: it is printed as it is. A 401 to a
    request that carried no token says so; one to a bearer JWT past its expiry has the reason
    ``expired_token`` (the server's message then says to get a new one). A 404 for a path the server does
    not serve (its routing answer, or a body that is not a score-server's) says to check *setting*, the URL,
    not the object id.
    """
    request = _sent(response)
    if request is not None and response.status_code == 401 and "Authorization" not in request.headers:
        return e.UnauthenticatedError(NO_TOKEN, reason=NO_TOKEN_REASON)
    try:
        body = ErrorBody.parse(loads(response.content))
        if request is not None and response.status_code == 404 and body.message == _ROUTING_MESSAGE:
            return _no_endpoint(request, setting)
        cls = _error_class(body.code, response.status_code)
        transient = response.status_code >= 500 and response.status_code != INSUFFICIENT_STORAGE
        reason = e.SERVER_STORE_FULL if cls is e.DiskSpaceError else None
        if cls is e.UnauthenticatedError:
            reason = _expired(request)  # the message says to get a new one: no hint after it
        elif cls is e.ForbiddenError and body.message.startswith(SCOPE_REFUSAL):
            reason = e.MISSING_SCOPE  # the message names the scopes that would allow it: no hint after it
        elif cls is e.ConflictError and "already exists" in body.message:
            reason = e.OBJECT_EXISTS  # the object is stored (not another client's upload in progress)
        return cls(printable(body.message), retryable=body.retryable or transient, reason=reason)
    except ValueError:
        pass
    if response.status_code == INSUFFICIENT_STORAGE:
        return e.DiskSpaceError(
            "the server's store is out of disk space (HTTP 507); try again once space is freed",
            reason=e.SERVER_STORE_FULL,
        )
    if response.status_code >= 500 or response.status_code == 429:
        return e.UpstreamUnavailableError(f"server answered HTTP {response.status_code}; try again later")
    if request is not None and response.status_code == 404 and not response.content.lstrip().startswith(b"{"):
        return _no_endpoint(request, setting)  # a web page or nothing: not an API's answer (Score's is JSON)
    cls = _BY_STATUS.get(response.status_code, e.ScoreError)
    return cls(f"server answered HTTP {response.status_code}")


def _expired(request: httpx.Request | None) -> str | None:
    """``expired_token`` when the refused request carried a bearer JWT past its expiry (its refusal says so)."""
    scheme, _, token = (request.headers.get("Authorization", "") if request is not None else "").partition(" ")
    return e.EXPIRED_TOKEN if scheme.lower() == "bearer" and jwt_expired(token) else None


def _is_error_body(response: httpx.Response) -> bool:
    try:
        ErrorBody.parse(loads(response.content))
    except ValueError:
        return False
    return True


def _parsed(response: httpx.Response, parse: Callable[[Any], T]) -> T:
    """A 2xx body in the contract's shape, or a clear error (a proxy's HTML page, a server that is not ours)."""
    try:
        return parse(loads(response.content))
    except MalformedError as exc:
        raise e.UpstreamUnavailableError(
            f"{response.request.method} {response.request.url.path} answered with an unexpected body ({exc}); "
            "is the server URL that of a score-server?",
            retryable=False,
        ) from None


def untrusted_certificate(exc: BaseException, where: str) -> e.ScoreError | None:
    """A TLS certificate the client does not trust: not worth retrying, and the fix is local."""
    if "CERTIFICATE_VERIFY_FAILED" not in str(exc) and not isinstance(exc, ssl.SSLCertVerificationError):
        return None
    return e.ConfigError(
        f"the TLS certificate of {where} is not trusted ({getattr(exc, 'verify_message', None) or 'verify failed'}); "
        "give its CA with --ca-bundle or SCORE_CA_BUNDLE"
    )


def transport_error(exc: httpx.HTTPError, service: str, url: object, setting: str = SERVER_SETTING) -> e.ScoreError:
    """A network failure reaching *service* at *url*, retryable (an untrusted certificate is not).

    No connection at all (refused, an unknown host, a failed TLS handshake such as ``https://`` to a plain
    HTTP server) names *setting*, where the URL comes from.
    """
    from score.domain.redaction import redact  # httpx quotes a header it refuses, a bearer token with it

    untrusted = untrusted_certificate(exc, str(url))
    if untrusted is not None:
        return untrusted
    if isinstance(exc, httpx.ConnectError):
        return e.UpstreamUnavailableError(
            redact(f"cannot reach {service} at {url}: check {setting} ({exc or type(exc).__name__})"),
            reason=UNREACHABLE_REASON,
        )
    return e.UpstreamUnavailableError(redact(f"cannot reach {service} at {url}: {type(exc).__name__}: {exc}"))


def _listing(raw: Any) -> list[ObjectInfoOut]:
    if not isinstance(raw, list):
        raise MalformedError("expected a list")
    return [ObjectInfoOut.parse(item) for item in raw]


class ServerApi:
    """Calls score-server's REST API. The token goes only here, never to the object store."""

    def __init__(
        self,
        base_url: str,
        token: str | TokenSource | None,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
        sleep: Sleep | None = None,
    ) -> None:
        """Talk to *base_url* with bearer tokens from *token* (None for anonymous).

        Retryable failures are attempted again by *retry* (``score.attempts``); *sleep* replaces the
        real clock between attempts (tests).

        HTTP(S) proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``...).
        """
        headers = {"User-Agent": f"score-client/{__version__}"}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            transport=transport,
            auth=BearerAuth(as_source(token)),
            verify=verify,
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    def close(self) -> None:
        """Release connections."""
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        absent_ok: bool = False,
        upload_token: str | None = None,
        body: Any = None,
    ) -> httpx.Response:
        headers = {UPLOAD_TOKEN_HEADER: upload_token} if upload_token else None

        def once() -> httpx.Response:
            try:
                response = self._http.request(method, path, params=params, headers=headers, json=body)
            except httpx.HTTPError as exc:
                raise transport_error(exc, "the server", self._http.base_url) from exc
            if absent_ok and response.status_code in (404, 405) and not _is_error_body(response):
                return response  # the endpoint itself does not exist (an older server)
            if response.status_code >= 400:
                raise error_from_response(response)
            return response

        return with_retry(once, self._retry, self._sleep)

    def initiate_upload(
        self,
        object_id: str,
        size: int,
        md5: str | None,
        overwrite: bool,
        upload_token: str | None = None,
        sign_md5: bool = False,
    ) -> ObjectSpecification:
        """``POST /upload/{id}/uploads``; *upload_token* makes this client the upload's owner.

        With *sign_md5* (and *md5*) a one-part plan comes back with its URL signed for *md5* and
        ``etagIsMd5`` set; an older server ignores the parameter and leaves ``etagIsMd5`` out.
        """
        params: dict[str, Any] = {"fileSize": size, "overwrite": str(overwrite).lower()}
        if md5:
            params["md5"] = md5
            if sign_md5:
                params["signMd5"] = "true"
        r = self._call("POST", f"/upload/{object_id}/uploads", params, upload_token=upload_token)
        return _parsed(r, ObjectSpecification.parse)

    def upload_status(self, object_id: str, size: int, upload_token: str | None = None) -> UploadProgress:
        """``GET /upload/{id}/status``."""
        r = self._call("GET", f"/upload/{object_id}/status", {"fileSize": size}, upload_token=upload_token)
        return _parsed(r, UploadProgress.parse)

    def confirm_part(
        self, object_id: str, upload_id: str, number: int, md5: str, etag: str, upload_token: str | None = None
    ) -> None:
        """``POST /upload/{id}/parts``."""
        params = {"uploadId": upload_id, "partNumber": number, "md5": md5, "etag": etag}
        self._call("POST", f"/upload/{object_id}/parts", params, upload_token=upload_token)

    def part_url(
        self, object_id: str, upload_id: str, number: int, md5: str, upload_token: str | None = None
    ) -> PartUrl | None:
        """``GET /upload/{id}/parts/url``: a URL bound to the part's MD5; None from a server without it."""
        params = {"uploadId": upload_id, "partNumber": number, "md5": md5}
        r = self._call("GET", f"/upload/{object_id}/parts/url", params, absent_ok=True, upload_token=upload_token)
        if r.status_code >= 400:
            return None
        return _parsed(r, PartUrl.parse)

    def delete_part(self, object_id: str, upload_id: str, number: int, upload_token: str | None = None) -> None:
        """``DELETE /upload/{id}/parts``."""
        self._call(
            "DELETE",
            f"/upload/{object_id}/parts",
            {"uploadId": upload_id, "partNumber": number},
            upload_token=upload_token,
        )

    def cancel_upload(self, object_id: str, upload_token: str | None = None, upload_id: str | None = None) -> None:
        """``DELETE /upload/{id}``: abort the object's upload in progress (only *upload_id* when given, so that a
        client never cancels an upload that replaced its own) and delete its state.

        Raises:
            NotFoundError: no such upload of the object is in progress.
        """
        params = {"uploadId": upload_id} if upload_id else None
        self._call("DELETE", f"/upload/{object_id}", params, upload_token=upload_token)

    def finalize_upload(
        self,
        object_id: str,
        upload_id: str,
        md5: str | None,
        parts_md5: str | None = None,
        upload_token: str | None = None,
    ) -> ObjectSpecification | None:
        """``POST /upload/{id}`` (idempotent, so safe to retry): the finished object's spec (None from Score).

        *parts_md5* (``md5(concat(part md5s))-N``) makes the server refuse to finish from parts that are not ours.
        """
        params = {"uploadId": upload_id}
        if md5:
            params["md5"] = md5
        if parts_md5:
            params["partsMd5"] = parts_md5
        r = self._call("POST", f"/upload/{object_id}", params, upload_token=upload_token)
        if not r.content.strip():
            return None  # Score answers with an empty body
        return _parsed(r, ObjectSpecification.parse)

    def object_exists(self, object_id: str) -> bool:
        """``GET /upload/{id}``."""
        return bool(self._call("GET", f"/upload/{object_id}").json())

    def download_spec(
        self, object_id: str, offset: int = 0, length: int = -1, external: bool = False
    ) -> ObjectSpecification:
        """``GET /download/{id}``."""
        params = {"offset": offset, "length": length, "external": str(external).lower()}
        r = self._call("GET", f"/download/{object_id}", params)
        return _parsed(r, ObjectSpecification.parse)

    def download_specs(self, object_ids: Sequence[str]) -> dict[str, ObjectSpecification | e.ScoreError] | None:
        """``POST /download/specs`` (ours): the whole-object specs of many objects in one call.

        Returns:
            Each object's spec, or the error its own ``GET /download/{id}`` would raise; None when the
            server has no such endpoint (Score 5.x, an older score-server): ask object by object.
        """
        try:
            r = self._call("POST", "/download/specs", body={"objectIds": list(object_ids)})
        except e.ScoreError as exc:
            if isinstance(exc, e.NotFoundError) or type(exc) is e.ScoreError:  # 404, 405: no such endpoint
                return None
            raise
        answer = _parsed(r, DownloadSpecs.parse)
        found: dict[str, ObjectSpecification | e.ScoreError] = {s.objectId: s for s in answer.specs}
        for err in answer.errors:
            found[err.objectId] = _error_class(err.code, err.status)(printable(err.message), retryable=err.retryable)
        return found

    def object_url(self, object_id: str) -> tuple[str, datetime | None]:
        """One pre-signed URL of the whole object (``external=true``) and when it expires.

        Raises:
            NotFoundError: the server returned no URL.
        """
        url, expires, _ = self.whole_object(object_id)
        return url, expires

    def whole_object(self, object_id: str) -> tuple[str, datetime | None, int]:
        """:meth:`object_url`, and the object's size.

        Raises:
            NotFoundError: the server returned no URL.
        """
        spec = self.download_spec(object_id, external=True)
        url = spec.parts[0].url if spec.parts else None
        if not url:
            raise e.NotFoundError(f"the server returned no URL for {object_id}")
        return url, spec.urlsExpireAt, spec.objectSize

    def listing(self) -> list[ObjectInfoOut]:
        """``GET /listing``: the objects the token may read, with size and last-modified time."""
        r = self._call("GET", "/listing")
        return _parsed(r, _listing)

    def ping(self) -> str:
        """``GET /download/ping``: a signed URL of the sentinel object."""
        return self._call("GET", "/download/ping").text
