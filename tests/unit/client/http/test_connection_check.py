"""``--verify-connection`` as the Java client's ``StorageService.ping`` (issue 22): ``GET /download/ping``, then
the sentinel object's pre-signed URL it returns; asked once; a failure stops the command, naming the check."""

from __future__ import annotations

import ssl

import httpx
import pytest

from score.attempts import RetryPolicy
from score.client.http.connection_check import verify_connection
from score.client.http.server_api import ServerApi
from score.domain import errors as e

SENTINEL = "http://store.example/data/heliograph?X-Amz-Signature=secret-sig"


def _verify(_url: str) -> ssl.SSLContext:
    return ssl.create_default_context()


def _api(handler: httpx.MockTransport, token: str | None = "tok") -> ServerApi:
    return ServerApi("http://server.example", token, transport=handler, retry=RetryPolicy(attempts=1))


def test_ping_then_sentinel_url_without_the_token() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path == "/download/ping"
        return httpx.Response(200, text=SENTINEL)

    def store(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"score sentinel object\n")

    verify_connection(_api(httpx.MockTransport(server)), _verify, transport=httpx.MockTransport(store))
    assert [str(r.url) for r in seen] == ["http://server.example/download/ping", SENTINEL]
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert "Authorization" not in seen[1].headers  # the token never goes to the object store


def test_anonymous_ping_is_allowed() -> None:
    """Score's ping needs no token (``required = false``)."""

    def server(request: httpx.Request) -> httpx.Response:
        assert "Authorization" not in request.headers
        return httpx.Response(200, text=SENTINEL)

    store = httpx.MockTransport(lambda _r: httpx.Response(200, content=b"x"))
    verify_connection(_api(httpx.MockTransport(server), token=None), _verify, transport=store)


def test_store_refusal_stops_with_the_check_named_and_no_signature() -> None:
    server = httpx.MockTransport(lambda _r: httpx.Response(200, text=SENTINEL))
    store = httpx.MockTransport(lambda _r: httpx.Response(403, content=b"<Error><Code>AccessDenied</Code></Error>"))
    with pytest.raises(e.ScoreError) as caught:
        verify_connection(_api(server), _verify, transport=store)
    assert "could not verify the connection to the repository" in caught.value.message
    assert "--verify-connection false" in caught.value.message
    assert "secret-sig" not in caught.value.message
    assert not caught.value.retryable


def test_unreachable_server_is_asked_once() -> None:
    calls = []

    def server(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(e.UpstreamUnavailableError, match="could not verify the connection"):
        verify_connection(_api(httpx.MockTransport(server)), _verify)
    assert len(calls) == 1


def test_an_answer_that_is_not_a_url() -> None:
    server = httpx.MockTransport(lambda _r: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(e.UpstreamUnavailableError, match="not a URL"):
        verify_connection(_api(server), _verify)


def test_unreachable_store() -> None:
    server = httpx.MockTransport(lambda _r: httpx.Response(200, text=SENTINEL))

    def store(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(e.UpstreamUnavailableError, match="object store at http://store.example") as caught:
        verify_connection(_api(server), _verify, transport=httpx.MockTransport(store))
    assert "secret-sig" not in caught.value.message
