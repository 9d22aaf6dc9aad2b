"""score-server against a real OIDC provider (npm oidc-provider): discovery, JWKS, rotation, refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.kit.oidc_provider import OidcProvider, available
from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    """One provider for the module."""
    if not available():
        pytest.fail("the OIDC provider's npm packages are missing: run scripts/setup (scripts/test does)")
    provider = OidcProvider().start("k1")
    yield provider
    provider.stop()


def _server(root: Path, oidc: OidcProvider, **env: str) -> ServerProcess:
    base = {
        "SCORE_AUTH__OIDC_ISSUER": oidc.issuer,
        "SCORE_AUTH__AUDIENCE": "score",
        "SCORE_AUTH__JWKS_REFETCH_COOLDOWN": "0",
        "SCORE_AUTH__ALGORITHMS": '["RS256"]',
    }
    return ServerProcess(root / f"d{uuid.uuid4().hex[:6]}", free_port(), env={**base, **env}).start()


@pytest.fixture(scope="module")
def server(oidc: OidcProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """score-server whose tokens come from the provider."""
    srv = _server(tmp_path_factory.mktemp("oidc"), oidc)
    yield srv
    srv.stop()


def _initiate(srv: ServerProcess, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{srv.url}/upload/{uuid.uuid4()}/uploads", params={"fileSize": 10}, headers=headers)


def test_provider_tokens_carry_their_scopes(server: ServerProcess, oidc: OidcProvider) -> None:
    assert _initiate(server, oidc.token("score.WRITE")).status_code == 200
    denied = _initiate(server, oidc.token("score.READ"))
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert _initiate(server, None).status_code == 401
    assert server.log().count("identity provider keys fetched") == 1  # cached, not fetched per request


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_tokens_are_refused(server: ServerProcess, oidc: OidcProvider) -> None:
    good = oidc.token("score.WRITE")
    claims = jwt.decode(good, options={"verify_signature": False})
    claims["scope"] = "score.WRITE score.READ"
    none_alg = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    from cryptography.hazmat.primitives import serialization

    public = jwt.PyJWK(httpx.get(f"{oidc.issuer}/jwks").json()["keys"][0]).key
    public_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # the classic confusion attack: HMAC "signed" with the provider's public key
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    hs256 = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    head, _body, sig = good.split(".")
    tampered_body = f"{head}.{_b64(claims)}.{sig}"
    unknown_kid = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": "nope"})
    for token in (none_alg, hs256, tampered_body, unknown_kid, "not-a-jwt", good[:-4] + "AAAA"):
        r = _initiate(server, token)
        assert r.status_code == 401, (token[:20], r.text)
        assert r.json()["code"] == "unauthenticated"
        assert token not in server.log()


def test_wrong_audience_or_issuer_is_refused(oidc: OidcProvider, tmp_path: Path) -> None:
    other_aud = _server(tmp_path, oidc, SCORE_AUTH__AUDIENCE="another-service")
    try:
        assert _initiate(other_aud, oidc.token("score.WRITE")).status_code == 401
    finally:
        other_aud.stop()


def test_key_rotation_is_picked_up(oidc: OidcProvider, tmp_path: Path) -> None:
    srv = _server(tmp_path, oidc)
    try:
        assert _initiate(srv, oidc.token("score.WRITE")).status_code == 200
        oidc.restart("k2")  # the provider now signs with a new key
        assert _initiate(srv, oidc.token("score.WRITE")).status_code == 200
        assert srv.log().count("identity provider keys fetched") == 2
    finally:
        srv.stop()
        oidc.restart("k1")


def test_api_keys_by_introspection_and_revocation(oidc: OidcProvider, tmp_path: Path) -> None:
    srv = _server(
        tmp_path,
        oidc,
        SCORE_AUTH__INTROSPECTION_URL=oidc.introspection_url,
        SCORE_AUTH__INTROSPECTION_CLIENT_ID="svc",
        SCORE_AUTH__INTROSPECTION_CLIENT_SECRET="svc-secret",
        SCORE_AUTH__INTROSPECTION_CACHE_TTL="1",
    )
    try:
        key = oidc.api_key("score.WRITE")
        assert "." not in key  # opaque: not a JWT
        assert _initiate(srv, key).status_code == 200
        assert _initiate(srv, oidc.api_key("score.READ")).status_code == 403
        assert _initiate(srv, "made-up-api-key").status_code == 401
        assert _initiate(srv, oidc.token("score.WRITE")).status_code == 200  # JWTs still verified locally
        oidc.revoke(key)
        time.sleep(1.3)  # past the cache TTL: revocation is honoured
        r = _initiate(srv, key)
        assert r.status_code == 401 and "revoked" in r.json()["message"]
        assert key not in srv.log()
    finally:
        srv.stop()


def test_refused_introspection_credentials_are_a_server_error_not_a_user_one(
    oidc: OidcProvider, tmp_path: Path
) -> None:
    srv = _server(
        tmp_path,
        oidc,
        SCORE_AUTH__INTROSPECTION_URL=oidc.introspection_url,
        SCORE_AUTH__INTROSPECTION_CLIENT_ID="svc",
        SCORE_AUTH__INTROSPECTION_CLIENT_SECRET="wrong",
    )
    try:
        r = _initiate(srv, oidc.api_key("score.WRITE"))
        assert r.status_code == 503 and "credentials" in r.json()["message"]
    finally:
        srv.stop()
