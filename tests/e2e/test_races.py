"""Races on one upload: late, duplicate and refused part PUTs, finalize twice, cancel or re-initiate during
a PUT, clients that are not the upload's owner, publish during an upload (issue 20, defects 1-3 and 8).

Each test drives the REST API and the local store's data plane as a client (or an attacker) would, on
a live score-server, and ends by reading the finished object back: nothing may have changed it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from score.domain.integrity import multipart_etag
from score.wire.headers import UPLOAD_TOKEN_HEADER
from tests.kit.servers import ServerProcess, free_port

pytestmark = [pytest.mark.e2e]
PART = 5 * 1024 * 1024  # S3's smallest part
TOKEN_A = "a" * 32
TOKEN_B = "b" * 32


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Api:
    """The REST calls of one client (a bearer token and, optionally, an upload token)."""

    def __init__(self, srv: ServerProcess, token: str, upload_token: str | None = TOKEN_A) -> None:
        self.srv = srv
        self.headers = {"Authorization": f"Bearer {token}"}
        if upload_token:
            self.headers[UPLOAD_TOKEN_HEADER] = upload_token

    def initiate(self, oid: str, size: int, overwrite: bool = False) -> httpx.Response:
        return httpx.post(
            f"{self.srv.url}/upload/{oid}/uploads",
            headers=self.headers,
            params={"fileSize": size, "overwrite": str(overwrite).lower()},
        )

    def confirm(self, oid: str, upload_id: str, number: int, data: bytes) -> httpx.Response:
        return httpx.post(
            f"{self.srv.url}/upload/{oid}/parts",
            headers=self.headers,
            params={"uploadId": upload_id, "partNumber": number, "md5": _md5(data), "etag": _md5(data)},
        )

    def status(self, oid: str, size: int) -> httpx.Response:
        return httpx.get(f"{self.srv.url}/upload/{oid}/status", params={"fileSize": size}, headers=self.headers)

    def part_url(self, oid: str, upload_id: str, number: int, data: bytes) -> httpx.Response:
        return httpx.get(
            f"{self.srv.url}/upload/{oid}/parts/url",
            headers=self.headers,
            params={"uploadId": upload_id, "partNumber": number, "md5": _md5(data)},
        )

    def finalize(
        self, oid: str, upload_id: str, md5: str | None = None, parts: list[bytes] | None = None
    ) -> httpx.Response:
        params = {"uploadId": upload_id}
        if md5:
            params["md5"] = md5
        if parts is not None:
            params["partsMd5"] = multipart_etag([_md5(p) for p in parts])
        return httpx.post(f"{self.srv.url}/upload/{oid}", params=params, headers=self.headers)

    def cancel(self, oid: str) -> httpx.Response:
        return httpx.delete(f"{self.srv.url}/upload/{oid}", headers=self.headers)

    def stored(self, oid: str) -> bytes:
        """The finished object's bytes, as a download reads them."""
        spec = httpx.get(f"{self.srv.url}/download/{oid}", params={"external": "true"}, headers=self.headers)
        assert spec.status_code == 200, spec.text
        return httpx.get(spec.json()["parts"][0]["url"]).content


def _split(data: bytes, spec: dict[str, Any]) -> list[bytes]:
    return [data[p["offset"] : p["offset"] + p["partSize"]] for p in spec["parts"]]


def _upload_parts(api: Api, oid: str, spec: dict[str, Any], data: bytes) -> None:
    for part, chunk in zip(spec["parts"], _split(data, spec), strict=True):
        put = httpx.put(part["url"], content=chunk)
        assert put.status_code == 200, put.text
        assert api.confirm(oid, spec["uploadId"], part["partNumber"], chunk).status_code == 200


