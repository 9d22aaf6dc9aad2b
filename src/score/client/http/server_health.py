"""The server's health as ``score-client info`` shows it: one ``GET /health``, never retried, with
the TLS trust, proxies and User-Agent of every other request of the client.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from score import __version__


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """What ``/health`` said, or why it could not be asked."""

    status: str  # the body's ``status`` (UP, DOWN...), else the HTTP status code
    version: str = "?"  # the server's version, "?" when it does not say
    unreachable: str | None = None  # the transport error's name (ConnectError...) when there was no answer


def probe_health(
    base_url: str,
    *,
    timeout: float,
    verify: ssl.SSLContext | bool = True,
    transport: httpx.BaseTransport | None = None,
) -> ServerHealth:
    """Ask *base_url*'s ``/health`` once, without a token (proxies come from the environment).

    Args:
        base_url: the server URL.
        timeout: seconds for each phase of the request.
        verify: the TLS trust (the client's CA bundle, or the system's CAs).
        transport: instead of the network (tests).

    Returns:
        The status and version the server states; any status code is an answer.
    """
    try:
        with httpx.Client(
            headers={"User-Agent": f"score-client/{__version__}"},
            timeout=timeout,
            verify=verify,
            transport=transport,
        ) as http:
            health = http.get(base_url.rstrip("/") + "/health")
    except httpx.HTTPError as exc:
        return ServerHealth("", unreachable=type(exc).__name__)
    body: object = {}
    if health.headers.get("content-type", "").startswith("application/json"):
        try:
            body = health.json()
        except ValueError:
            body = {}
    if not isinstance(body, dict):
        body = {}
    return ServerHealth(str(body.get("status", health.status_code)), str(body.get("version", "?")))
