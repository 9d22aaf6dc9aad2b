"""The client reads a signed URL's expiry from the URL (S3, GCS, Azure)."""

from __future__ import annotations

from datetime import UTC, datetime

from score.client.http.url_expiry import has_expired, url_expiry

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def test_expiry_of_each_signature_kind() -> None:
    s3 = "http://h/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261125T115900Z&X-Amz-Expires=30&X-Amz-Signature=ab"
    gcs = "http://h/b/k?X-Goog-Date=20261125T115900Z&X-Goog-Expires=120&X-Goog-Signature=cd"
    azure = "http://h/acct/c/k?se=2026-11-25T12%3A00%3A30Z&sp=r&sv=2026-10-06&sr=b&sig=x%2By"
    v2 = "http://h/b/k?AWSAccessKeyId=a&Expires=1795608000&Signature=s"
    assert url_expiry(s3) == datetime(2026, 11, 25, 11, 59, 30, tzinfo=UTC)
    assert url_expiry(gcs) == datetime(2026, 11, 25, 12, 1, 0, tzinfo=UTC)
    assert url_expiry(azure) == datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
    assert url_expiry(v2) == datetime.fromtimestamp(1795608000, UTC)
    assert has_expired(s3, NOW) and not has_expired(gcs, NOW) and not has_expired(azure, NOW)


def test_urls_without_an_expiry_or_with_garbage_never_count_as_expired() -> None:
    assert url_expiry("http://h/_store/data/x") is None
    assert url_expiry("http://h/b/k?X-Amz-Date=notadate&X-Amz-Expires=30") is None
    assert url_expiry("http://h/b/k?se=yesterday&sig=x") is None
    assert not has_expired("http://h/b/k?se=yesterday&sig=x", NOW)
