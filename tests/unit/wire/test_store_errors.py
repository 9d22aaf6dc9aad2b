"""Object stores' XML error bodies: the ``<Code>`` is read, and anything else (a DTD above all) reads as None."""

from __future__ import annotations

import pytest

from score.wire.store_errors import StoreErrorBody, parse_error_body

S3_EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
    b"<Expires>2024-01-01T00:00:00Z</Expires><RequestId>1</RequestId></Error>"
)
AZURE_EXPIRED = (
    b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
    b"<Message>Server failed to authenticate the request.\nRequestId:1</Message>"
    b"<AuthenticationErrorDetail>Signed expiry time [Mon, 01 Jan 2024] has expired</AuthenticationErrorDetail></Error>"
)


def test_s3_body() -> None:
    body = parse_error_body(S3_EXPIRED)
    assert body == StoreErrorBody(
        "AccessDenied", {"Message": "Request has expired", "Expires": "2024-01-01T00:00:00Z", "RequestId": "1"}
    )
    assert body.message == "Request has expired"


def test_azure_body_with_a_byte_order_mark() -> None:
    body = parse_error_body(AZURE_EXPIRED)
    assert body is not None and body.code == "AuthenticationFailed"
    assert body.mentions("expired") and not body.mentions("nothing like it")


def test_text_is_stripped_and_only_the_roots_children_count() -> None:
    body = parse_error_body(b"<Error>\n  <Code> BadDigest </Code>\n  <Detail><Code>Inner</Code></Detail>\n</Error>")
    assert body is not None and body.code == "BadDigest"
    assert body.details == {}  # the inner Code is not the document's


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<Error><Code>AccessDenied</Code>",  # cut short
        b"<Error><Code>AccessDenied</Error>",  # malformed
        b"not xml at all",
        b'{"code": "not_found", "message": "x"}',  # our JSON
        b"<html><body>502 Bad Gateway</body></html>",
        b"<Other><Code>AccessDenied</Code></Other>",  # not an error document
        b"<Error><Message>no code</Message></Error>",
        b"<Error><Code>&undeclared;</Code></Error>",
    ],
)
def test_anything_else_reads_as_none(raw: bytes) -> None:
    assert parse_error_body(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b'<?xml version="1.0"?><!DOCTYPE Error [<!ENTITY c "ExpiredToken">]><Error><Code>&c;</Code></Error>',
        b'<!DOCTYPE Error SYSTEM "http://example.invalid/e.dtd"><Error><Code>ExpiredToken</Code></Error>',
        b'<!DOCTYPE Error [<!ENTITY x SYSTEM "file:///etc/passwd">]><Error><Code>&x;</Code></Error>',
        b"<!DOCTYPE Error><Error><Code>ExpiredToken</Code></Error>",  # even a harmless one
        (  # entity expansion
            b'<!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b"<Error><Code>&b;</Code></Error>"
        ),
    ],
)
def test_a_document_type_declaration_is_refused(raw: bytes) -> None:
    assert parse_error_body(raw) is None
