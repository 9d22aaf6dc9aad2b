"""The audit trail: one JSON line per authorization decision and per signed URL handed out.

Fields: ``ts``, ``request_id``, ``client_ip``, ``subject``, ``token`` (a short SHA-256 prefix,
never the token), ``object_id``, ``study``, ``action``, ``range``, ``decision``, ``reason``.
Never a URL or a signature. Lines go to the ``score.audit`` logger: to stderr with the other
logs by default, or only to the file named by ``SCORE_AUDIT_LOG``. Either way each line is one
``write(2)`` (``LineHandler``), and each process appends to the file through its own ``O_APPEND``
descriptor, so the workers of ``serve --workers N`` never interleave their lines.

The client IP is the TCP peer, unless the peer is one of the configured trusted proxies; then
it is the right-most ``X-Forwarded-For`` address that is not itself a trusted proxy.

The request id is the server's own, unless a trusted proxy sent an ``X-Request-Id`` of 1-64
letters, digits, ``.``, ``_``, ``:`` or ``-`` (nginx's ``$request_id``, a UUID): anyone else
could otherwise pick the id under which their requests are logged and audited.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from score.domain.model import AuditEvent
from score.observability.logging import LineHandler, iso_ms, json_text

log = logging.getLogger("score.audit")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the audit trail needs to know about the current request."""

    request_id: str = ""
    client_ip: str = ""


CURRENT_REQUEST: contextvars.ContextVar[RequestInfo] = contextvars.ContextVar("score_request", default=RequestInfo())  # noqa: B039  RequestInfo is frozen


def parse_networks(values: Sequence[str]) -> list[Network]:
    """Parse CIDRs or single addresses.

    Raises:
        ValueError: a value is not an address or network.
    """
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_ip(peer: str, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The caller's address, trusting ``X-Forwarded-For`` only when it comes from a trusted proxy."""
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed header: fall back to what we know
    return hops[0] if hops else peer


def forwarded_request_id(peer: str, value: bytes | None, proxies: Sequence[Network]) -> str | None:
    """The ``X-Request-Id`` *value* when a trusted proxy sent it and it is a safe token, else None."""
    if value is None or not _trusted(peer, proxies) or not _REQUEST_ID.fullmatch(value):
        return None
    return value.decode("ascii")


class LogAuditor:
    """Writes audit events as JSON lines to the ``score.audit`` logger."""

    def record(self, event: AuditEvent) -> None:
        """Write one line (with the current request's id and client IP)."""
        req = CURRENT_REQUEST.get()
        # json.dumps of the fields in this order, written out (a line costs a fifth as much)
        j = json_text
        line = (
            f'{{"ts": "{iso_ms(time.time())}", "type": "audit", "request_id": {j(req.request_id)}, '
            f'"client_ip": {j(req.client_ip)}, "subject": {j(event.subject)}, "token": {j(event.token_hash)}, '
            f'"object_id": {j(event.object_id)}, "study": {j(event.study)}, "action": {j(event.action)}, '
            f'"range": {j(event.byte_range)}, "decision": {j(event.decision)}, "reason": {j(event.reason)}}}'
        )
        log.info(line)


def configure_audit_file(path: Path | None) -> None:
    """Send audit lines only to *path* (appended, one write per line), or leave them with the other logs when None.

    Raises:
        OSError: *path* cannot be opened for writing.
    """
    if path is None:
        return
    handler = LineHandler.appending(path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for old in log.handlers:
        old.close()
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
