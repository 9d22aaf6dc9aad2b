"""Signing keys of an external identity provider: a JWKS URL or OIDC discovery, cached.

Keys are fetched once and kept for ``cache_ttl``. A token signed with an unknown ``kid`` (the
provider rotated its keys) triggers one refetch, but at most once per ``refetch_cooldown``, so a
stream of tokens with made-up key ids cannot turn the server into a load generator against the
provider. If a scheduled refresh fails, the keys already known stay in use until the provider
answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
from jwt import PyJWKSet

from score.domain.errors import UnauthenticatedError, UpstreamUnavailableError
from score.wire.upstream import json_object, unreachable

log = logging.getLogger("score.auth")

DISCOVERY_PATH = "/.well-known/openid-configuration"
SERVICE = "the identity provider"


def discovery_url(issuer: str) -> str:
    """The OIDC discovery document of *issuer*."""
    return issuer.rstrip("/") + DISCOVERY_PATH


class JwksKeySet:
    """Thread-safe cache of a provider's public keys by ``kid``."""

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        issuer: str | None = None,
        cache_ttl: timedelta = timedelta(minutes=5),
        refetch_cooldown: timedelta = timedelta(seconds=30),
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Use *jwks_url*, or find it through *issuer*'s discovery document (exactly one)."""
        if (jwks_url is None) == (issuer is None):
            raise ValueError("give exactly one of jwks_url and issuer")
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._ttl = cache_ttl.total_seconds()
        self._cooldown = refetch_cooldown.total_seconds()
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = httpx.get(url, timeout=self._timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise unreachable(SERVICE, exc) from exc
        return json_object(r, SERVICE)

    def _resolve_jwks_url(self) -> str:
        if self._jwks_url is not None:
            return self._jwks_url
        assert self._issuer is not None
        doc = self._get_json(discovery_url(self._issuer))
        if doc.get("issuer") != self._issuer:
            raise UpstreamUnavailableError("the discovery document names another issuer", retryable=False)
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise UpstreamUnavailableError("the discovery document has no jwks_uri", retryable=False)
        return jwks_uri

    def _fetch(self) -> None:
        self._attempted_at = self._clock()
        data = self._get_json(self._resolve_jwks_url())
        try:
            keyset = PyJWKSet.from_dict(data)
        except jwt.PyJWTError as exc:
            raise UpstreamUnavailableError("the identity provider's JWKS has no usable key") from exc
        self._keys = {str(k.key_id or ""): k.key for k in keyset.keys if k.public_key_use in (None, "sig")}
        self._fetched_at = self._attempted_at
        log.info("identity provider keys fetched", extra={"fields": {"kids": sorted(self._keys)}})

    def _pick(self, kid: str | None) -> Any | None:
        if kid is not None:
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    def key_for(self, kid: str | None) -> Any:
        """The public key for a token's ``kid`` (blocking: may fetch).

        Raises:
            UnauthenticatedError: no key with that id, even after an allowed refetch.
            UpstreamUnavailableError: the keys could never be fetched.
        """
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
            if stale:
                try:
                    self._fetch()
                except UpstreamUnavailableError:
                    if not self._keys:
                        raise
                    log.warning("identity provider keys could not be refreshed; using the cached ones")
            key = self._pick(kid)
            if key is None and self._attempted_at is not None and now - self._attempted_at >= self._cooldown:
                self._fetch()  # a rotation: the new key may be there now
                key = self._pick(kid)
            if key is None:
                raise UnauthenticatedError(
                    "the token's signing key is unknown to the identity provider", reason="unknown_key"
                )
            return key
