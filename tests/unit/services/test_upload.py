"""UploadService with the memory store, static metadata and a fixed clock: the part plan and its URLs' expiry,
who may upload, one live upload per object, confirmation against the store, finalize and cancel."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import anyio
import pytest

from score.domain import errors as e
from score.domain.integrity import multipart_etag
from score.domain.model import Access, AnalysisState, GetTarget, ObjectRecord, Principal
from score.services import upload as upload_module
from score.services.upload import UploadService
from tests.unit.services.conftest import ANONYMOUS, TTL, WRITER, World, md5

DATA = bytes(range(256)) * 40  # 10240 bytes: parts of 4096, 4096, 2048
TOKEN = "a" * 64


def upload_all(world: World, svc: UploadService, oid: str, principal: Principal = WRITER) -> None:
    async def main() -> None:
        spec = await svc.initiate(principal, oid, len(DATA), md5(DATA), False, TOKEN)
        for p in spec.parts:
            chunk = DATA[p.offset : p.offset + p.partSize]
            url = (await svc.part_url(principal, oid, spec.uploadId, p.partNumber, md5(chunk), TOKEN)).url
            assert world.put(url, chunk, md5(chunk)).status_code == 200
            await svc.confirm_part(principal, oid, spec.uploadId, p.partNumber, md5(chunk), md5(chunk), TOKEN)
        parts = multipart_etag([md5(DATA[p.offset : p.offset + p.partSize]) for p in spec.parts])
        await svc.finalize(principal, oid, spec.uploadId, md5(DATA), parts, TOKEN)

    anyio.run(main)


def test_the_plan_and_its_urls_expire_by_the_clock(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    spec = anyio.run(svc.initiate, WRITER, oid, len(DATA), None, False, TOKEN)
    assert [(p.partNumber, p.offset, p.partSize) for p in spec.parts] == [
        (1, 0, 4096),
        (2, 4096, 4096),
        (3, 8192, 2048),
    ]
    assert spec.urlsExpireAt == world.clock.now() + TTL
    first = spec.parts[0]
    assert first.url is not None
    world.clock.advance(seconds=TTL.total_seconds() + 1)
    expired = world.put(first.url, DATA[:4096])
    assert expired.status_code == 403 and expired.json()["code"] == "url_expired"


def test_upload_finalize_and_the_object_is_there(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    upload_all(world, svc, oid)
    assert anyio.run(svc.exists, WRITER, oid)
    assert anyio.run(world.store.read_range, GetTarget(f"data/{oid}")) == DATA
    info = anyio.run(world.store.head, f"data/{oid}")
    assert info is not None and info.md5 == md5(DATA)
    assert anyio.run(world.store.pending_uploads) == []
    with pytest.raises(e.ConflictError):
        anyio.run(svc.initiate, WRITER, oid, len(DATA), None, False, TOKEN)


def test_who_may_upload(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    with pytest.raises(e.UnauthenticatedError):
        anyio.run(svc.initiate, ANONYMOUS, oid, len(DATA), None, False, TOKEN)
    with pytest.raises(e.ForbiddenError):
        anyio.run(svc.initiate, Principal("reader", frozenset({"score.READ"})), oid, len(DATA), None, False, TOKEN)
    world.metadata.records[oid] = ObjectRecord(
        oid, "STUDY1", Access.CONTROLLED, "an1", AnalysisState.UNPUBLISHED, file_size=len(DATA), file_md5=md5(DATA)
    )
    study_writer = Principal("study", frozenset({"PROGRAMDATA-STUDY1.WRITE"}))
    with pytest.raises(e.InvalidRequestError, match="differs from the registered size"):
        anyio.run(svc.initiate, study_writer, oid, len(DATA) + 1, None, False, TOKEN)
    upload_all(world, svc, oid, study_writer)
    other = str(uuid.uuid4())
    world.metadata.records[other] = ObjectRecord(other, "STUDY2", Access.CONTROLLED, "an2", AnalysisState.UNPUBLISHED)
    with pytest.raises(e.ForbiddenError):
        anyio.run(svc.initiate, study_writer, other, len(DATA), None, False, TOKEN)
    world.metadata.records[other] = ObjectRecord(other, "STUDY1", Access.CONTROLLED, "an2", AnalysisState.PUBLISHED)
    with pytest.raises(e.AnalysisStateError, match="PUBLISHED"):
        anyio.run(svc.initiate, study_writer, other, len(DATA), None, False, TOKEN)


def test_another_clients_upload_is_not_joined_nor_replaced_without_overwrite(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    first = anyio.run(svc.initiate, WRITER, oid, len(DATA), None, False, TOKEN)
    with pytest.raises(e.ConflictError):
        anyio.run(svc.initiate, WRITER, oid, len(DATA), None, False, "b" * 64)
    second = anyio.run(svc.initiate, WRITER, oid, len(DATA), None, True, "b" * 64)
    assert [u.upload_id for u in anyio.run(world.store.pending_uploads)] == [second.uploadId]
    assert second.uploadId != first.uploadId


def test_a_part_is_confirmed_only_as_the_store_holds_it(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())

    async def main() -> None:
        spec = await svc.initiate(WRITER, oid, len(DATA), None, False, TOKEN)
        chunk = DATA[:4096]
        with pytest.raises(e.InvalidRequestError, match="holds no part 1"):
            await svc.confirm_part(WRITER, oid, spec.uploadId, 1, md5(chunk), md5(chunk), TOKEN)
        url = (await svc.part_url(WRITER, oid, spec.uploadId, 1, md5(chunk), TOKEN)).url
        assert world.put(url, chunk, md5(chunk)).status_code == 200
        with pytest.raises(e.IntegrityError):
            await svc.confirm_part(WRITER, oid, spec.uploadId, 1, md5(b"other"), md5(b"other"), TOKEN)
        await svc.confirm_part(WRITER, oid, spec.uploadId, 1, md5(chunk), md5(chunk), TOKEN)
        status = await svc.status(WRITER, oid, len(DATA), TOKEN)
        assert [p.partNumber for p in status.parts if p.md5] == [1]
        await svc.cancel(WRITER, oid)
        assert await world.store.pending_uploads() == []

    anyio.run(main)


def test_a_cancel_naming_its_upload_never_cancels_the_one_that_replaced_it(world: World) -> None:
    """A client cancelling its own failed upload (its upload id) after another took the object over with --force."""
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())

    async def main() -> None:
        first = await svc.initiate(WRITER, oid, len(DATA), None, False, TOKEN)
        second = await svc.initiate(WRITER, oid, len(DATA), None, True, "b" * 64)  # --force: replaces it
        with pytest.raises(e.NotFoundError, match="with that id"):
            await svc.cancel(WRITER, oid, first.uploadId)
        assert [p.upload_id for p in await world.store.pending_uploads()] == [second.uploadId]
        with pytest.raises(e.InvalidRequestError):
            await svc.cancel(WRITER, oid, "not/an/upload-id")
        await svc.cancel(WRITER, oid, second.uploadId)
        assert await world.store.pending_uploads() == []

    anyio.run(main)


def test_status_signs_every_part_once_completed_ones_too(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Score's Java client re-sends a completed part whose local bytes changed with the status's URL (issue 22).

    A 10,000-part upload: every part signed once per status, off the event loop.
    """
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    signed: list[int] = []
    sign = world.store.sign_upload_part

    def counting(target: Any, md5_hex: str | None, expires_at: Any) -> str:
        signed.append(target.number)
        return sign(target, md5_hex, expires_at)

    monkeypatch.setattr(world.store, "sign_upload_part", counting)
    threads: set[int] = set()
    real = upload_module.UploadService._sign_parts

    def spy(self: UploadService, *args: Any) -> Any:
        threads.add(threading.get_ident())
        return real(self, *args)

    monkeypatch.setattr(upload_module.UploadService, "_sign_parts", spy)

    async def main() -> None:
        spec = await svc.initiate(WRITER, oid, 10_000 * 4096, None, False, TOKEN)
        count = len(spec.parts)
        assert count > 9_990  # the store's part limit
        chunk = bytes(range(256)) * 16 + b"x" * (spec.parts[0].partSize - 4096)
        assert world.put(spec.parts[0].url or "", chunk).status_code == 200
        await svc.confirm_part(WRITER, oid, spec.uploadId, 1, md5(chunk), md5(chunk), TOKEN)
        signed.clear()
        status = await svc.status(WRITER, oid, 10_000 * 4096, TOKEN)
        assert sorted(signed) == list(range(1, count + 1))  # each part once
        first = status.parts[0]
        assert (first.md5, first.sourceMd5) == (md5(chunk), md5(chunk)) and first.url
        assert all(p.url for p in status.parts) and not any(p.md5 for p in status.parts[1:])
        assert world.put(first.url or "", chunk).status_code == 200  # the completed part's URL works

    anyio.run(main)
    assert threading.get_ident() not in threads  # signed in a worker thread


