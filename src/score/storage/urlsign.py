"""HMAC signatures for the local store's pre-signed URLs (pure; no I/O).

The signature covers the method, the key, every parameter that changes what the URL may do
(upload id, part number, offset, size, Content-MD5, range) and the expiry. A URL signed for
one of these cannot be reused for another.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote_plus

from score.domain.errors import SignatureError, UrlExpiredError

_PLAIN = re.compile(r"[A-Za-z0-9._~-]*")  # what urlencode never quotes


def encode_query(query: Mapping[str, str]) -> str:
    """``urllib.parse.urlencode(query)``, the same text, without quoting what needs no quoting (signatures,
    expiries and ranges never do): a download spec encodes one query per part.
    """
    return "&".join(
        f"{k if _PLAIN.fullmatch(k) else quote_plus(k)}={v if _PLAIN.fullmatch(v) else quote_plus(v)}"
        for k, v in query.items()
    )


SIGNED_PARAMS = ("uploadId", "partNumber", "offset", "size", "contentMd5", "range")
SIGNATURE_PARAM = "signature"
EXPIRES_PARAM = "expires"


@dataclass(frozen=True, slots=True)
class UrlSigner:
    """Signs and verifies local-store URLs with a secret key."""

    secret: bytes

    def _mac(self, method: str, key: str, params: Mapping[str, str], expires: str) -> str:
        canonical = "\n".join([method.upper(), key, *(f"{p}={params.get(p, '')}" for p in SIGNED_PARAMS), expires])
        return hmac.new(self.secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    def sign(self, method: str, key: str, params: Mapping[str, str], expires_at: datetime) -> dict[str, str]:
        """Return the query parameters (given ones plus expiry and signature) of a signed URL."""
        expires = str(int(expires_at.timestamp()))
        out = {k: v for k, v in params.items() if v != ""}
        out[EXPIRES_PARAM] = expires
        out[SIGNATURE_PARAM] = self._mac(method, key, out, expires)
        return out

    def verify(self, method: str, key: str, query: Mapping[str, str], now: datetime) -> None:
        """Check a request against its URL's signature and expiry.

        Raises:
            SignatureError: missing or wrong signature (tampered, other method, other key).
            UrlExpiredError: the signature is right but the URL has expired.
        """
        given = query.get(SIGNATURE_PARAM, "")
        expires = query.get(EXPIRES_PARAM, "")
        if not given or not expires.isdigit():
            raise SignatureError("the URL is not signed", reason="bad_signature")
        expected = self._mac(method, key, query, expires)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureError("the URL's signature does not match this request", reason="bad_signature")
        if int(expires) < int(now.astimezone(UTC).timestamp()):
            raise UrlExpiredError("the pre-signed URL has expired; ask the server for a new one", reason="expired_url")

    def verify_head(self, key: str, query: Mapping[str, str], now: datetime) -> None:
        """Check a HEAD: on a URL signed for HEAD, or for GET (as htsjdk and curl -I send it).

        A HEAD answers only the headers a GET of the same URL would (length, ETag), never content,
        so a GET URL's signature and expiry admit it too.

        Raises:
            SignatureError: signed for neither HEAD nor GET of this key (tampered, a PUT URL, another key).
            UrlExpiredError: the signature is right but the URL has expired.
        """
        try:
            self.verify("HEAD", key, query, now)
        except UrlExpiredError:
            raise
        except SignatureError:
            self.verify("GET", key, query, now)
