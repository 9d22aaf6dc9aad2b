"""The embedded identity: a signing key kept in the data directory, its JWKS, and token minting.

Used when no external identity provider is configured, so a fresh install works at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from score.domain.atomic_file import write_atomic

KEY_FILE = "jwt-signing-key.pem"
ALGORITHM = "ES256"


class EmbeddedIssuer:
    """An ES256 key pair on disk (private key mode 0600)."""

    def __init__(self, secrets_dir: Path) -> None:
        """Load the key from *secrets_dir*, creating it on first use."""
        path = secrets_dir / KEY_FILE
        secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_atomic(path, pem, mode=0o600, replace=False)  # first writer wins when two servers start together
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key")  # noqa: TRY004  a key file of the wrong kind is a configuration error, not a programming one
        self._private = loaded
        self.public_key = loaded.public_key()
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(der).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS document."""
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.public_key))
        jwk.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}

    def mint(
        self,
        *,
        issuer: str,
        audience: str | None,
        scopes: Sequence[str],
        ttl: timedelta,
        subject: str = "score-admin",
        now: datetime | None = None,
    ) -> str:
        """Sign a token carrying *scopes* for *ttl*."""
        t = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject,
            "iat": int(t.timestamp()),
            "exp": int((t + ttl).timestamp()),
            "scope": " ".join(scopes),
            "jti": secrets.token_hex(8),
        }
        if audience:
            claims["aud"] = audience
        return jwt.encode(claims, self._private, algorithm=ALGORITHM, headers={"kid": self.kid})
