"""DownloadService with the memory store, static metadata and a fixed clock: the spec, its range cut, its URLs'
expiry, and who may read what (scopes and the publish state)."""

from __future__ import annotations

import uuid

import anyio
import pytest

from score.domain import errors as e
from score.domain.model import ANONYMOUS, Access, AnalysisState, ObjectRecord, Principal
from score.services.download import DownloadService
from score.services.upload import UploadService
from tests.unit.services.conftest import READER, TTL, WRITER, World, md5
from tests.unit.services.test_upload import DATA, upload_all


@pytest.fixture
def oid(world: World) -> str:
    oid = str(uuid.uuid4())
    upload_all(world, UploadService(world.ctx), oid)
    return oid


def test_the_spec_has_every_part_with_its_md5_and_urls_that_expire_by_the_clock(world: World, oid: str) -> None:
    svc = DownloadService(world.ctx)
    spec = anyio.run(svc.download_spec, READER, oid, 0, -1, False, False)
    assert spec.objectSize == len(DATA) and spec.objectMd5 == md5(DATA)
    assert spec.urlsExpireAt == world.clock.now() + TTL
    got = b""
    for p in spec.parts:
        assert p.url is not None
        r = world.http.get(p.url, headers={"Range": f"bytes={p.offset}-{p.offset + p.partSize - 1}"})
        assert r.status_code == 206 and md5(r.content) == p.sourceMd5
        got += r.content
    assert got == DATA
    world.clock.advance(seconds=TTL.total_seconds())
    assert world.http.get(spec.parts[0].url or "", headers={"Range": "bytes=0-4095"}).status_code == 206  # still valid
    world.clock.advance(seconds=1)
    late = world.http.get(spec.parts[0].url or "", headers={"Range": "bytes=0-4095"})
    assert late.status_code == 403 and late.json()["code"] == "url_expired"


def test_a_range_is_cut_along_the_parts_and_has_no_whole_md5(world: World, oid: str) -> None:
    svc = DownloadService(world.ctx)
    spec = anyio.run(svc.download_spec, READER, oid, 4000, 200, False, False)
    assert spec.objectSize == 200 and spec.objectMd5 is None
    assert [(p.offset, p.partSize) for p in spec.parts] == [(4000, 96), (4096, 104)]
    data = b"".join(
        world.http.get(p.url or "", headers={"Range": f"bytes={p.offset}-{p.offset + p.partSize - 1}"}).content
        for p in spec.parts
    )
    assert data == DATA[4000:4200]
    with pytest.raises(e.RangeNotSatisfiableError):
        anyio.run(svc.download_spec, READER, oid, len(DATA), 10, False, False)


def test_unknown_objects_and_missing_scopes(world: World, oid: str) -> None:
    svc = DownloadService(world.ctx)
    with pytest.raises(e.NotFoundError):
        anyio.run(svc.download_spec, READER, str(uuid.uuid4()), 0, -1, False, False)
    with pytest.raises(e.UnauthenticatedError):
        anyio.run(svc.download_spec, ANONYMOUS, oid, 0, -1, False, False)
    with pytest.raises(e.ForbiddenError):
        anyio.run(svc.download_spec, WRITER, oid, 0, -1, False, False)


def test_open_objects_need_a_published_analysis_and_controlled_ones_a_study_scope(world: World) -> None:
    svc = DownloadService(world.ctx)
    oid = str(uuid.uuid4())
    record = ObjectRecord(oid, "S1", Access.OPEN, "an1", AnalysisState.UNPUBLISHED, file_size=len(DATA))
    world.metadata.records[oid] = record
    upload_all(world, UploadService(world.ctx), oid)
    with pytest.raises(e.UnauthenticatedError):
        anyio.run(svc.download_spec, ANONYMOUS, oid, 0, -1, False, False)
    with pytest.raises(e.AnalysisStateError, match="PUBLISHED"):
        anyio.run(svc.download_spec, READER, oid, 0, -1, False, False)
    world.metadata.publish(oid)
    assert anyio.run(svc.download_spec, ANONYMOUS, oid, 0, -1, False, False).objectSize == len(DATA)
    world.metadata.records[oid] = ObjectRecord(oid, "S1", Access.CONTROLLED, "an1", AnalysisState.PUBLISHED)
    with pytest.raises(e.UnauthenticatedError):
        anyio.run(svc.download_spec, ANONYMOUS, oid, 0, -1, False, False)
    study = Principal("study", frozenset({"PROGRAMDATA-S1.READ"}))
    assert anyio.run(svc.download_spec, study, oid, 0, -1, False, False).objectMd5 == md5(DATA)


def test_ping_and_listing(world: World, oid: str) -> None:
    svc = DownloadService(world.ctx)
    url = anyio.run(svc.ping)
    assert world.http.get(url).status_code == 200
    assert oid in [o.id for o in anyio.run(svc.listing, READER)]
