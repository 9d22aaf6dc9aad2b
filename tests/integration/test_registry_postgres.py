"""score-server with its registry on PostgreSQL: start-up, migrations, an outage of the database, two servers on
one database; and, on both engines, a publish racing the finalize of the analysis's last upload.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.kit.checks import bearer
from tests.kit.postgres import Postgres
from tests.kit.servers import PYTHON, ServerProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
MIB = 1024 * 1024


def _server(tmp_path: Path, url: str, **extra: str) -> ServerProcess:
    env = {
        "SCORE_METADATA__KIND": "registry",
        "SCORE_REGISTRY__URL": url,  # empty: SQLite in the data directory
        "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(5 * MIB),
        **extra,
    }
    return ServerProcess(tmp_path / "data", free_port(), env=env)


def _server_cli(tmp_path: Path, url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCORE_REGISTRY__URL": url, **extra}
    cmd = [PYTHON, "-m", "score.cli.server_main", *args, "--data-dir", str(tmp_path / "data")]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def _submit(srv: ServerProcess, token: str, blobs: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    files = [{"fileName": n, "fileSize": len(b), "fileMd5sum": hashlib.md5(b).hexdigest()} for n, b in blobs.items()]
    r = httpx.post(f"{srv.url}/submit/PG", json={"files": files}, headers=bearer(token), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["analysisId"], {f["fileName"]: f["objectId"] for f in r.json()["files"]}


def _send_parts(srv: ServerProcess, token: str, oid: str, data: bytes) -> str:
    """Initiate and send every part of *data* (not finalized); the upload id."""
    r = httpx.post(f"{srv.url}/upload/{oid}/uploads", params={"fileSize": len(data)}, headers=bearer(token))
    assert r.status_code == 200, r.text
    spec = r.json()
    for p in spec["parts"]:
        chunk = data[p["offset"] : p["offset"] + p["partSize"]]
        etag = httpx.put(p["url"], content=chunk).headers["ETag"].strip('"')
        params = {"uploadId": spec["uploadId"], "partNumber": p["partNumber"], "etag": etag}
        params["md5"] = hashlib.md5(chunk).hexdigest()
        httpx.post(f"{srv.url}/upload/{oid}/parts", params=params, headers=bearer(token)).raise_for_status()
    return str(spec["uploadId"])


def _finalize(srv: ServerProcess, token: str, oid: str, upload_id: str, data: bytes) -> httpx.Response:
    params = {"uploadId": upload_id, "md5": hashlib.md5(data).hexdigest()}
    return httpx.post(f"{srv.url}/upload/{oid}", params=params, headers=bearer(token), timeout=30)


def _race(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run *calls* at the same moment, each in its own thread; their responses in order."""
    barrier = threading.Barrier(len(calls))
    results: dict[int, httpx.Response] = {}

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return [results[i] for i in range(len(calls))]


@pytest.fixture
def own_cluster() -> Iterator[Postgres]:
    """A cluster of this test's own, to be stopped and started again."""
    cluster = Postgres().start()
    yield cluster
    cluster.stop()


def test_a_database_outage_is_503_and_the_server_recovers(own_cluster: Postgres, tmp_path: Path) -> None:
    srv = _server(tmp_path, own_cluster.database(), SCORE_REGISTRY__CONNECT_TIMEOUT="2").start()
    try:
        token = srv.token("score.READ", "score.WRITE")
        data = os.urandom(1000)
        analysis, ids = _submit(srv, token, {"a.vcf.gz": data})
        own_cluster.halt()
        r = httpx.post(f"{srv.url}/submit/PG", json={"files": []}, headers=bearer(token), timeout=30)
        assert r.status_code == 400  # a bad payload is refused before any database call
        good = {"files": [{"fileName": "b", "fileSize": 1, "fileMd5sum": "0" * 32}]}
        for r in (
            httpx.post(f"{srv.url}/submit/PG", json=good, headers=bearer(token), timeout=30),
            httpx.get(f"{srv.url}/studies/PG/analysis/{analysis}", timeout=30),
            httpx.get(
                f"{srv.url}/download/{ids['a.vcf.gz']}", params={"offset": 0, "length": -1}, headers=bearer(token)
            ),
        ):
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["code"] == "upstream_unavailable" and body["retryable"] is True
            assert body["message"] == "the registry database is unavailable; try again shortly"  # no address
        assert f"the registry database postgresql://score@127.0.0.1:{own_cluster.port}/" in srv.log()  # for operators
        assert srv.proc is not None and srv.proc.poll() is None  # the server stays up
        own_cluster.resume()
        r = httpx.get(f"{srv.url}/studies/PG/analysis/{analysis}", timeout=30)
        assert r.status_code == 200 and r.json()["analysisState"] == "UNPUBLISHED"
        assert httpx.post(f"{srv.url}/submit/PG", json=good, headers=bearer(token), timeout=30).status_code == 200
    finally:
        srv.stop()


