"""The JWKS cache: TTL, refetch on an unknown kid at most once per cooldown, stale keys on outage;
and scopes from every claim shape (scope, scp, Ego's context.scope, Keycloak permissions)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from score.auth.jwks import JwksKeySet
from score.domain.errors import UnauthenticatedError, UpstreamUnavailableError
from score.domain.principal import scopes_from_claims


class _Jwks:
    """A stdlib HTTP server publishing a JWKS; counts fetches; can fail."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self.failing = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                if owner.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"keys": list(owner.keys.values())}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/jwks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add(self, kid: str) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        self.keys[kid] = {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture
def jwks() -> Iterator[_Jwks]:
    server = _Jwks()
    server.add("k1")
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_kid_refetches_at_most_once_per_cooldown(jwks: _Jwks) -> None:
    clock = _Clock()
    keys = JwksKeySet(
        jwks_url=jwks.url, cache_ttl=timedelta(hours=1), refetch_cooldown=timedelta(seconds=30), clock=clock
    )
    assert keys.key_for("k1") is not None and jwks.fetches == 1
    assert keys.key_for("k1") is not None and jwks.fetches == 1  # cached
    for _ in range(5):  # made-up kids within the cooldown: no fetch at all
        with pytest.raises(UnauthenticatedError):
            keys.key_for("forged")
    assert jwks.fetches == 1
    jwks.add("k2")  # the provider rotates
    clock.now += 31
    assert keys.key_for("k2") is not None and jwks.fetches == 2
    with pytest.raises(UnauthenticatedError):
        keys.key_for("forged")
    assert jwks.fetches == 2


def test_ttl_refresh_and_outage_keeps_known_keys(jwks: _Jwks) -> None:
    clock = _Clock()
    keys = JwksKeySet(jwks_url=jwks.url, cache_ttl=timedelta(seconds=60), clock=clock)
    keys.key_for("k1")
    clock.now += 61
    jwks.failing = True
    assert keys.key_for("k1") is not None  # stale keys keep working while the provider is down
    assert jwks.fetches == 2


def test_provider_down_from_the_start_is_retryable(jwks: _Jwks) -> None:
    jwks.failing = True
    keys = JwksKeySet(jwks_url=jwks.url)
    with pytest.raises(UpstreamUnavailableError) as info:
        keys.key_for("k1")
    assert info.value.retryable
    dead = JwksKeySet(issuer="http://127.0.0.1:9", timeout=1.0)
    with pytest.raises(UpstreamUnavailableError):
        dead.key_for("k1")


def test_token_without_kid_uses_the_only_key(jwks: _Jwks) -> None:
    keys = JwksKeySet(jwks_url=jwks.url)
    assert keys.key_for(None) is not None
    jwks.add("k2")
    many = JwksKeySet(jwks_url=jwks.url)
    with pytest.raises(UnauthenticatedError):
        many.key_for(None)


def test_scopes_from_every_claim_shape() -> None:
    claims = {
        "scope": "score.READ openid",
        "scp": ["PROGRAMDATA-A.READ"],
        "context": {"scope": ["PROGRAMDATA-B.WRITE"]},
        "authorization": {
            "permissions": [
                {"rsname": "score", "scopes": ["WRITE", "READ"]},
                {"rsname": "PROGRAMDATA-C", "scopes": ["READ"]},
                {"rsname": "", "scopes": ["X"]},
                "junk",
            ]
        },
    }
    assert scopes_from_claims(claims) == {
        "score.READ",
        "openid",
        "PROGRAMDATA-A.READ",
        "PROGRAMDATA-B.WRITE",
        "score.WRITE",
        "PROGRAMDATA-C.READ",
    }
    assert scopes_from_claims({"authorization": {"permissions": "bad"}}) == frozenset()
