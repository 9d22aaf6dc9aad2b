"""``info``'s health probe: one GET /health, any status is an answer, a transport failure names itself."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from score import __version__
from score.client.http.server_health import ServerHealth, probe_health


def _probe(handler: Callable[[httpx.Request], httpx.Response]) -> ServerHealth:
    return probe_health("http://score.test/", timeout=1.0, transport=httpx.MockTransport(handler))


def test_the_body_states_status_and_version() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={"status": "UP", "version": "1.2.3"})

    assert _probe(handler) == ServerHealth("UP", "1.2.3")
    assert [str(r.url) for r in asked] == ["http://score.test/health"]  # once, never retried
    assert asked[0].headers["user-agent"] == f"score-client/{__version__}"
    assert "authorization" not in asked[0].headers


def test_a_body_that_is_not_json_gives_the_status_code() -> None:
    assert _probe(lambda _r: httpx.Response(503, text="<html>down</html>")) == ServerHealth("503", "?")
    bad_json = httpx.Response(200, content=b"{nope", headers={"content-type": "application/json"})
    assert _probe(lambda _r: bad_json) == ServerHealth("200", "?")
    assert _probe(lambda _r: httpx.Response(200, json=["UP"])) == ServerHealth("200", "?")


def test_no_answer_names_the_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert _probe(handler) == ServerHealth("", unreachable="ConnectError")
