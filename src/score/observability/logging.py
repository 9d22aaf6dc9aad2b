"""Structured JSON logs to stderr, with secrets kept out.

Tokens appear only as short hashes; URLs lose their query strings (where signatures live).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

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


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields passed via ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render *record* as redacted JSON."""
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update({k: redact(v) if isinstance(v, str) else v for k, v in fields.items()})
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


def configure_server_logging(level: str) -> None:
    """Install the JSON formatter on the root logger (called by the server entry point only)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log prints full URLs, signatures included: we log requests ourselves.
    logging.getLogger("uvicorn.access").disabled = True
