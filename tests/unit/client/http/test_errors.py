"""The error vocabulary: HTTP statuses, the wire round trip, exit codes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import httpx
import pytest

from score.cli import exit_codes
from score.client.http.metadata_api import MetadataApi
from score.client.http.server_api import error_from_response
from score.client.http.signed_urls import classify_store_refusal
from score.client.http.tokens import jwt_expired
from score.domain import errors as e
from score.server.errors import error_response, status_for

EXPECTED_STATUS = {
    e.InvalidRequestError: 400,
    e.RangeNotSatisfiableError: 416,
    e.UnauthenticatedError: 401,
    e.ForbiddenError: 403,
    e.SignatureError: 403,
    e.UrlExpiredError: 403,
    e.NotFoundError: 404,
    e.ConflictError: 409,
    e.AnalysisStateError: 400,
    e.IntegrityError: 422,
    e.UpstreamUnavailableError: 503,
    e.DiskSpaceError: 507,
}


@pytest.mark.parametrize(("cls", "status"), list(EXPECTED_STATUS.items()))
def test_status_of_each_caller_error(cls: type[e.ScoreError], status: int) -> None:
    assert status_for(cls("x")) == status


def test_unknown_subclass_inherits_its_parents_status() -> None:
    class SizeMismatch(e.IntegrityError):
        pass

    assert status_for(SizeMismatch("x")) == 422


def test_error_codes_are_unique() -> None:
    codes = [c.code for c in e.ALL_ERRORS]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", list(EXPECTED_STATUS))
def test_server_body_round_trips_to_the_same_client_error(cls: type[e.ScoreError]) -> None:
    resp = error_response(cls("something is wrong"))
    assert resp.status_code == EXPECTED_STATUS[cls]
    client_side = error_from_response(httpx.Response(resp.status_code, content=bytes(resp.body)))
    assert type(client_side) is cls
    assert client_side.message == "something is wrong"
    assert client_side.retryable == (cls is e.UpstreamUnavailableError)


def test_401_carries_www_authenticate() -> None:
    assert error_response(e.UnauthenticatedError("no")).headers["WWW-Authenticate"] == "Bearer"
    assert "WWW-Authenticate" not in error_response(e.ForbiddenError("no")).headers


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (502, e.UpstreamUnavailableError),
        (429, e.UpstreamUnavailableError),
        (404, e.NotFoundError),
        (409, e.ConflictError),
    ],
)
def test_non_json_errors_map_by_status(status: int, cls: type[e.ScoreError]) -> None:
    err = error_from_response(httpx.Response(status, text="<html>gateway</html>"))
    assert type(err) is cls
    assert err.retryable == (cls is e.UpstreamUnavailableError)


def test_s3_xml_refusals_are_classified() -> None:
    expired = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    assert isinstance(classify_store_refusal(403, expired), e.UrlExpiredError)
    digest = b"<Error><Code>BadDigest</Code></Error>"
    assert isinstance(classify_store_refusal(400, digest), e.IntegrityError)
    err = classify_store_refusal(400, b"<Error><Code>RequestTimeout</Code></Error>")
    assert isinstance(err, e.InvalidRequestError) and err.retryable


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (e.UnauthenticatedError("x"), exit_codes.AUTH),
        (e.UrlExpiredError("x"), exit_codes.AUTH),
        (e.NotFoundError("x"), exit_codes.NOT_FOUND),
        (e.IntegrityError("x"), exit_codes.INTEGRITY),
        (e.UpstreamUnavailableError("x"), exit_codes.UPSTREAM),
        (e.ConflictError("x"), exit_codes.CONFLICT),
        (e.RangeNotSatisfiableError("x"), exit_codes.USAGE),
        (e.ConfigError("x"), exit_codes.USAGE),
        (e.ResumeStateError("x"), exit_codes.FAILURE),
        (e.DiskSpaceError("x"), exit_codes.DISK_SPACE),
    ],
)
def test_exit_codes(exc: e.ScoreError, code: int) -> None:
    assert exit_codes.exit_code_for(exc) == code


def test_a_full_server_store_is_507_and_never_retried() -> None:
    """A 507 (our JSON or a bare one) is a disk-space error the client does not retry: retrying cannot free space."""
    body = error_response(e.DiskSpaceError("the server's store is out of disk space"))
    assert body.status_code == 507
    ours = error_from_response(httpx.Response(507, content=body.body))
    bare = error_from_response(httpx.Response(507, text="<html>Insufficient Storage</html>"))
    for err in (ours, bare, classify_store_refusal(507, bytes(body.body))):
        assert isinstance(err, e.DiskSpaceError) and not err.retryable
        assert exit_codes.exit_code_for(err) == exit_codes.DISK_SPACE


def test_a_full_server_store_is_not_blamed_on_the_output_dir() -> None:
    """The hint after a 507 spoke of --output-dir, as if the client's disk were full."""
    body = error_response(e.DiskSpaceError("the server's store is out of disk space"))
    for err in (
        error_from_response(httpx.Response(507, content=body.body)),
        error_from_response(httpx.Response(507, text="<html>Insufficient Storage</html>")),
    ):
        hint = exit_codes.hint_for(err)
        assert hint is not None and "server's store is full" in hint and "--output-dir" not in hint
    local = exit_codes.hint_for(e.DiskSpaceError("the output file system is full"))
    assert local is not None and "--output-dir" in local


