"""Access tokens for the client: a fixed one, or OAuth2 tokens that renew themselves.

A transfer can outlive its access token: :class:`OAuthTokens` renews a token shortly before it
expires (and at once when the server answers 401), with the refresh token from
``score-client login`` or with client credentials. Refresh tokens are kept in a file only the
user can read; no token is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from score.domain import errors as e
from score.domain.atomic_file import write_atomic

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class TokenSource(Protocol):
    """Where the bearer token of each request comes from."""

    def current(self) -> str | None:
        """The token to send now (renewed first if it is about to expire)."""

    def renew(self, rejected: str | None) -> str | None:
        """A new token after *rejected* was refused; None when none can be had."""


def checked_token(token: str | None) -> str | None:
    """*token* without the whitespace around it (the newline of a pasted token or of ``$(cat file)``);
    None when nothing is left.

    Raises:
        UnauthenticatedError: whitespace or control characters inside it (no HTTP header can carry them,
            and the error would otherwise quote the whole header, token included).
    """
    if token is None:
        return None
    token = token.strip()
    if any(c.isspace() or not c.isprintable() for c in token):
        raise e.UnauthenticatedError(
            "the access token has spaces or control characters inside it: copy it again, whole and on one line",
            reason=e.MALFORMED_TOKEN,
        )
    return token or None


@dataclass(frozen=True)
class StaticToken:
    """A token given as is (``ACCESSTOKEN``), without the whitespace around it; it cannot be renewed.

    Raises:
        UnauthenticatedError: see :func:`checked_token`.
    """

    token: str | None

    def __post_init__(self) -> None:
        """Check the token once."""
        object.__setattr__(self, "token", checked_token(self.token))

    def current(self) -> str | None:
        """The token."""
        return self.token

    def renew(self, rejected: str | None) -> str | None:
        """Nothing to renew with."""
        return None

    def __repr__(self) -> str:
        """Never the token."""
        return "StaticToken(<set>)" if self.token else "StaticToken(<none>)"


def as_source(token: str | TokenSource | None) -> TokenSource:
    """A token source for a plain token (or None) as well."""
    if token is None or isinstance(token, str):
        return StaticToken(token)
    return token


def jwt_expired(token: str, now: float | None = None) -> bool:
    """True when *token* is a JWT whose ``exp`` is before *now* (default: the time now).

    The claims are read without checking the signature: this only tells why a server refused the
    token (401), never whether it is valid. An opaque token (an API key) is never expired here.
    """
    pieces = token.split(".")
    if len(pieces) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4)))
    except (ValueError, binascii.Error):
        return False
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return False
    return exp < (time.time() if now is None else now)


class BearerAuth(httpx.Auth):
    """httpx authentication from a :class:`TokenSource`: one retry with a renewed token after a 401."""

    def __init__(self, source: TokenSource) -> None:
        """Authenticate with tokens from *source*."""
        self._source = source

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send; on 401, renew once and send again."""
        token = self._source.current()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = self._source.renew(token)
            if fresh and fresh != token:
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request


@dataclass(frozen=True)
class TokenCache:
    """Tokens from ``score-client login``, one JSON file per profile, readable by its owner only."""

    path: Path

    def load(self) -> dict[str, Any]:
        """The saved tokens ({} if none or unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        """Replace the file atomically, mode 0600."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, json.dumps(data).encode(), mode=0o600)

    def clear(self) -> None:
        """Forget the tokens."""
        self.path.unlink(missing_ok=True)


class ProviderRefusal(e.UnauthenticatedError):
    """The token endpoint said no; ``error`` is its OAuth2 error code (``invalid_grant``, ...)."""

    def __init__(self, error: str) -> None:
        super().__init__(f"the identity provider refused: {error}")
        self.error = error


def token_endpoint(http: httpx.Client, issuer: str) -> dict[str, Any]:
    """The issuer's OpenID discovery document (``token_endpoint``, ``device_authorization_endpoint``).

    Raises:
        UpstreamUnavailableError / ConfigError: unreachable, or not an OpenID provider.
    """
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        r = http.get(url)
    except httpx.HTTPError as exc:
        raise e.UpstreamUnavailableError(f"cannot reach the identity provider {issuer}: {type(exc).__name__}") from exc
    try:
        doc = r.json() if r.status_code == 200 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("token_endpoint"), str):
        raise e.ConfigError(f"{issuer} has no OpenID discovery document (HTTP {r.status_code}); check oidc_issuer")
    return doc


