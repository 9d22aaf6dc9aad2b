"""Many small files: a batch asks the server once for every whole object's spec (``POST /download/specs``),
falls back to one request per object on a server without it, and a file of one part keeps no part log and
is not flushed to disk unless asked (``--fsync``). In process, against the app on the memory store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from score.attempts import RetryPolicy
from score.client.http.server_api import ServerApi
from score.client.transfer import batch
from score.client.transfer.batch import BatchOptions, Outcome
from score.client.transfer.download import Downloader
from score.client.transfer.output_layout import ObjectEntry
from score.client.transfer.upload import Uploader
from score.domain import errors as e
from tests.kit.files import md5_hex as md5
from tests.kit.inprocess import KIB, App, Fault, MemoryDataPlane, Stopped

pytestmark = pytest.mark.fast

SMALL = [os.urandom(KIB + i) for i in range(3)]  # one part each (the app's parts are 4 KiB)
BIG = os.urandom(10 * KIB)  # three parts


@pytest.fixture
def objects(app: App, tmp_path: Path) -> dict[str, bytes]:
    found = {}
    with app.server_api(app.rw_token()) as api:
        for i, data in enumerate([*SMALL, BIG]):
            oid, source = str(uuid.uuid4()), tmp_path / f"in{i}"
            source.write_bytes(data)
            Uploader(api, MemoryDataPlane(app.store), parallel=1).upload(oid, source, md5=md5(data))
            found[oid] = data
    return found


@pytest.fixture
def reader(app: App) -> Iterator[tuple[ServerApi, list[str]]]:
    """A reader's ServerApi and the server requests it makes ("METHOD path")."""
    with app.server_api(app.token(app.settings.auth.read_scope)) as api:
        calls: list[str] = []
        api._http.event_hooks["request"].append(lambda r: calls.append(f"{r.method} {r.url.path}"))
        yield api, calls


def run_batch(api: ServerApi, data: MemoryDataPlane, ids: list[str], out: Path) -> dict[str, Outcome]:
    options = BatchOptions(out, layout="id")
    plan = batch.plan([ObjectEntry(oid) for oid in ids], options)
    outcomes: dict[str, Outcome] = {}
    dl = Downloader(api, data, parallel=2)
    try:
        batch.download_all(plan, dl, options, 2, lambda o: outcomes.update({o.object_id: o}))
    finally:
        dl.close()
    return outcomes


def test_a_batch_asks_the_server_once_for_every_spec(
    app: App, objects: dict[str, bytes], reader: tuple[ServerApi, list[str]], tmp_path: Path
) -> None:
    api, calls = reader
    unknown = str(uuid.uuid4())
    outcomes = run_batch(api, MemoryDataPlane(app.store), [*objects, unknown], tmp_path / "out")
    assert calls == ["POST /download/specs"]
    for oid, data in objects.items():
        result = outcomes[oid].result
        assert result is not None and result.verified and result.path.read_bytes() == data
    assert isinstance(outcomes[unknown].error, e.ForbiddenError | e.NotFoundError)
    assert not (tmp_path / "out" / unknown).exists()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (405, {"timestamp": "2026-12-01T00:00:00.000+00:00", "status": 405, "error": "Method Not Allowed"}),
        (405, {"code": "method_not_allowed", "message": "Method Not Allowed", "retryable": False}),
        (404, {"code": "not_found", "message": "Not Found", "retryable": False}),
    ],
    ids=["score-5-spring", "older-score-server", "no-route"],
)
def test_a_server_without_the_batch_endpoint_is_asked_object_by_object(status: int, body: dict[str, object]) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    api = ServerApi("http://score.test", None, transport=httpx.MockTransport(handle))
    assert api.download_specs([str(uuid.uuid4()), str(uuid.uuid4())]) is None
    dl = Downloader(api, MemoryDataPlane.__new__(MemoryDataPlane), parallel=1)
    try:
        assert dl.prefetch([str(uuid.uuid4()), str(uuid.uuid4())]) == {}
        assert dl._batch_specs is False
    finally:
        dl.close()


def test_a_failing_batch_call_leaves_each_download_to_ask_for_itself(
    app: App, objects: dict[str, bytes], reader: tuple[ServerApi, list[str]], tmp_path: Path
) -> None:
    api, calls = reader
    app.store.set_down()  # the batch call fails with 503 (retried), then the store is back
    api._retry = RetryPolicy(attempts=1)
    dl = Downloader(api, MemoryDataPlane(app.store), parallel=1)
    try:
        assert dl.prefetch(list(objects)) == {}
        app.store.set_down(False)
        oid = next(iter(objects))
        dl.download(oid, tmp_path / "out")
    finally:
        dl.close()
    assert calls == ["POST /download/specs", f"GET /download/{oid}"]


def test_a_one_part_file_is_not_flushed_unless_asked_and_keeps_no_part_log(
    app: App,
    objects: dict[str, bytes],
    reader: tuple[ServerApi, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, _ = reader
    small, big = next(iter(objects)), list(objects)[-1]
    flushed: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        flushed.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    out = tmp_path / "out"
    for fsync, oid, expect_flush in [(False, small, False), (True, small, True), (False, big, True)]:
        flushed.clear()
        dl = Downloader(api, MemoryDataPlane(app.store), parallel=1, fsync=fsync)
        try:
            result = dl.download(oid, out, force=True)
        finally:
            dl.close()
        assert result.path.read_bytes() == objects[oid]
        assert bool(flushed) is expect_flush, (fsync, oid)

    stopped = MemoryDataPlane(app.store, Fault("GET", 0, "stop"))
    dl = Downloader(api, stopped, parallel=1)
    try:
        with pytest.raises(Stopped):
            dl.download(small, out, force=True)
    finally:
        dl.close()
    state = out / f".{small}"
    assert not (out / small).exists() and not state.exists()  # no part log, no directory
    assert not (out / f".{small}.part").exists()  # and no bytes: one part has nothing to resume
    dl = Downloader(api, MemoryDataPlane(app.store), parallel=1)
    try:
        assert dl.download(small, out).path.read_bytes() == objects[small]  # fetched again whole
    finally:
        dl.close()
    assert sorted(p.name for p in out.iterdir()) == sorted([small, big])


@pytest.mark.parametrize("times", [1, 3])
def test_a_one_part_file_is_hashed_as_it_streams_and_fetched_again_when_wrong(
    app: App, objects: dict[str, bytes], reader: tuple[ServerApi, list[str]], tmp_path: Path, times: int
) -> None:
    api, _ = reader
    small = next(iter(objects))
    data = MemoryDataPlane(app.store, Fault("GET", 0, "corrupt", times=times))
    dl = Downloader(api, data, parallel=1)
    out = tmp_path / "out"
    try:
        if times == 1:
            result = dl.download(small, out)
            assert result.verified and result.md5 == md5(objects[small]) and result.path.read_bytes() == objects[small]
            assert data.count("GET") == 2 and result.retries == 1
        else:
            with pytest.raises(e.IntegrityError, match="may be corrupt. Nothing was kept"):
                dl.download(small, out)
            assert data.count("GET") == 3
            assert not out.exists() or list(out.iterdir()) == []  # no file, no .part
    finally:
        dl.close()
