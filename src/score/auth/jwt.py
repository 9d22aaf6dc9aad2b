"""Bearer JWT verification: a PEM public key or a provider's JWKS, issuer, audience, expiry, algorithms."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import jwt

from score.auth.jwks import JwksKeySet
from score.auth.token_cache import VerifiedTokens, token_digest
from score.domain.errors import UnauthenticatedError
from score.domain.model import Principal
from score.domain.principal import scopes_from_claims

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


def token_hash(token: str) -> str:
    """A short, non-reversible identifier of a token for logs (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class JwtVerifier:
    """Verifies JWTs against a fixed public key or a JWKS endpoint."""

    def __init__(
        self,
        *,
        public_key: Any | None = None,
        keys: JwksKeySet | None = None,
        issuer: str | None,
        audience: str | None,
        algorithms: Sequence[str] = ("RS256", "ES256"),
        leeway: timedelta = timedelta(seconds=30),
        verified: VerifiedTokens | None = None,
    ) -> None:
        """Verify with *public_key* or with the provider's *keys* (exactly one); tokens once verified are
        remembered in *verified* (:class:`VerifiedTokens`, its own by default) until they expire.
        """
        if (public_key is None) == (keys is None):
            raise ValueError("give exactly one of public_key and keys")
        bad = [a for a in algorithms if a not in ALLOWED_ALGORITHMS]
        if bad:
            raise ValueError(f"algorithms not allowed: {bad}")
        self._key = public_key
        self._jwks = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._leeway = leeway
        self._verified = verified if verified is not None else VerifiedTokens()

    def _key_for(self, token: str) -> Any:
        if self._key is not None:
            return self._key
        assert self._jwks is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise UnauthenticatedError("the access token is not a JWT", reason="invalid_token") from exc
        if header.get("alg") not in self._algorithms:
            raise UnauthenticatedError(
                f"the token's algorithm {str(header.get('alg'))[:16]!r} is not allowed", reason="invalid_token"
            )
        kid = header.get("kid")
        return self._jwks.key_for(str(kid) if kid is not None else None)

    def verify_sync(self, token: str) -> Principal:
        """Verify *token* (blocking).

        Raises:
            UnauthenticatedError: malformed, forged, expired or for another audience/issuer.
        """
        digest = token_digest(token)
        known = self._verified.get(digest)
        if known is not None:
            return known
        try:
            key = self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            leeway = int(self._leeway.total_seconds())
            raise UnauthenticatedError(
                f"the access token has expired (it is accepted until {leeway} s past its expiry time, the "
                "clock-skew leeway SCORE_AUTH__LEEWAY); get a new one",
                reason="expired_token",
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthenticatedError(
                f"the access token is not valid ({type(exc).__name__})", reason="invalid_token"
            ) from exc
        exp = claims.get("exp")
        principal = Principal(
            subject=str(claims.get("sub") or claims.get("client_id") or "unknown"),
            scopes=scopes_from_claims(claims),
            token_hash=digest.hex()[:12],  # token_hash(token)
            expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None,
        )
        self._verified.put(digest, principal)
        return principal

    async def verify(self, token: str) -> Principal:
        """Verify *token*; a JWKS fetch runs off the event loop (a token verified before needs neither)."""
        if self._jwks is None or self._verified.get(token_digest(token)) is not None:
            return self.verify_sync(token)
        return await anyio.to_thread.run_sync(self.verify_sync, token)