def test_store_refusals_are_read_by_their_xml_code() -> None:
    azure = (
        b"<Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.</Message>"
        b"<AuthenticationErrorDetail>Signed expiry time [Mon, 01 Jan 2024] has expired</AuthenticationErrorDetail>"
        b"</Error>"
    )
    assert isinstance(classify_store_refusal(403, azure), e.UrlExpiredError)
    assert isinstance(classify_store_refusal(403, b"<Error><Code>ExpiredToken</Code></Error>"), e.UrlExpiredError)
    # a DTD is refused, so its entity cannot smuggle a code in; nor does a code in a message count
    dtd = b'<!DOCTYPE Error [<!ENTITY c "ExpiredToken">]><Error><Code>&c;</Code></Error>'
    assert not isinstance(classify_store_refusal(403, dtd), e.UrlExpiredError)
    digest_in_message = b"<Error><Code>InvalidArgument</Code><Message>not a BadDigest</Message></Error>"
    assert not isinstance(classify_store_refusal(400, digest_in_message), e.IntegrityError)


def _jwt(claims: dict[str, object]) -> str:
    """A JWT with *claims* (its signature is never checked on the client)."""
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.c2ln"


def test_a_401_to_an_expired_jwt_needs_no_hint() -> None:
    """Outside-in trial, issue 24: the server's "has expired ...; get a new one" got the AUTH hint after it."""
    body = {"code": "unauthenticated", "message": "the access token has expired; get a new one", "retryable": False}

    def refused(token: str) -> e.ScoreError:
        request = httpx.Request("GET", "http://score.test/download/x", headers={"Authorization": f"Bearer {token}"})
        return error_from_response(httpx.Response(401, json=body, request=request))

    expired = refused(_jwt({"exp": time.time() - 60}))
    assert type(expired) is e.UnauthenticatedError and expired.reason == e.EXPIRED_TOKEN
    assert exit_codes.hint_for(expired) is None and exit_codes.exit_code_for(expired) == exit_codes.AUTH
    for token in (_jwt({"exp": time.time() + 60}), _jwt({"sub": "x"}), "an-api-key", "a.b.c"):
        other = refused(token)
        assert other.reason is None and exit_codes.hint_for(other) == exit_codes.HINTS[exit_codes.AUTH], token
    assert not jwt_expired(_jwt({"exp": True})) and jwt_expired(_jwt({"exp": 10}), now=11)


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda api: api.submit("XYZ", {}), "check the study id"),
        (lambda api: api.analysis("XYZ", "AN-1"), "check the study id and the analysis id"),
        (lambda api: api.set_state("XYZ", "AN-1", "publish"), "check the study id and the analysis id"),
    ],
    ids=["submit", "analysis", "publish"],
)
def test_a_metadata_404_hints_at_what_was_not_found(call: Callable[[MetadataApi], object], hint: str) -> None:
    """Outside-in trial, issue 24: "(check the object id)" followed a study or an analysis not found."""
    body = {"code": "not_found", "message": "not found here", "retryable": False}
    api = MetadataApi(
        "http://song.test", "tok", transport=httpx.MockTransport(lambda _r: httpx.Response(404, json=body))
    )
    with pytest.raises(e.NotFoundError) as caught:
        call(api)
    assert exit_codes.hint_for(caught.value) == hint
    assert exit_codes.exit_code_for(caught.value) == exit_codes.NOT_FOUND
    assert exit_codes.hint_for(e.NotFoundError("object x not found")) == "check the object id"
