"""Secrets out of text: URL signatures and bearer tokens (for logs, and for messages that quote a URL or a header)."""

from __future__ import annotations

import re

_SIGNATURE_PARAMS = re.compile(
    r"((?:signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|sig|X-Goog-Signature)=)[^&\s\"']+",
    re.IGNORECASE,
)
# "a bearer token is required" is prose, not a credential: the words that follow "bearer" in our messages stay
_BEARER = re.compile(r"(Bearer\s+)(?!(?:token|tokens|authentication|auth)\b)[A-Za-z0-9\-._~+/=]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove URL signatures and bearer tokens from *text*.

    The patterns run only on text that could match them: every signature parameter's name contains
    ``sig`` or ``x-amz-`` and is followed by ``=``, and a token follows ``bearer`` (most lines, audit
    lines among them, contain neither, and the two searches cost far more than these tests).
    """
    low = text.casefold()  # as the patterns' IGNORECASE: U+017F then reads as "s"
    if "=" in text and ("sig" in low or "x-amz-" in low):
        text = _SIGNATURE_PARAMS.sub(r"\1<redacted>", text)
    if "bearer" in low:
        text = _BEARER.sub(r"\1<redacted>", text)
    return text
