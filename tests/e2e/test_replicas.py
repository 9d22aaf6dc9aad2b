"""Scale-out on real engines: three score-server replicas (two workers each) behind HAProxy, over one radosgw
bucket and one PostgreSQL registry, driven by score-client through the balancer only.

A batch of uploads runs while one replica is killed (SIGKILL of its whole process tree), and a batch of
downloads while another is restarted: every file ends MD5-verified, the bucket holds each object exactly once
with no multipart upload left behind, the registry knows every file, and the client never knew there were
replicas (one URL, exit 0).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.checks import bearer, ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.haproxy import HAProxy, available
from tests.kit.postgres import Postgres
from tests.kit.radosgw import Radosgw
from tests.kit.servers import ServerProcess, free_port, run_client, start_client

pytestmark = [pytest.mark.e2e, pytest.mark.radosgw, pytest.mark.postgres, pytest.mark.slow]
PART = 5 * MIB
FILES = 24


def _tree(pid: int) -> list[int]:
    """*pid* and its descendants (a replica is a supervisor and its worker processes)."""
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += _tree(int(child))
    return out


def _kill_replica(srv: ServerProcess) -> None:
    """SIGKILL the replica's supervisor and workers at once, as a lost machine would."""
    assert srv.proc is not None
    for pid in _tree(srv.proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.proc.wait(10)


def _wait_for(what: str, done: Callable[[], bool], client: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert client.poll() is None, f"the client ended before {what}: {client.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


@pytest.fixture
def cluster(radosgw: Radosgw, postgres: Postgres, tmp_path: Path) -> Iterator[tuple[list[ServerProcess], HAProxy, str]]:
    """Three replicas and the balancer; the bucket's name."""
    if not available():
        pytest.fail("HAProxy is not installed: run scripts/setup (scripts/test does; apt: haproxy)")
    bucket = f"score-{uuid.uuid4().hex[:12]}"
    env = radosgw.server_env(
        bucket,
        SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART),
        SCORE_METADATA__KIND="registry",
        SCORE_REGISTRY__URL=postgres.database(),
        SCORE_WORKERS="2",
        SCORE_TRUSTED_PROXIES=json.dumps(["127.0.0.1/32"]),
    )
    shared = tmp_path / "shared"  # the one token-signing key the replicas share (as one mounted secret would be)
    replicas = [ServerProcess(shared, free_port(), env=dict(env)).start(timeout=60) for _ in range(3)]
    lb = HAProxy([f"127.0.0.1:{r.port}" for r in replicas]).start()
    yield replicas, lb, bucket
    lb.stop()
    for r in replicas:
        if r.proc is not None and r.proc.poll() is None:
            _kill_replica(r)


def test_a_batch_through_haproxy_survives_a_killed_and_a_restarted_replica(
    cluster: tuple[list[ServerProcess], HAProxy, str], radosgw: Radosgw, tmp_path: Path
) -> None:
    replicas, lb, bucket = cluster
    token = replicas[0].token("score.READ", "score.WRITE")
    (tmp_path / "in").mkdir()
    sources = [random_file(tmp_path / "in" / f"sample{i:02d}.bam", (i % 6 + 1) * 2 * MIB + i) for i in range(FILES)]
    manifest = tmp_path / "manifest.txt"
    out = ok(
        run_client(
            ["submit", "--study-id", "REPL", "--files", *map(str, sources), "--manifest", str(manifest)],
            server=lb.url,
            token=token,
        )
    )
    analysis = out.split("submitted analysis ")[1].split()[0]
    s3 = radosgw.client()

    def stored() -> int:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="data/")
        return sum(o["Key"].endswith(".meta") for o in listing.get("Contents", []))

    upload = start_client(["upload", "--manifest", str(manifest), "--parallel", "2"], server=lb.url, token=token)
    _wait_for("3 objects stored", lambda: stored() >= 3, upload)
    _kill_replica(replicas[0])  # mid-batch: its in-flight requests fail, the balancer drops it
    out, err = upload.communicate(timeout=600)
    assert upload.returncode == 0, f"{out}\n{err}\n{lb.log()}"
    assert "replica1 is DOWN" in lb.log()  # the balancer saw the kill while the batch ran
    assert stored() == FILES

    ok(run_client(["publish", "--study-id", "REPL", "--analysis-id", analysis], server=lb.url, token=token))
    down = start_client(
        ["download", "--study-id", "REPL", "--analysis-id", analysis, "--output-dir", str(tmp_path / "out")],
        server=lb.url,
        token=token,
    )
    _wait_for("a downloaded file", lambda: any((tmp_path / "out").glob("*.bam")), down)
    replicas[1].stop()  # a rolling restart: SIGTERM, then up again on the same port
    replicas[1].start(timeout=60)
    out, err = down.communicate(timeout=600)
    assert down.returncode == 0, f"{out}\n{err}\n{lb.log()}"

    got = {p.name: md5_of(p) for p in (tmp_path / "out").glob("*.bam")}
    assert got == {p.name: md5_of(p) for p in sources}  # every file, MD5-verified, once
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="data/")
    keys = [o["Key"] for o in listing.get("Contents", [])]
    assert len(keys) == 2 * FILES and len(set(keys)) == 2 * FILES  # each object and its .meta, nothing doubled
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # no upload left behind
    r = httpx.get(f"{lb.url}/entities", params={"gnosId": analysis, "size": 100}, headers=bearer(token))
    assert r.status_code == 200 and r.json()["totalElements"] == FILES
    for srv in (replicas[1], replicas[2]):  # every live replica reads the one registry
        r = httpx.get(f"{srv.url}/studies/REPL/analysis/{analysis}", timeout=10)
        assert r.status_code == 200 and r.json()["analysisState"] == "PUBLISHED"
