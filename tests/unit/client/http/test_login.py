"""The device login (RFC 8628) against a fake identity provider (httpx.MockTransport) and a fake clock."""

from __future__ import annotations

import httpx
import pytest

from score.client.http.login import device_login
from score.domain import errors as e

ISSUER = "https://idp.test/realms/r"


def provider(answers: list[dict[str, str]], device: bool = True) -> httpx.Client:
    """Discovery, a device code, then *answers* to the token polls in turn."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            doc = {"token_endpoint": f"{ISSUER}/token"}
            if device:
                doc["device_authorization_endpoint"] = f"{ISSUER}/device"
            return httpx.Response(200, json=doc)
        if request.url.path.endswith("/device"):
            start = {"device_code": "dc", "user_code": "ABCD", "verification_uri": "https://idp.test/d", "interval": 1}
            return httpx.Response(200, json=start)
        answer = answers.pop(0)
        return httpx.Response(200 if "access_token" in answer else 400, json=answer)

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_the_client_polls_until_the_user_signs_in_and_slows_down_when_asked() -> None:
    shown: list[str] = []
    waits: list[float] = []
    http = provider([{"error": "authorization_pending"}, {"error": "slow_down"}, {"access_token": "t"}])
    url, tokens = device_login(http, ISSUER, "cli", "openid", shown.append, sleep=waits.append, clock=lambda: 0.0)
    assert url == f"{ISSUER}/token" and tokens["access_token"] == "t"
    assert waits == [1.0, 1.0, 6.0] and "ABCD" in shown[0]


def test_a_refusal_an_expired_code_and_a_provider_without_the_device_flow() -> None:
    with pytest.raises(e.UnauthenticatedError, match="refused"):
        device_login(provider([{"error": "access_denied"}]), ISSUER, "cli", "openid", print, sleep=lambda _: None)
    with pytest.raises(e.UnauthenticatedError, match="expired"):
        device_login(provider([{"error": "expired_token"}]), ISSUER, "cli", "openid", print, sleep=lambda _: None)
    with pytest.raises(e.ConfigError, match="device flow"):
        device_login(provider([], device=False), ISSUER, "cli", "openid", print)
