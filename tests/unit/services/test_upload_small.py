"""The small-file path of UploadService (issue 23): initiate signs a one-part plan's URL for the file's MD5,
and finalize folds in the confirmation of parts nobody confirmed (read from the store, checked against
``partsMd5``), while every guarantee of issue 20 holds: owners, one live upload, 422 on other parts, a finished
object that never changes. Score's Java sequence (initiate, PUT, confirm, finalize) is unchanged."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import anyio
import pytest

from score.domain import errors as e
from score.domain.integrity import multipart_etag
from score.domain.model import GetTarget, Principal
from score.services.context import ServiceContext
from score.services.upload import UploadService
from tests.unit.services.conftest import WRITER, World, md5

SMALL = bytes(range(256)) * 12  # 3072 bytes: one part (parts are 4 KiB)
LARGE = bytes(range(256)) * 40  # 10240 bytes: three parts
TOKEN = "a" * 64
OTHER_TOKEN = "b" * 64


class CountingStore:
    """The memory store, with every port call counted by name."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return value(*args, **kwargs)

        return counted


def counting(world: World) -> tuple[UploadService, CountingStore]:
    store = CountingStore(world.store)
    ctx = ServiceContext(
        store=store,
        metadata=world.metadata,
        upload_url_ttl=world.ctx.upload_url_ttl,
        download_url_ttl=world.ctx.download_url_ttl,
        clock=world.clock,
    )
    return UploadService(ctx), store


def stored(world: World, oid: str) -> bytes:
    return anyio.run(world.store.read_range, GetTarget(f"data/{oid}"))


def test_one_part_initiate_put_finalize_without_confirmation(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    spec = anyio.run(lambda: svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), False, TOKEN, True))
    assert len(spec.parts) == 1 and spec.etagIsMd5 is True
    url = spec.parts[0].url
    assert url is not None
    # the URL is bound to the file's MD5: other bytes, or no Content-MD5, are refused
    assert world.put(url, bytes(len(SMALL)), md5(bytes(len(SMALL)))).status_code >= 400
    assert world.put(url, SMALL).status_code >= 400
    assert world.put(url, SMALL, md5(SMALL)).status_code == 200
    done = anyio.run(svc.finalize, WRITER, oid, spec.uploadId, md5(SMALL), multipart_etag([md5(SMALL)]), TOKEN)
    assert done.objectMd5 == md5(SMALL) and [p.sourceMd5 for p in done.parts] == [md5(SMALL)]
    assert stored(world, oid) == SMALL
    # idempotent, and a retry with another file is refused
    again = anyio.run(svc.finalize, WRITER, oid, spec.uploadId, md5(SMALL), multipart_etag([md5(SMALL)]), TOKEN)
    assert again.objectMd5 == md5(SMALL)
    with pytest.raises(e.IntegrityError):
        anyio.run(svc.finalize, WRITER, oid, spec.uploadId, md5(LARGE), multipart_etag([md5(LARGE)]), TOKEN)
    # a late PUT through the same URL never changes the finished object
    assert world.put(url, SMALL, md5(SMALL)).status_code >= 400
    assert stored(world, oid) == SMALL


def test_an_unconfirmed_part_needs_parts_md5_and_the_right_bytes(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    spec = anyio.run(lambda: svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), False, TOKEN, True))
    with pytest.raises(e.InvalidRequestError, match="incomplete"):  # nothing in the store yet
        anyio.run(svc.finalize, WRITER, oid, spec.uploadId, md5(SMALL), multipart_etag([md5(SMALL)]), TOKEN)
    assert spec.parts[0].url is not None
    assert world.put(spec.parts[0].url, SMALL, md5(SMALL)).status_code == 200
    with pytest.raises(e.InvalidRequestError, match="incomplete"):  # Score's finalize: confirmed parts only
        anyio.run(svc.finalize, WRITER, oid, spec.uploadId, None, None, TOKEN)
    with pytest.raises(e.IntegrityError):  # the parts held are not the ones this client says it sent
        anyio.run(svc.finalize, WRITER, oid, spec.uploadId, None, multipart_etag([md5(LARGE)]), TOKEN)
    with pytest.raises(e.ConflictError):  # another client cannot finalize it
        anyio.run(svc.finalize, WRITER, oid, spec.uploadId, None, multipart_etag([md5(SMALL)]), OTHER_TOKEN)
    with pytest.raises(e.ConflictError):
        anyio.run(svc.finalize, Principal("other", WRITER.scopes), oid, spec.uploadId, None, None, TOKEN)
    assert anyio.run(world.store.head, f"data/{oid}") is None
    anyio.run(svc.finalize, WRITER, oid, spec.uploadId, md5(SMALL), multipart_etag([md5(SMALL)]), TOKEN)
    assert stored(world, oid) == SMALL


