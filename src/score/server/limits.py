"""The cap on a request's head (request line + header fields): 431 with our JSON error body.

Two layers enforce one limit, ``max_header_bytes`` (``SCORE_MAX_HEADER_BYTES``):

* the HTTP protocol. score-server runs uvicorn's h11 implementation, whose parser refuses to
  buffer more than ``h11_max_incomplete_event_size`` bytes of an unfinished head, so a 64 MiB
  header is never read in full (httptools, uvicorn's default, has no such bound).
  :class:`HeadCappedH11Protocol` answers that refusal 431 instead of uvicorn's plain-text 400;
* the ASGI app. A head that arrives complete in one read can be up to one socket read over the
  cap before h11 sees it whole; :class:`HeaderLimitMiddleware` refuses it, so the limit is exact.

The protocol layer answers before any route or exception handler exists, which is why the 431
body is built here rather than by ``server/errors.py``.
"""

from __future__ import annotations

import logging

import h11
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from score.wire.schemas import ErrorBody

log = logging.getLogger("score.server")

STATUS = 431
REASON = b"Request Header Fields Too Large"


def too_large_body(limit_bytes: int) -> bytes:
    """The JSON error body of a 431."""
    body = ErrorBody(
        code="header_too_large", message=f"the request's headers exceed {limit_bytes} bytes", retryable=False
    )
    return body.model_dump_json().encode()


def head_bytes(scope: Scope) -> int:
    """Size of the request head as sent: request line and ``name: value`` lines with their CRLFs."""
    line = len(scope["method"]) + len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 12
    return line + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", [])) + 2


class HeaderLimitMiddleware:
    """Answer 431 to a request whose head is larger than *max_bytes*, without calling the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Wrap *app*."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http" or head_bytes(scope) <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        body = too_large_body(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": STATUS,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class HeadCappedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering 431 (not a plain-text 400) when the head outgrows the cap.

    Run it with ``h11_max_incomplete_event_size`` set to the cap: h11 then stops buffering there.
    """

    def send_400_response(self, msg: str) -> None:
        """Uvicorn's answer to an unparseable request; 431 when h11 gave up on an oversized head."""
        limit = self.config.h11_max_incomplete_event_size
        if limit is None or len(self.conn.trailing_data[0]) <= limit:
            super().send_400_response(msg)
            return
        log.warning("request head over %d bytes refused (431)", limit)
        body = too_large_body(limit)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=STATUS, headers=headers, reason=REASON),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()
