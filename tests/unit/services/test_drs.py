"""DrsService on the memory store: a blob's checksum from wherever its MD5 is known (never none), its
access method's region, and its access URL's expiry by the clock."""

from __future__ import annotations

import dataclasses
import uuid

import anyio
import pytest

from score.domain import ids
from score.domain.model import Access, AnalysisState, ObjectRecord
from score.services.download import DownloadService
from score.services.drs import DrsService
from score.services.upload import UploadService
from tests.unit.services.conftest import READER, TTL, World, md5
from tests.unit.services.test_upload import DATA, upload_all


@pytest.fixture
def drs(world: World) -> DrsService:
    return DrsService(world.ctx, DownloadService(world.ctx))


def test_a_blob_names_its_region_when_given_and_its_url_expires_by_the_clock(world: World, drs: DrsService) -> None:
    oid = str(uuid.uuid4())
    upload_all(world, UploadService(world.ctx), oid)
    blob = anyio.run(drs.object, READER, oid, "drs.example.org", "eu-west-1")
    assert blob["access_methods"] == [{"type": "https", "access_id": "https", "region": "eu-west-1"}]
    assert blob["checksums"] == [{"type": "md5", "checksum": md5(DATA)}]
    assert "region" not in anyio.run(drs.object, READER, oid, "drs.example.org")["access_methods"][0]
    found = anyio.run(drs.access_url, READER, oid, "https")
    assert found.expires_at == world.clock.now() + TTL
    assert world.http.get(found.url).content == DATA


def test_the_checksum_falls_back_to_songs_md5_then_the_etag(world: World, drs: DrsService) -> None:
    oid = str(uuid.uuid4())
    anyio.run(world.store.put_bytes, ids.object_key(oid), DATA)  # by hand: no .meta, no stored MD5
    info = anyio.run(world.store.head, ids.object_key(oid))
    assert info is not None
    spec, _ = anyio.run(DownloadService(world.ctx).stored, oid)
    bare = dataclasses.replace(info, md5=None)
    record = ObjectRecord(oid, "S", Access.OPEN, "AN1", AnalysisState.PUBLISHED, "f.bin", len(DATA), "AB" * 16)
    nothing = spec.model_copy(update={"objectMd5": None})
    assert anyio.run(drs.checksum, nothing, bare, record) == {"type": "md5", "checksum": "ab" * 16}
    assert anyio.run(drs.checksum, nothing, dataclasses.replace(bare, etag="e-2"), None) == {
        "type": "etag",
        "checksum": "e-2",
    }
    computed = anyio.run(drs.checksum, nothing, dataclasses.replace(bare, etag=None), None)
    assert computed == {"type": "md5", "checksum": md5(DATA)}
