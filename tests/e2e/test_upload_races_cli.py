"""Two score-client processes uploading different files to one object id, on every store (issue 20, defect 1).

At most one may exit 0, and the object the store then serves is exactly that client's file; the
other exits with a conflict (7) or integrity (5) error that says what happened. Nothing is mixed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.kit.files import MIB, md5_of, random_file
from tests.kit.servers import ServerProcess, confirmed_parts, run_client, start_client

pytestmark = [pytest.mark.e2e]
PART = 5 * MIB  # S3's smallest part


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.radosgw), "azure", "gcs"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """A score-server environment over a fresh bucket or container of each store."""
    if request.param == "local":
        return {"SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(PART)}
    emulator = request.getfixturevalue({"s3": "radosgw", "azure": "azurite", "gcs": "fake_gcs"}[request.param])
    return dict(emulator.server_env(f"race-{uuid.uuid4().hex[:12]}", SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART)))


def _stored_md5(srv: ServerProcess, token: str, oid: str, work: Path) -> str:
    out = work / f"check-{uuid.uuid4().hex[:6]}"
    got = run_client(["download", "--object-id", oid, "--output-dir", str(out)], server=srv.url, token=token)
    assert got.returncode == 0, got.stderr
    return md5_of(out / oid)


def test_two_clients_started_at_once(store_env: dict[str, str], server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(**store_env)
    token = srv.token("score.READ", "score.WRITE")
    files = [random_file(tmp_path / f"{n}.bam", 4 * PART + 321) for n in ("one", "two")]
    oid = str(uuid.uuid4())
    procs = [
        start_client(["upload", "--object-id", oid, "--file", str(f), "--parallel", "2"], server=srv.url, token=token)
        for f in files
    ]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for rc, out, err in outcomes:
        assert rc in (0, 5, 7), (rc, out, err)
        assert "Traceback" not in err
        if rc:
            assert "another" in err, err  # another client's upload, or another upload at the same moment
    winners = [f for f, (rc, _, _) in zip(files, outcomes, strict=True) if rc == 0]
    assert len(winners) <= 1, outcomes
    if not winners:  # both gave way to each other: the next attempt succeeds
        again = run_client(["upload", "--object-id", oid, "--file", str(files[0])], server=srv.url, token=token)
        assert again.returncode == 0, again.stderr
        winners = [files[0]]
    assert _stored_md5(srv, token, oid, tmp_path) == md5_of(winners[0])


def test_a_second_client_cannot_join_an_upload_under_way(
    store_env: dict[str, str], server_factory: Any, tmp_path: Path
) -> None:
    srv = server_factory(**store_env)
    token = srv.token("score.READ", "score.WRITE")
    first = random_file(tmp_path / "first.bam", 6 * PART + 5)
    second = random_file(tmp_path / "second.bam", 6 * PART + 5)
    oid = str(uuid.uuid4())
    proc = start_client(
        ["upload", "--object-id", oid, "--file", str(first), "--parallel", "1"], server=srv.url, token=token
    )
    deadline = time.monotonic() + 120
    while confirmed_parts(srv, token, oid, first) < 1 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGSTOP)  # the first upload stays under way, however fast this machine is
    try:
        late = run_client(
            ["upload", "--object-id", oid, "--file", str(second)], server=srv.url, token=token, timeout=120
        )
    except subprocess.TimeoutExpired as exc:  # say what the server was doing, rather than only that time ran out
        raise AssertionError(f"the second client hung: {exc.stderr!r}\nserver log:\n{srv.log()[-6000:]}") from None
    finally:
        proc.send_signal(signal.SIGCONT)
        if sys.exc_info()[0] is not None:  # no stopped client (nor its pipes) outlives a failure
            proc.kill()
            proc.communicate()
    out, err = proc.communicate(timeout=200)
    assert late.returncode == 7 and "started by another client" in late.stderr, late.stderr
    assert "--force" in late.stderr
    assert proc.returncode == 0, (out, err)
    assert _stored_md5(srv, token, oid, tmp_path) == md5_of(first)
    # --force replaces the finished object with the second file, as asked
    forced = run_client(["upload", "--object-id", oid, "--file", str(second), "--force"], server=srv.url, token=token)
    assert forced.returncode == 0, forced.stderr
    assert _stored_md5(srv, token, oid, tmp_path) == md5_of(second)


def test_the_same_file_uploaded_by_two_processes_at_once_ends_well_for_both(
    store_env: dict[str, str], server_factory: Any, tmp_path: Path
) -> None:
    """New-user trial: ``upload --manifest M`` run twice, 0.3 s apart. The second joined the first's upload (the
    same file: the same owner, as a resumed run is) and exited 4, "no such multipart upload ... (check the object
    id)", once the first had finished it; a part the second sent again was seen as missing by the first's
    confirmation while the local store rewrote it (exit 2). Both are the same file: both must end with exit 0."""
    srv = server_factory(**store_env)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "same.bam", 6 * PART + 5)
    oid = str(uuid.uuid4())
    args = ["upload", "--object-id", oid, "--file", str(src), "--parallel", "1"]
    first = start_client(args, server=srv.url, token=token)
    deadline = time.monotonic() + 120
    while confirmed_parts(srv, token, oid, src) < 1 and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.02)
    second = start_client(args, server=srv.url, token=token)
    for proc in (first, second):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, (out, err)
        assert out.startswith((f"uploaded {oid}", f"skipped {oid}: already uploaded")), out
    assert _stored_md5(srv, token, oid, tmp_path) == md5_of(src)
