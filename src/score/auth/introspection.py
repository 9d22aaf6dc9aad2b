"""Opaque API keys checked by RFC 7662 token introspection, with a bounded, short-lived cache.

Works with a standard introspection endpoint (Keycloak, oidc-provider: ``POST token=…`` with
client credentials, answer ``{"active": true, "scope": "…", "exp": …}``) and with Ego's
``check_token`` (the token field name is configurable; Ego answers ``{"scope": [...], "exp": …}``
without ``active``). A result is cached for at most ``cache_ttl`` (and never past the key's
``exp``), so a revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import httpx

from score.auth.jwt import token_hash
from score.domain.errors import UnauthenticatedError, UpstreamUnavailableError
from score.domain.model import Principal
from score.domain.ports import TokenVerifier
from score.domain.principal import scopes_from_claims
from score.wire.upstream import json_object, unreachable

SERVICE = "the token introspection endpoint"


class IntrospectionVerifier:
    """Verifies opaque tokens at an introspection endpoint."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_field: str = "token",  # noqa: S107  the name of a JSON field, not a secret
        cache_ttl: timedelta = timedelta(seconds=30),
        cache_size: int = 10_000,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Ask *url*, authenticating as *client_id* / *client_secret* when given."""
        self._url = url
        self._auth = (client_id, client_secret or "") if client_id else None
        self._field = token_field
        self._ttl = cache_ttl.total_seconds()
        self._size = cache_size
        self._timeout = timeout
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, key: str) -> tuple[bool, Principal | None]:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return False, None
            until, principal = hit
            if until <= self._clock():
                del self._cache[key]
                return False, None
            self._cache.move_to_end(key)
            return True, principal

    def _remember(self, key: str, principal: Principal | None, exp: float | None) -> None:
        until = self._clock() + self._ttl
        if exp is not None:
            until = min(until, exp)
        with self._lock:
            self._cache[key] = (until, principal)
            self._cache.move_to_end(key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)

    def _ask(self, token: str) -> dict[str, Any]:
        try:
            r = httpx.post(self._url, data={self._field: token}, auth=self._auth, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise unreachable(SERVICE, exc) from exc
        if r.status_code in (400, 404):
            return {"active": False}  # Ego's check_token answers 400 for an unknown or expired token
        if r.status_code in (401, 403):
            raise UpstreamUnavailableError(
                "the introspection endpoint refused score-server's client credentials; check the configuration",
                retryable=False,
            )
        return json_object(r, SERVICE)

    def verify_sync(self, token: str) -> Principal:
        """Verify *token* (blocking).

        Raises:
            UnauthenticatedError: inactive, revoked, expired or unknown key.
            UpstreamUnavailableError: the endpoint could not be asked (retryable).
        """
        key = hashlib.sha256(token.encode()).hexdigest()
        hit, principal = self._cached(key)
        if not hit:
            data = self._ask(token)
            exp = data.get("exp")
            exp_f = float(exp) if isinstance(exp, int | float) else None
            # RFC 7662's "active", and the refusals Score honours from Ego and Keycloak's API-key
            # endpoint: an "error", "revoked": true, "valid": false, or exp 0.
            active = (
                data.get("active", True) is True
                and not data.get("error")
                and data.get("revoked") is not True
                and data.get("valid", True) is not False
                and (exp_f is None or (exp_f != 0 and exp_f > self._clock()))
            )
            principal = None
            if active:
                principal = Principal(
                    subject=str(data.get("sub") or data.get("user_name") or data.get("client_id") or "api-key"),
                    scopes=scopes_from_claims(data),
                    token_hash=token_hash(token),
                    expires_at=datetime.fromtimestamp(exp_f, UTC) if exp_f else None,
                )
            self._remember(key, principal, exp_f)
        if principal is None:
            raise UnauthenticatedError(
                "the API key is not valid (unknown, expired or revoked)", reason="invalid_api_key"
            )
        return principal

    async def verify(self, token: str) -> Principal:
        """Verify *token* off the event loop."""
        return await anyio.to_thread.run_sync(self.verify_sync, token)


def looks_like_jwt(token: str) -> bool:
    """True for a compact JWS (three base64url segments); API keys are anything else."""
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2]) and parts[0].startswith("eyJ")


class CompositeVerifier:
    """JWTs go to the JWT verifier, other tokens to introspection (when configured)."""

    def __init__(self, jwt_verifier: TokenVerifier, introspection: IntrospectionVerifier | None) -> None:
        """Route between the two verifiers."""
        self._jwt = jwt_verifier
        self._introspection = introspection

    async def verify(self, token: str) -> Principal:
        """Verify a bearer token of either kind."""
        if looks_like_jwt(token) or self._introspection is None:
            return await self._jwt.verify(token)
        return await self._introspection.verify(token)
