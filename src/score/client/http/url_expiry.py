"""When a pre-signed URL expires, read from the URL itself (S3 SigV4, GCS V4, Azure SAS).

Stores word an expired signature differently (Azurite answers a bare ``AuthorizationFailure``),
so a 403 on a URL whose own expiry has passed is taken as "expired": the client then asks the
server for a fresh URL instead of failing (Score's client fails here, and mixes up S3 and Azure).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from score.domain.errors import UrlExpiredError

_STAMP = "%Y%m%dT%H%M%SZ"


def expired_too_often(part_number: int, times: int) -> UrlExpiredError:
    """The error that ends a part whose fresh URLs the store refused *times* times in a row as expired
    (``score.attempts.UrlRefresh.exhausted``): refreshing again would loop.
    """
    return UrlExpiredError(
        f"part {part_number}: the store refused {times} fresh URLs in a row as expired; the clocks of the "
        "server and the store may disagree, or the URL lifetime (SCORE_UPLOAD_URL_TTL / "
        "SCORE_DOWNLOAD_URL_TTL on the server) is shorter than a part takes to reach the store"
    )


def url_expiry(url: str) -> datetime | None:
    """The moment *url* stops being valid, or None when it does not say."""
    query = {k.lower(): v for k, v in parse_qsl(urlsplit(url).query)}
    try:
        for prefix in ("x-amz-", "x-goog-"):
            if f"{prefix}date" in query and f"{prefix}expires" in query:
                start = datetime.strptime(query[f"{prefix}date"], _STAMP).replace(tzinfo=UTC)
                return start + timedelta(seconds=int(query[f"{prefix}expires"]))
        if "se" in query and "sig" in query:
            return datetime.fromisoformat(query["se"])
        if "expires" in query and query["expires"].isdigit():  # SigV2
            return datetime.fromtimestamp(int(query["expires"]), UTC)
    except (ValueError, OverflowError):
        return None
    return None


def has_expired(url: str, now: datetime | None = None) -> bool:
    """True when *url* names an expiry that has passed."""
    expiry = url_expiry(url)
    return expiry is not None and expiry <= (now or datetime.now(UTC))