def test_sign_md5_leaves_a_multipart_plan_and_old_clients_as_they_were(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    spec = anyio.run(lambda: svc.initiate(WRITER, oid, len(LARGE), md5(LARGE), False, TOKEN, True))
    assert len(spec.parts) == 3 and spec.etagIsMd5 is None
    assert "etagIsMd5" not in spec.model_dump()  # left out of the JSON, for Score's clients
    # the Score URLs of a multipart plan take bytes without a Content-MD5, as they always did
    first = spec.parts[0]
    assert first.url is not None and world.put(first.url, LARGE[:4096]).status_code == 200
    other = str(uuid.uuid4())
    plain = anyio.run(svc.initiate, WRITER, other, len(SMALL), md5(SMALL), False, TOKEN)  # no signMd5: Score's
    assert plain.etagIsMd5 is None and plain.parts[0].url is not None
    assert world.put(plain.parts[0].url, SMALL).status_code == 200


def test_sign_md5_does_not_replace_a_live_upload_overwrite_does(world: World) -> None:
    svc = UploadService(world.ctx)
    oid = str(uuid.uuid4())
    first = anyio.run(lambda: svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), False, TOKEN, True))
    with pytest.raises(e.ConflictError, match="in progress"):  # the caller's own: resume it instead
        anyio.run(lambda: svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), False, TOKEN, True))
    with pytest.raises(e.ConflictError, match="another client"):
        anyio.run(lambda: svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), False, OTHER_TOKEN, True))
    progress = anyio.run(svc.status, WRITER, oid, len(SMALL), TOKEN)
    assert progress.uploadId == first.uploadId
    second = anyio.run(lambda: svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), True, OTHER_TOKEN, True))
    assert second.uploadId != first.uploadId
    assert first.parts[0].url is not None
    assert world.put(first.parts[0].url, SMALL, md5(SMALL)).status_code >= 400  # the replaced upload is gone


def test_finalize_lists_the_store_only_for_parts_not_confirmed(world: World) -> None:
    svc, store = counting(world)
    oid = str(uuid.uuid4())

    async def confirmed_all() -> None:
        spec = await svc.initiate(WRITER, oid, len(LARGE), md5(LARGE), False, TOKEN)
        sums = []
        for p in spec.parts:
            chunk = LARGE[p.offset : p.offset + p.partSize]
            url = (await svc.part_url(WRITER, oid, spec.uploadId, p.partNumber, md5(chunk), TOKEN)).url
            assert world.put(url, chunk, md5(chunk)).status_code == 200
            await svc.confirm_part(WRITER, oid, spec.uploadId, p.partNumber, md5(chunk), md5(chunk), TOKEN)
            sums.append(md5(chunk))
        store.calls.clear()
        await svc.finalize(WRITER, oid, spec.uploadId, md5(LARGE), multipart_etag(sums), TOKEN)

    anyio.run(confirmed_all)
    assert store.calls["list_parts"] == 0
    assert stored(world, oid) == LARGE


def test_the_one_part_path_costs_fewer_store_calls(world: World) -> None:
    """Store calls of the server for one fresh one-part file: the path of issue 23 against the five-call one."""
    svc, store = counting(world)

    async def five_calls(oid: str) -> None:
        with pytest.raises(e.NotFoundError):
            await svc.status(WRITER, oid, len(SMALL), TOKEN)
        spec = await svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), False, TOKEN)
        url = (await svc.part_url(WRITER, oid, spec.uploadId, 1, md5(SMALL), TOKEN)).url
        assert world.put(url, SMALL, md5(SMALL)).status_code == 200
        await svc.confirm_part(WRITER, oid, spec.uploadId, 1, md5(SMALL), md5(SMALL), TOKEN)
        await svc.finalize(WRITER, oid, spec.uploadId, md5(SMALL), multipart_etag([md5(SMALL)]), TOKEN)

    async def two_calls(oid: str) -> None:
        spec = await svc.initiate(WRITER, oid, len(SMALL), md5(SMALL), False, TOKEN, True)
        assert spec.parts[0].url is not None
        assert world.put(spec.parts[0].url, SMALL, md5(SMALL)).status_code == 200
        await svc.finalize(WRITER, oid, spec.uploadId, md5(SMALL), multipart_etag([md5(SMALL)]), TOKEN)

    anyio.run(five_calls, str(uuid.uuid4()))
    before = sum(store.calls.values())
    store.calls.clear()
    anyio.run(two_calls, str(uuid.uuid4()))
    after = sum(store.calls.values())
    assert after < before, (before, after)
    # initiate: the object's .meta and HEAD, create, owner, spec, one listing of the object's uploads;
    # finalize: spec, owner, one listing of the upload's keys, complete (it checks the part's ETag: no
    # part listing), the object's .meta, then the spec and the owner deleted (no second listing)
    assert {k: v for k, v in store.calls.items() if k != "sign_upload_part"} == {
        "get_bytes": 3,
        "head": 1,
        "create_multipart": 1,
        "put_bytes": 3,
        "list": 2,
        "complete_multipart": 1,
        "delete": 2,
    }
