"""Introspection of API keys: Ego's and RFC 7662's answers, the cache's TTL, exp cap and bound."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from score.auth.introspection import CompositeVerifier, IntrospectionVerifier, looks_like_jwt
from score.domain.errors import UnauthenticatedError, UpstreamUnavailableError


class _Endpoint:
    """Answers per token from ``answers`` (status, body); records the form field used."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.calls: list[dict[str, list[str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                owner.calls.append(form)
                token = (form.get("token") or form.get("access_token") or [""])[0]
                status, body = owner.answers.get(token, (400, {"error": "invalid_token"}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/introspect"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[_Endpoint]:
    e = _Endpoint()
    yield e
    e.httpd.shutdown()
    e.httpd.server_close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_rfc7662_and_ego_answers(endpoint: _Endpoint) -> None:
    clock = _Clock()
    endpoint.answers["k1"] = (200, {"active": True, "scope": "score.READ", "client_id": "c", "exp": clock.now + 600})
    endpoint.answers["ego"] = (200, {"scope": ["PROGRAMDATA-A.READ"], "user_name": "alice", "exp": clock.now + 600})
    endpoint.answers["off"] = (200, {"active": False})
    endpoint.answers["old"] = (200, {"active": True, "scope": "score.READ", "exp": clock.now - 1})
    v = IntrospectionVerifier(endpoint.url, clock=clock)
    assert v.verify_sync("k1").scopes == {"score.READ"}
    ego = v.verify_sync("ego")
    assert ego.subject == "alice" and ego.scopes == {"PROGRAMDATA-A.READ"}
    endpoint.answers["revoked"] = (200, {"scope": ["score.READ"], "revoked": True, "exp": clock.now + 600})
    endpoint.answers["invalid"] = (200, {"scope": ["score.READ"], "valid": False})
    endpoint.answers["err"] = (200, {"error": "invalid_token"})
    endpoint.answers["zero"] = (200, {"scope": ["score.READ"], "exp": 0})
    for token in ("off", "old", "unknown", "revoked", "invalid", "err", "zero"):
        with pytest.raises(UnauthenticatedError):
            v.verify_sync(token)


def test_token_field_name_is_configurable(endpoint: _Endpoint) -> None:
    endpoint.answers["k"] = (200, {"scope": "score.READ"})
    IntrospectionVerifier(endpoint.url, token_field="access_token").verify_sync("k")
    assert endpoint.calls[-1] == {"access_token": ["k"]}


def test_cache_ttl_exp_cap_and_bound(endpoint: _Endpoint) -> None:
    clock = _Clock()
    endpoint.answers["k"] = (200, {"active": True, "scope": "score.READ", "exp": clock.now + 5})
    v = IntrospectionVerifier(endpoint.url, cache_ttl=timedelta(seconds=30), cache_size=2, clock=clock)
    v.verify_sync("k")
    v.verify_sync("k")
    assert len(endpoint.calls) == 1  # cached
    clock.now += 6  # past the key's own exp, before the TTL: asked again, and now refused
    endpoint.answers["k"] = (200, {"active": False})
    with pytest.raises(UnauthenticatedError):
        v.verify_sync("k")
    assert len(endpoint.calls) == 2
    for t in ("a", "b", "c"):
        endpoint.answers[t] = (200, {"scope": "x"})
        v.verify_sync(t)
    calls = len(endpoint.calls)
    v.verify_sync("a")  # evicted by the bound of 2 entries: asked again
    assert len(endpoint.calls) == calls + 1


def test_endpoint_failures_are_upstream_errors(endpoint: _Endpoint) -> None:
    endpoint.answers["k"] = (500, {})
    with pytest.raises(UpstreamUnavailableError):
        IntrospectionVerifier(endpoint.url).verify_sync("k")
    endpoint.answers["k"] = (401, {"error": "invalid_client"})
    with pytest.raises(UpstreamUnavailableError, match="credentials") as info:
        IntrospectionVerifier(endpoint.url).verify_sync("k")
    assert not info.value.retryable
    with pytest.raises(UpstreamUnavailableError):
        IntrospectionVerifier("http://127.0.0.1:9/x", timeout=1).verify_sync("k")


def test_routing_between_jwt_and_api_keys() -> None:
    assert looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    assert not looks_like_jwt("FKODZvGrN5JDJtWJqV5SJwMysgEJHYApD")
    assert not looks_like_jwt("a.b.c")

    class _Jwt:
        async def verify(self, token: str) -> Any:
            raise UnauthenticatedError("jwt path")

    import anyio

    with pytest.raises(UnauthenticatedError, match="jwt path"):
        anyio.run(CompositeVerifier(_Jwt(), None).verify, "opaque-but-no-introspection")
