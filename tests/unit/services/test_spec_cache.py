"""The cache of finished objects' specs: keyed by the object's store identity, and never filled with a spec
that disagrees with the HEAD it would be filed under."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from score.domain.model import ObjectInfo
from score.services.spec_cache import SpecCache
from score.wire.schemas import ObjectSpecification, Part

T0 = datetime(2026, 12, 1, tzinfo=UTC)
OLD, NEW = "a" * 32, "b" * 32


def spec(md5: str, size: int = 100) -> ObjectSpecification:
    part = Part(partNumber=1, partSize=size, offset=0)
    return ObjectSpecification(
        objectKey="data/x", objectId="x", uploadId="x", parts=[part], objectSize=size, objectMd5=md5
    )


def info(md5: str | None, etag: str | None = "e1", when: datetime = T0, size: int = 100) -> ObjectInfo:
    return ObjectInfo(key="data/x", size=size, last_modified=when, etag=etag, md5=md5)


def test_a_spec_is_found_only_under_the_identity_it_was_filed_under() -> None:
    cache, s = SpecCache(), spec(OLD)
    cache.put(info(OLD), s)
    assert cache.get(info(OLD)) is s
    assert cache.get(info(OLD, etag="e2")) is None
    assert cache.get(info(OLD, when=T0 + timedelta(microseconds=1))) is None
    assert cache.get(info(OLD, size=101)) is None


def test_an_old_spec_next_to_new_bytes_is_never_kept() -> None:
    """Between an overwrite's completion and its new .meta, the HEAD shows the new bytes and the .meta is old."""
    cache = SpecCache()
    cache.put(info(NEW, etag="e2"), spec(OLD))
    assert cache.get(info(NEW, etag="e2")) is None
    cache.put(info(NEW, etag="e2", size=100), spec(NEW, size=99))
    assert cache.get(info(NEW, etag="e2")) is None


def test_objects_without_etag_or_md5_are_not_cached_and_the_cache_is_bounded() -> None:
    cache = SpecCache(limit=2)
    cache.put(info(OLD, etag=None), spec(OLD))
    cache.put(info(None), spec(OLD))
    assert cache.get(info(OLD, etag=None)) is None
    assert cache.get(info(None)) is None
    for n in range(3):
        cache.put(info(OLD, etag=f"e{n}"), spec(OLD))
    assert cache.get(info(OLD, etag="e0")) is None
    assert cache.get(info(OLD, etag="e2")) is not None