def test_a_one_part_upload_of_other_bytes_than_the_declared_file_is_refused_at_finalize(world: World) -> None:
    """New-user trial (raw API): initiate with the file's MD5, PUT other bytes, confirm them with their own MD5,
    finalize with the file's MD5: every step answered 200, and the object published then failed every download.
    With one part, the part's MD5 is the object's: finalize refuses it, and the right bytes can still be sent."""
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    data, other = b"abc", b"xyz"  # the same size, other bytes

    async def main() -> None:
        spec = await svc.initiate(WRITER, oid, len(data), md5(data), False, TOKEN)
        assert len(spec.parts) == 1
        for chunk in (other, data):
            url = (await svc.part_url(WRITER, oid, spec.uploadId, 1, md5(chunk), TOKEN)).url
            assert world.put(url, chunk, md5(chunk)).status_code == 200
            await svc.confirm_part(WRITER, oid, spec.uploadId, 1, md5(chunk), md5(chunk), TOKEN)
            if chunk is other:
                with pytest.raises(e.IntegrityError, match=f"have MD5 {md5(other)}, not the file's MD5 {md5(data)}"):
                    await svc.finalize(WRITER, oid, spec.uploadId, md5(data), None, TOKEN)
                assert not await svc.exists(WRITER, oid)
        await svc.finalize(WRITER, oid, spec.uploadId, md5(data), None, TOKEN)

    anyio.run(main)
    assert anyio.run(world.store.read_range, GetTarget(f"data/{oid}")) == b"abc"