def test_start_up_migrate_and_an_unreachable_database(postgres: Postgres, tmp_path: Path) -> None:
    url = postgres.database()
    refused = _server_cli(tmp_path, url, "serve", "--port", str(free_port()), SCORE_REGISTRY__MIGRATE_ON_START="false")
    assert refused.returncode == 2 and "run `score-server migrate`" in refused.stderr, refused.stderr
    first = _server_cli(tmp_path, url, "migrate")
    assert first.returncode == 0 and "applied migration(s) [1]" in first.stdout, first.stderr
    again = _server_cli(tmp_path, url, "migrate")
    assert again.returncode == 0 and "nothing to apply" in again.stdout
    srv = _server(tmp_path, url, SCORE_REGISTRY__MIGRATE_ON_START="false").start()  # migrated: it starts
    srv.stop()
    nowhere = f"postgresql://score:hunter2-secret@127.0.0.1:{free_port()}/score"
    down = _server_cli(tmp_path, nowhere, "serve", "--port", str(free_port()), SCORE_REGISTRY__CONNECT_TIMEOUT="2")
    assert down.returncode == 2 and "cannot prepare the registry database postgresql://score@127.0.0.1" in down.stderr
    assert "hunter2" not in down.stderr + down.stdout and "Traceback" not in down.stderr
    bad = _server_cli(tmp_path, "mysql://x@y/z", "migrate")
    assert bad.returncode == 2 and "must be a postgresql:// URL" in bad.stderr


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_publish_racing_the_last_finalize_never_publishes_a_missing_file(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    srv = _server(tmp_path, request.getfixturevalue("postgres").database() if engine == "postgres" else "")
    srv.start()
    try:
        token = srv.token("score.READ", "score.WRITE")
        for _ in range(5):
            blobs = {f"f{i}.bam": os.urandom(200_000 + i) for i in range(3)}
            analysis, ids = _submit(srv, token, blobs)
            uploads = {n: _send_parts(srv, token, ids[n], b) for n, b in blobs.items()}
            for n in ("f0.bam", "f1.bam"):
                assert _finalize(srv, token, ids[n], uploads[n], blobs[n]).status_code == 200
            last = partial(_finalize, srv, token, ids["f2.bam"], uploads["f2.bam"], blobs["f2.bam"])
            publish = partial(httpx.put, f"{srv.url}/studies/PG/analysis/publish/{analysis}", headers=bearer(token))
            fin, pub = _race(last, publish)
            assert fin.status_code == 200, fin.text  # the upload began before publish: it always completes
            assert pub.status_code in (200, 409), pub.text
            if pub.status_code == 409:  # it looked before the file was there: publishing again now works
                assert "has not been uploaded" in pub.json()["message"]
                again = httpx.put(f"{srv.url}/studies/PG/analysis/publish/{analysis}", headers=bearer(token))
                assert again.status_code == 200, again.text
            for n, oid in ids.items():  # published: every file downloadable with its registered MD5
                r = httpx.get(f"{srv.url}/download/{oid}", params={"offset": 0, "length": -1}, headers=bearer(token))
                assert r.status_code == 200 and r.json()["objectMd5"] == hashlib.md5(blobs[n]).hexdigest()
    finally:
        srv.stop()


def test_two_servers_on_one_database_see_each_others_writes(postgres: Postgres, tmp_path: Path) -> None:
    url = postgres.database()
    one = _server(tmp_path, url).start()
    two = ServerProcess(one.data_dir, free_port(), env=dict(one.env)).start()  # same key, same database
    try:
        token = one.token("score.READ", "score.WRITE")
        assert f"registry in postgresql://score@127.0.0.1:{postgres.port}/" in one.log()  # the start-up line says
        analysis, ids = _submit(one, token, {"x.cram": b"abc"})
        r = httpx.get(f"{two.url}/studies/PG/analysis/{analysis}")
        assert r.status_code == 200 and [f["objectId"] for f in r.json()["files"]] == list(ids.values())
        r = httpx.put(f"{two.url}/studies/PG/analysis/suppress/{analysis}", headers=bearer(token))
        assert r.status_code == 200
        r = httpx.put(f"{one.url}/studies/PG/analysis/unpublish/{analysis}", headers=bearer(token))
        assert r.status_code == 400 and r.json()["code"] == "analysis_state"  # one saw two's suppression at once
        assert str(uuid.UUID(ids["x.cram"])) == ids["x.cram"]
    finally:
        one.stop()
        two.stop()
