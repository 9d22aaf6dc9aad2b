"""Log and audit lines written without json.dumps are the same text json.dumps gives (issue 23)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from score.domain.model import AuditEvent
from score.observability.audit import CURRENT_REQUEST, LogAuditor, RequestInfo
from score.observability.logging import JsonFormatter, iso_ms, json_text


@pytest.mark.parametrize(
    "created",
    [0.0, 1.0, 1764561600.0, 1764561600.0005, 1764561600.9994999, 1764561600.9999996, 1764561600.123456, 2.5e9 + 0.25],
)
def test_iso_ms_is_datetimes_text(created: float) -> None:
    assert iso_ms(created) == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert iso_ms(created + 1) == datetime.fromtimestamp(created + 1, UTC).isoformat(timespec="milliseconds")


@pytest.mark.parametrize("value", ["plain", 'quo"te\\', "caf\u00e9 \u2028 \x00 \U0001f9ec", "", None, 3, 1.5, True])
def test_json_text_is_json_dumps(value: object) -> None:
    assert json_text(value) == json.dumps(value)


def test_a_line_without_fields_is_json_dumps_of_the_same_dict() -> None:
    record = logging.LogRecord("score.audit", logging.INFO, __file__, 1, 'a "msg" \u00e9', None, None)
    line = JsonFormatter().format(record)
    expected = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": "INFO",
        "logger": "score.audit",
        "msg": 'a "msg" \u00e9',
    }
    assert line == json.dumps(expected)


def test_an_audit_line_is_json_dumps_of_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    token = CURRENT_REQUEST.set(RequestInfo("rid", "10.0.0.1"))
    try:
        with caplog.at_level(logging.INFO, logger="score.audit"):
            LogAuditor().record(AuditEvent("url:download", "oid", "issued", 'sub"\u00e9', "abc", None, "", "0-9"))
    finally:
        CURRENT_REQUEST.reset(token)
    line = caplog.records[-1].getMessage()
    doc = json.loads(line)
    fields = {k: v for k, v in doc.items() if k != "ts"}
    assert fields == {
        "type": "audit",
        "request_id": "rid",
        "client_ip": "10.0.0.1",
        "subject": 'sub"\u00e9',
        "token": "abc",
        "object_id": "oid",
        "study": None,
        "action": "url:download",
        "range": "0-9",
        "decision": "issued",
        "reason": "",
    }
    assert line == json.dumps(doc)  # the same text, key order and spacing
