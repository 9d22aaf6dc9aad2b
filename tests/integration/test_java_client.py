"""Score's Java client's calls, replayed against a live score-server on the local store and on S3 (moto) (issue 22).

The replays (tests/kit/java_client.py) follow score-client's sources: a resume deletes a completed part whose
local bytes changed and re-sends it with the URL of the status; ``view`` reads through htsjdk's
``SeekableHTTPStream``, which takes the length from a HEAD on the GET URL. The in-process versions, with
the status codes and ``createdTime``, are in tests/unit/server/test_java_client.py.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.kit.checks import bearer
from tests.kit.java_client import HtsjdkStream, JavaUpload
from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
PART = 5 * MIB
DATA = os.urandom(2 * PART + 1234)  # three parts


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """score-server on S3 (an in-process moto server on a free loopback port), 5 MiB parts."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    env = {
        "SCORE_STORAGE__KIND": "s3",
        "SCORE_STORAGE__ENDPOINT": f"http://127.0.0.1:{port}",
        "SCORE_STORAGE__ACCESS_KEY": "testing",
        "SCORE_STORAGE__SECRET_KEY": "testing",
        "SCORE_STORAGE__OBJECT_BUCKET": f"java-{uuid.uuid4().hex[:12]}",
        "SCORE_STORAGE__CREATE_BUCKETS": "true",
        "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(PART),
    }
    srv = ServerProcess(tmp_path_factory.mktemp("moto-srv") / "data", free_port(), env=env)
    srv.start()
    yield srv
    srv.stop()
    moto.stop()


@pytest.fixture(params=["local", "moto"])
def live(request: pytest.FixtureRequest) -> ServerProcess:
    """The module's server on the local store, then the one on S3."""
    srv: ServerProcess = request.getfixturevalue("server" if request.param == "local" else "moto_server")
    return srv


def test_a_resume_resends_a_completed_part_whose_bytes_changed_with_the_status_url(live: ServerProcess) -> None:
    oid = str(uuid.uuid4())
    token = live.token("score.READ", "score.WRITE")
    with httpx.Client(base_url=live.url, headers=bearer(token), timeout=60) as api, httpx.Client(timeout=60) as store:
        java = JavaUpload(api, oid, DATA, store=store)
        assert java.status().status_code == 404
        parts = java.initiate()["parts"]
        assert len(parts) == 3
        java.send_part(parts[0])
        java.send_part(parts[1], body=os.urandom(PART))  # read wrongly the first time; then the client died
        progress = java.status().json()
        assert all(p["url"] for p in progress["parts"])  # the completed ones too
        java.calls.clear()
        assert java.resume().status_code == 200
        assert java.calls == [
            "GET /status 200",
            "DELETE /parts 200",
            "PUT part2 200",
            "POST /parts 200",
            "PUT part3 200",
            "POST /parts 200",
            "POST / 200",
        ]
        spec = api.get(f"/download/{oid}", params={"offset": 0, "length": -1, "external": "true"}).json()
        assert spec["objectMd5"] == md5(DATA)
        assert store.get(spec["parts"][0]["url"]).content == DATA


def test_htsjdk_reads_the_object_through_its_get_url(server: ServerProcess) -> None:
    """The local store answers HEAD on a GET URL with the object's length (S3 would refuse the signature)."""
    oid = str(uuid.uuid4())
    token = server.token("score.READ", "score.WRITE")
    with httpx.Client(base_url=server.url, headers=bearer(token), timeout=60) as api, httpx.Client(timeout=60) as store:
        java = JavaUpload(api, oid, DATA, store=store)
        for part in java.initiate()["parts"]:
            java.send_part(part)
        assert java.finalize().status_code == 200
        url = api.get(f"/download/{oid}", params={"offset": 0, "length": -1, "external": "true"}).json()
        stream = HtsjdkStream(store, url["parts"][0]["url"])
        assert (stream.head_status, stream.length) == (200, len(DATA))
        assert stream.read_all(3 * MIB) == DATA
        head = store.head(url["parts"][0]["url"])
        assert head.content == b"" and head.headers["Accept-Ranges"] == "bytes" and head.headers["ETag"]
        bad = store.head(url["parts"][0]["url"].replace("signature=", "signature=0"))
        assert bad.status_code == 403
