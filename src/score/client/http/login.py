"""``score-client login``: the OAuth2 device authorization grant (RFC 8628).

The user opens a URL on any device and enters a code; meanwhile the client polls the token
endpoint. The tokens go to the profile's token file, from which later commands renew themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from score.client.http.tokens import DEVICE_GRANT, ProviderRefusal, post_token, token_endpoint
from score.domain import errors as e

DEFAULT_INTERVAL = 5  # seconds, RFC 8628 section 3.2, when the provider does not say


def device_login(
    http: httpx.Client,
    issuer: str,
    client_id: str,
    scope: str,
    show: Callable[[str], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, dict[str, Any]]:
    """Run the device flow; return the token endpoint and its answer (access and refresh token).

    Raises:
        ConfigError: the provider does not offer the device flow.
        UnauthenticatedError: the user refused, or the code expired before they signed in.
    """
    doc = token_endpoint(http, issuer)
    device_url = doc.get("device_authorization_endpoint")
    if not isinstance(device_url, str):
        raise e.ConfigError(f"{issuer} does not offer the OAuth2 device flow (no device_authorization_endpoint)")
    try:
        r = http.post(device_url, data={"client_id": client_id, "scope": scope})
    except httpx.HTTPError as exc:
        raise e.UpstreamUnavailableError(f"cannot reach {device_url}: {type(exc).__name__}") from exc
    try:
        start: Any = r.json()
    except ValueError:
        start = {}
    if r.status_code != 200 or not isinstance(start, dict) or "device_code" not in start:
        error = f"{start.get('error', '')}: {start.get('error_description', '')}" if isinstance(start, dict) else ""
        raise e.UnauthenticatedError(f"the identity provider refused the device login: HTTP {r.status_code} {error}")
    show(f"To sign in, open {start['verification_uri']} and enter the code {start['user_code']}")
    if start.get("verification_uri_complete"):
        show(f"  or open {start['verification_uri_complete']}")
    show("Waiting for you to sign in...")
    interval = float(start.get("interval") or DEFAULT_INTERVAL)
    deadline = clock() + float(start.get("expires_in") or 600)
    token_url = str(doc["token_endpoint"])
    form = {"grant_type": DEVICE_GRANT, "device_code": str(start["device_code"]), "client_id": client_id}
    while clock() < deadline:
        sleep(interval)
        try:
            return token_url, post_token(http, token_url, form)
        except ProviderRefusal as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5
                continue
            if exc.error == "access_denied":
                raise e.UnauthenticatedError("the sign-in was refused") from None
            if exc.error == "expired_token":
                break
            raise
    raise e.UnauthenticatedError("the code expired before the sign-in was completed; run score-client login again")
