"""Audit trail: which client IP is believed, and what one line holds (never a token or URL)."""

from __future__ import annotations

import json
import logging

import pytest

from score.domain.model import AuditEvent
from score.observability.audit import (
    CURRENT_REQUEST,
    LogAuditor,
    RequestInfo,
    client_ip,
    forwarded_request_id,
    parse_networks,
)

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # an untrusted peer cannot claim another address
        ("10.1.2.3", "198.51.100.7", "198.51.100.7"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9", "198.51.100.7"),  # right-most untrusted hop
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("10.1.2.3", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip(peer: str, xff: str | None, expected: str) -> None:
    assert client_ip(peer, xff, PROXIES) == expected


@pytest.mark.parametrize(
    ("peer", "value", "expected"),
    [
        ("10.1.2.3", b"0f3c9a1e2b7d4c5e8f9a0b1c2d3e4f50", "0f3c9a1e2b7d4c5e8f9a0b1c2d3e4f50"),  # nginx $request_id
        ("10.1.2.3", b"5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01", "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"),
        ("203.0.113.9", b"chosen-by-the-caller", None),  # not from a trusted proxy: the server's own id
        ("10.1.2.3", None, None),
        ("10.1.2.3", b"", None),
        ("10.1.2.3", b"x" * 65, None),
        ("10.1.2.3", b"two words", None),
        ("10.1.2.3", b"id\n", None),
        ("10.1.2.3", b'id","level":"ERROR', None),
        ("10.1.2.3", "caf\u00e9".encode("latin-1"), None),
    ],
)
def test_request_id_is_believed_only_from_trusted_proxies_and_only_when_safe(
    peer: str, value: bytes | None, expected: str | None
) -> None:
    """Issue 20, defect 9: any peer could choose the request id its requests were logged under."""
    assert forwarded_request_id(peer, value, PROXIES) == expected


def test_bad_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])


def test_audit_line_fields(caplog: pytest.LogCaptureFixture) -> None:
    token = CURRENT_REQUEST.set(RequestInfo("req-1", "198.51.100.7"))
    try:
        with caplog.at_level(logging.INFO, logger="score.audit"):
            LogAuditor().record(
                AuditEvent(
                    action="url:download",
                    object_id="oid",
                    decision="issued",
                    subject="alice",
                    token_hash="abc123",
                    study="ABC",
                    byte_range="bytes=0-99",
                )
            )
    finally:
        CURRENT_REQUEST.reset(token)
    line = json.loads(caplog.records[-1].getMessage())
    assert line["type"] == "audit"
    assert {
        k: line[k]
        for k in ("request_id", "client_ip", "subject", "token", "object_id", "study", "action", "range", "decision")
    } == {
        "request_id": "req-1",
        "client_ip": "198.51.100.7",
        "subject": "alice",
        "token": "abc123",
        "object_id": "oid",
        "study": "ABC",
        "action": "url:download",
        "range": "bytes=0-99",
        "decision": "issued",
    }


def test_redaction_hides_bearer_tokens_but_keeps_our_messages_readable() -> None:
    from score.observability.logging import redact

    assert redact("Authorization: Bearer eyJhbGciOi.abc-def_123") == "Authorization: Bearer <redacted>"
    assert redact("bearer sk_live_0123456789") == "bearer <redacted>"
    assert redact("a bearer token is required") == "a bearer token is required"