class SlowPut:
    """A part PUT that sends its first half, then waits for :meth:`release` before sending the rest."""

    def __init__(self, pool: ThreadPoolExecutor, url: str, body: bytes, headers: dict[str, str] | None = None):
        self._go = threading.Event()
        self.sent_first = threading.Event()

        def chunks() -> Iterator[bytes]:
            yield body[: len(body) // 2]
            self.sent_first.set()
            self._go.wait(60)
            yield body[len(body) // 2 :]

        hdrs = {"Content-Length": str(len(body)), **(headers or {})}
        self.future: Future[httpx.Response] = pool.submit(httpx.put, url, content=chunks(), headers=hdrs, timeout=60)
        assert self.sent_first.wait(10)

    def release(self) -> httpx.Response:
        self._go.set()
        return self.future.result(timeout=60)


def _wait_receiving(srv: ServerProcess, upload_id: str) -> None:
    """Until the server has started receiving a part body (its temporary file exists), or 3 s."""
    if not _local(srv):
        time.sleep(0.5)  # the store's own data plane: nothing of ours to watch
        return
    parts = srv.data_dir / "multipart" / upload_id / "parts"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if parts.is_dir() and any(p.name.startswith(".score-tmp-") for p in parts.iterdir()):
            return
        time.sleep(0.02)


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.radosgw)])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on the local store (whose data plane is ours) and one on Ceph radosgw (whose data plane is S3's)."""
    env = {"SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(PART)}
    if request.param == "s3":
        env = dict(request.getfixturevalue("radosgw").server_env(f"races-{uuid.uuid4().hex[:12]}", **env))
    root = tmp_path_factory.mktemp("races")
    server = ServerProcess(root / "data", free_port(), env=env).start()
    yield server
    server.stop()


def _local(srv: ServerProcess) -> bool:
    return srv.env.get("SCORE_STORAGE__KIND", "local") == "local"


@pytest.fixture(scope="module")
def token(srv: ServerProcess) -> str:
    return srv.token("score.READ", "score.WRITE")


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as p:
        yield p


def _started(api: Api, data: bytes) -> tuple[str, dict[str, Any]]:
    oid = str(uuid.uuid4())
    r = api.initiate(oid, len(data))
    assert r.status_code == 200, r.text
    return oid, r.json()


def test_a_part_put_still_running_at_finalize_cannot_change_the_finished_object(
    srv: ServerProcess, token: str, pool: ThreadPoolExecutor
) -> None:
    api = Api(srv, token)
    good, other = b"g" * (2 * PART), b"o" * PART
    oid, spec = _started(api, good)
    _upload_parts(api, oid, spec, good)
    late = SlowPut(pool, spec["parts"][0]["url"], other)  # initiate's URL: not bound to an MD5
    _wait_receiving(srv, spec["uploadId"])
    done = api.finalize(oid, spec["uploadId"], _md5(good), _split(good, spec))
    assert done.status_code == 200, done.text
    assert done.json()["objectMd5"] == _md5(good) and done.json()["objectSize"] == len(good)
    answer = late.release()
    assert answer.status_code == 404, answer.text  # the upload is over
    assert api.stored(oid) == good


def test_a_refused_part_put_leaves_the_part_it_would_have_replaced(srv: ServerProcess, token: str) -> None:
    if not _local(srv):
        pytest.skip("the local store's data plane only: S3 replaces a part on any PUT its URL allows")
    api = Api(srv, token)
    good = b"g" * PART + b"h" * PART
    oid, spec = _started(api, good)
    _upload_parts(api, oid, spec, good)
    bad = b"x" * PART
    wrong = base64.b64encode(hashlib.md5(b"not these bytes").digest()).decode()
    r = httpx.put(spec["parts"][0]["url"], content=bad, headers={"Content-MD5": wrong})
    assert r.status_code == 422 and r.json()["code"] == "integrity"
    short = httpx.put(spec["parts"][1]["url"], content=bad[:100])  # and a body shorter than the part
    assert short.status_code == 400
    done = api.finalize(oid, spec["uploadId"], _md5(good), _split(good, spec))
    assert done.status_code == 200, done.text
    assert api.stored(oid) == good
    assert not list((srv.data_dir / "multipart").glob(f"{spec['uploadId']}*"))


def test_duplicate_part_puts_at_once_both_succeed_and_the_object_is_right(
    srv: ServerProcess, token: str, pool: ThreadPoolExecutor
) -> None:
    api = Api(srv, token)
    data = bytes(range(256)) * (2 * PART // 256)
    oid, spec = _started(api, data)
    chunks = _split(data, spec)
    puts = [pool.submit(httpx.put, spec["parts"][0]["url"], content=chunks[0]) for _ in range(4)]
    assert {f.result().status_code for f in puts} == {200}
    for part, chunk in zip(spec["parts"][1:], chunks[1:], strict=True):
        assert httpx.put(part["url"], content=chunk).status_code == 200
    for part, chunk in zip(spec["parts"], chunks, strict=True):
        assert api.confirm(oid, spec["uploadId"], part["partNumber"], chunk).status_code == 200
    assert api.finalize(oid, spec["uploadId"], _md5(data), chunks).status_code == 200
    assert api.stored(oid) == data


def test_finalize_twice_with_another_md5_is_refused(srv: ServerProcess, token: str) -> None:
    api = Api(srv, token)
    data = b"f" * (PART + 10)
    oid, spec = _started(api, data)
    _upload_parts(api, oid, spec, data)
    parts = _split(data, spec)
    assert api.finalize(oid, spec["uploadId"], _md5(data), parts).status_code == 200
    again = api.finalize(oid, spec["uploadId"], _md5(b"another file"))
    assert again.status_code == 422 and again.json()["code"] == "integrity", again.text
    other_parts = api.finalize(oid, spec["uploadId"], _md5(data), [b"x" * PART, b"y" * 10])
    assert other_parts.status_code == 422, other_parts.text
    same = api.finalize(oid, spec["uploadId"], _md5(data), parts)  # a retry of the same file still succeeds
    assert same.status_code == 200 and same.json()["objectMd5"] == _md5(data)
    assert api.stored(oid) == data


def test_finalize_from_parts_that_are_not_the_clients_is_refused(srv: ServerProcess, token: str) -> None:
    api = Api(srv, token)
    mine, theirs = b"m" * (2 * PART), b"t" * PART
    oid, spec = _started(api, mine)
    _upload_parts(api, oid, spec, mine)
    # someone replaced part 1 with other bytes and confirmed it
    assert httpx.put(spec["parts"][0]["url"], content=theirs).status_code == 200
    assert api.confirm(oid, spec["uploadId"], 1, theirs).status_code == 200
    r = api.finalize(oid, spec["uploadId"], _md5(mine), _split(mine, spec))
    assert r.status_code == 422 and "not the ones this client sent" in r.json()["message"]
    assert httpx.get(f"{srv.url}/upload/{oid}", headers=api.headers).json() is False  # nothing finished


def test_cancel_during_a_part_put(srv: ServerProcess, token: str, pool: ThreadPoolExecutor) -> None:
    api = Api(srv, token)
    data = b"c" * PART
    oid, spec = _started(api, data)
    late = SlowPut(pool, spec["parts"][0]["url"], data)
    _wait_receiving(srv, spec["uploadId"])
    assert api.cancel(oid).status_code == 200
    assert late.release().status_code == 404
    assert not _local(srv) or not (srv.data_dir / "multipart" / spec["uploadId"]).exists()
    assert api.status(oid, len(data)).status_code == 404


def test_reinitiate_during_a_part_put(srv: ServerProcess, token: str, pool: ThreadPoolExecutor) -> None:
    api = Api(srv, token)
    old, new = b"1" * PART, b"2" * PART
    oid, spec = _started(api, old)
    late = SlowPut(pool, spec["parts"][0]["url"], old)
    _wait_receiving(srv, spec["uploadId"])
    again = api.initiate(oid, len(new))  # the same client starts over
    assert again.status_code == 200 and again.json()["uploadId"] != spec["uploadId"]
    assert late.release().status_code == 404
    _upload_parts(api, oid, again.json(), new)
    assert api.finalize(oid, again.json()["uploadId"], _md5(new), [new]).status_code == 200
    assert api.stored(oid) == new


@pytest.mark.parametrize("intruder", ["another upload token", "no upload token", "another user"])
def test_only_the_owner_may_join_an_upload(srv: ServerProcess, token: str, intruder: str) -> None:
    owner = Api(srv, token)
    data = b"o" * (2 * PART)
    oid, spec = _started(owner, data)
    if intruder == "another user":
        other = Api(srv, srv.token("score.READ", "score.WRITE", subject="someone-else"), TOKEN_A)
    else:
        other = Api(srv, token, TOKEN_B if intruder == "another upload token" else None)
    chunk = _split(data, spec)[0]
    for r in (
        other.status(oid, len(data)),
        other.part_url(oid, spec["uploadId"], 1, chunk),
        other.confirm(oid, spec["uploadId"], 1, chunk),
        other.finalize(oid, spec["uploadId"], _md5(data)),
        other.initiate(oid, len(data)),
    ):
        assert r.status_code == 409 and "started by another client" in r.json()["message"], r.text
    assert owner.status(oid, len(data)).status_code == 200
    # --force (overwrite=true) takes the upload over: the owner's next call then fails (an upload started
    # without an upload token, as Score's Java client starts them, is its subject's: the same user may join)
    taken = other.initiate(oid, len(data), overwrite=True)
    assert taken.status_code == 200
    assert owner.status(oid, len(data)).status_code == (200 if intruder == "no upload token" else 409)
    _upload_parts(other, oid, taken.json(), data)
    assert other.finalize(oid, taken.json()["uploadId"], _md5(data), _split(data, taken.json())).status_code == 200


def test_two_initiates_at_the_same_moment_leave_at_most_one_upload(
    srv: ServerProcess, token: str, pool: ThreadPoolExecutor
) -> None:
    a, b = Api(srv, token, TOKEN_A), Api(srv, token, TOKEN_B)
    for _ in range(5):
        oid = str(uuid.uuid4())
        answers = [f.result() for f in [pool.submit(c.initiate, oid, PART) for c in (a, b)]]
        assert all(r.status_code in (200, 409) for r in answers), [r.text for r in answers]
        live = [r.json()["uploadId"] for r in answers if r.status_code == 200]
        assert len(live) <= 1
        if _local(srv):
            listed = [p for p in (srv.data_dir / "objects" / "upload").glob(f"{oid}_*") if (p / ".meta").exists()]
            assert len(listed) == len(live)
        status = [c.status(oid, PART).status_code for c in (a, b)]
        assert sorted(status) == ([200, 409] if live else [404, 404]), status


def test_publish_during_an_upload_stops_it(tmp_path: Path, server_factory: Any) -> None:
    server: ServerProcess = server_factory(
        data_dir=tmp_path / "reg", SCORE_METADATA__KIND="registry", SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART)
    )
    admin = server.token("score.READ", "score.WRITE")
    api = Api(server, admin)
    data = b"p" * (2 * PART)
    payload = {"files": [{"fileName": "a.bam", "fileSize": len(data), "fileMd5sum": _md5(data)}]}
    sub = httpx.post(f"{server.url}/submit/PUB", json=payload, headers=api.headers).json()
    oid = sub["files"][0]["objectId"]
    first = api.initiate(oid, len(data)).json()
    _upload_parts(api, oid, first, data)
    assert api.finalize(oid, first["uploadId"], _md5(data)).status_code == 200
    again = api.initiate(oid, len(data), overwrite=True).json()  # a re-upload, under way when...
    chunks = _split(data, again)
    assert httpx.put(again["parts"][0]["url"], content=chunks[0]).status_code == 200
    pub = httpx.put(f"{server.url}/studies/PUB/analysis/publish/{sub['analysisId']}", headers=api.headers)
    assert pub.status_code == 200, pub.text  # ...the analysis is published
    for r in (
        api.confirm(oid, again["uploadId"], 1, chunks[0]),
        api.part_url(oid, again["uploadId"], 2, chunks[1]),
        api.status(oid, len(data)),
        api.finalize(oid, again["uploadId"], _md5(data)),
    ):
        assert r.status_code == 400 and r.json()["code"] == "analysis_state" and "PUBLISHED" in r.json()["message"], (
            r.text
        )