def post_token(
    http: httpx.Client, url: str, form: dict[str, str], secret: tuple[str, str] | None = None
) -> dict[str, Any]:
    """POST to a token endpoint (a confidential client authenticates with HTTP Basic, *secret*);
    the JSON answer, or an error without any token in its message.

    Raises:
        ProviderRefusal: the provider refused (its ``error`` code is kept).
        UpstreamUnavailableError: unreachable or 5xx.
    """
    try:
        r = http.post(url, data=form, auth=secret) if secret else http.post(url, data=form)
    except httpx.HTTPError as exc:
        raise e.UpstreamUnavailableError(f"cannot reach the token endpoint: {type(exc).__name__}") from exc
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code >= 500:
        raise e.UpstreamUnavailableError(f"the token endpoint answered HTTP {r.status_code}")
    if r.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        code = body.get("error", f"HTTP {r.status_code}") if isinstance(body, dict) else f"HTTP {r.status_code}"
        raise ProviderRefusal(str(code))
    return body


class OAuthTokens:
    """Access tokens from a refresh token or client credentials, renewed before they expire."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        issuer: str | None,
        token_url: str | None,
        client_id: str,
        client_secret: str | None = None,
        scope: str | None = None,
        cache: TokenCache | None = None,
        initial: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Nothing is fetched until a token is needed."""
        self._http = http
        self._issuer = issuer
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._cache = cache
        self._clock = clock
        self._lock = threading.Lock()
        saved = cache.load() if cache else {}
        same_client = saved.get("client_id") == client_id
        self._access: str | None = initial or (saved.get("access_token") if same_client else None)
        self._expires = float(saved.get("expires_at", 0)) if same_client and not initial else float("inf")
        self._lifetime = float(saved.get("lifetime", 0)) if same_client else 0.0
        self._refresh: str | None = saved.get("refresh_token") if same_client else None

    def __repr__(self) -> str:
        """Never a token."""
        return f"OAuthTokens(client_id={self._client_id!r}, refresh={'<set>' if self._refresh else '<none>'})"

    def _margin(self) -> float:
        return min(60.0, 0.25 * self._lifetime) if self._lifetime else 30.0

    def current(self) -> str | None:
        """A token valid for a while yet."""
        with self._lock:
            if self._access and self._clock() < self._expires - self._margin():
                return self._access
            return self._obtain()

    def renew(self, rejected: str | None) -> str | None:
        """A new token unless another thread already got one since *rejected*."""
        with self._lock:
            if self._access and self._access != rejected:
                return self._access
            return self._obtain()

    def _url(self) -> str:
        if self._token_url is None:
            if not self._issuer:
                raise e.ConfigError("token renewal needs oidc_issuer or token_url in the client settings")
            self._token_url = str(token_endpoint(self._http, self._issuer)["token_endpoint"])
        return self._token_url

    def _obtain(self) -> str:
        form: dict[str, str] = {} if self._secret else {"client_id": self._client_id}
        if self._refresh:
            answer = self._try({**form, "grant_type": "refresh_token", "refresh_token": self._refresh})
            if answer is None and not self._secret:
                raise e.UnauthenticatedError("the login has expired or was revoked; run score-client login again")
        else:
            answer = None
        if answer is None:
            if not self._secret:
                raise e.UnauthenticatedError(
                    "no valid access token: run score-client login, or set client_secret for client credentials"
                )
            if self._scope:
                form["scope"] = self._scope
            answer = post_token(self._http, self._url(), {**form, "grant_type": "client_credentials"}, self._basic())
        self.accept(answer)
        return str(self._access)

    def _basic(self) -> tuple[str, str] | None:
        return (self._client_id, self._secret) if self._secret else None

    def _try(self, form: dict[str, str]) -> dict[str, Any] | None:
        try:
            return post_token(self._http, self._url(), form, self._basic())
        except ProviderRefusal as exc:
            if exc.error == "invalid_grant":
                self._refresh = None
                return None
            raise

    def accept(self, answer: dict[str, Any]) -> None:
        """Take a token endpoint's answer (also the device flow's) and save it for later runs."""
        self._access = str(answer["access_token"])
        lifetime = float(answer.get("expires_in") or 300)
        self._lifetime = lifetime
        self._expires = self._clock() + lifetime
        self._refresh = str(answer.get("refresh_token") or self._refresh or "") or None
        if self._cache is not None:
            self._cache.save(
                {
                    "client_id": self._client_id,
                    "token_url": self._token_url,
                    "issuer": self._issuer,
                    "access_token": self._access,
                    "expires_at": self._expires,
                    "lifetime": lifetime,
                    "refresh_token": self._refresh,
                }
            )
