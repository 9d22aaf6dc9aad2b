"""Faults (issue 20's tier): score-server killed and restarted mid-transfer, radosgw stopped and restarted,
a full disk under the server's store, a part PUT cut off, and a metadata service that is dead, hangs,
trickles, answers HTML or pages forever.

Each case asserts the exact status and exit code, that nothing unverified is ever under a final name (a
download's file, or a stored object before its finalize), and that the next transfer works. A client that
outlives a fault by retrying exits 0; one whose retries run out exits 6 and the same command resumes.
(Killing the client itself, and a full output directory: test_transfer_cli.py and test_cloud_backends.py;
a Song that pages forever, seen by the server: tests/integration/test_hardening.py.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from score.wire.headers import UPLOAD_TOKEN_HEADER
from tests.kit.checks import bearer, ok
from tests.kit.fake_song import EndlessSong, SongDouble
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.radosgw import Radosgw
from tests.kit.servers import PYTHON, ServerProcess, owner_headers, run_client, start_client

pytestmark = pytest.mark.e2e
PART = 5 * MIB
SIZE = 40 * MIB + 321  # 9 parts, the last one short
RESUME_HINT = "re-run the same command to resume"
UPSTREAM_HINT = f"the server, the object store or the metadata service is unavailable; {RESUME_HINT}"


def _confirmed(srv: ServerProcess, token: str, oid: str, path: Path) -> int:
    """Parts confirmed so far, asked as the uploading client (only the upload's owner may see them)."""
    r = httpx.get(
        f"{srv.url}/upload/{oid}/status",
        params={"fileSize": path.stat().st_size},
        headers=owner_headers(token, oid, path),
    )
    return sum(1 for p in r.json()["parts"] if p["md5"]) if r.status_code == 200 else 0


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 60) -> None:
    """Poll *condition* while the client runs; fail if it ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the client ended (rc={proc.returncode}) before {what}\n{out}\n{err}")
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.005)


def _logged_parts(state: Path) -> int:
    """Parts a running download recorded as written and verified."""
    log = state / "parts.log"
    return log.read_text().count("\n") if log.exists() else 0


def _exit_6(rc: int, out: str, err: str) -> None:
    """The client ended with 6 and the hint to re-run, without a traceback."""
    assert rc == 6, f"rc={rc}\n{out}\n{err}"
    assert err.startswith("score-client: error: ") and err.endswith(f"; {RESUME_HINT})\n"), err
    assert "Traceback" not in err


def _gave_up(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=240)
    _exit_6(proc.returncode, out, err)


def _resumed(args: list[str], srv: ServerProcess, token: str, kept: int = 2) -> str:
    """Run *args* again: it must end with 0 and resume (at least *kept* parts), not start over."""
    out = ok(run_client(args, server=srv.url, token=token))
    if args[0] == "upload":
        assert int(out.split(" already on the server")[0].rsplit(" ", 1)[-1]) >= kept, out
    else:
        assert int(out.split(" resumed")[0].rsplit(" ", 1)[-1]) >= kept, out
    return out


def _outlived_or_exit_6(proc: subprocess.Popen[str], args: list[str], srv: ServerProcess, token: str) -> str:
    """The client's own ending after a fault that was over in a few seconds: 0 (it outlived the fault by
    retrying), or 6 and the same command resumes. Returns the stdout of the run that succeeded."""
    out, err = proc.communicate(timeout=240)
    if proc.returncode == 0:
        assert "Traceback" not in err
        return out
    _exit_6(proc.returncode, out, err)
    return _resumed(args, srv, token)


def _object_md5(srv: ServerProcess, token: str, oid: str) -> str | None:
    """The MD5 the server records for a finished object, or None when there is none (404)."""
    r = httpx.get(f"{srv.url}/download/{oid}", params={"exclude-urls": "true"}, headers=bearer(token))
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return str(r.json()["objectMd5"])


def _requests(srv: ServerProcess, method: str, path: str, since: int = 0) -> list[int]:
    """The statuses of the server's access-log lines for *method* *path*, from log offset *since* on."""
    out = []
    for line in srv.log()[since:].splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == "score.access" and (entry.get("method"), entry.get("path")) == (method, path):
            out.append(int(entry["status"]))
    return out


def _no_temporary_files(srv: ServerProcess) -> None:
    if srv.env.get("SCORE_STORAGE__KIND", "local") == "local":
        assert not list(srv.data_dir.rglob(".score-tmp-*"))


def _download_and_compare(srv: ServerProcess, token: str, oid: str, src: Path, out_dir: Path) -> None:
    out = ok(run_client(["download", "--object-id", oid, "--output-dir", str(out_dir)], server=srv.url, token=token))
    assert "md5 verified" in out and md5_of(out_dir / oid) == md5_of(src)
    assert not (out_dir / f".{oid}").exists()  # no resume state left behind


@pytest.fixture
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """A score-server's environment (indirect: ``local``, or ``radosgw`` for a fresh bucket there)."""
    env = {"SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(PART)}
    if request.param == "radosgw":
        rgw: Radosgw = request.getfixturevalue("radosgw")
        env = rgw.server_env(f"faults-{uuid.uuid4().hex[:12]}", **env)
    return env


# ---- score-server killed mid-transfer ----------------------------------------------------------

# "at once": restarted as a supervisor would, while the client retries; "after_exit": restarted only
# once the client gave up (6), so that the same command must resume.
RESTARTS = pytest.mark.parametrize(
    ("store_env", "restart"),
    [
        ("local", "at_once"),
        ("local", "after_exit"),
        pytest.param("radosgw", "at_once", marks=pytest.mark.radosgw),
    ],
    indirect=["store_env"],
)


@RESTARTS
def test_server_sigkill_mid_upload_then_restart(
    server_factory: Any, store_env: dict[str, str], restart: str, tmp_path: Path
) -> None:
    srv: ServerProcess = server_factory(**store_env)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", SIZE)
    oid = str(uuid.uuid4())
    up = ["upload", "--object-id", oid, "--file", str(src), "--parallel", "1"]
    proc = start_client(up, server=srv.url, token=token)
    _wait_for(lambda: _confirmed(srv, token, oid, src) >= 2, proc, "two parts were confirmed")
    srv.kill()
    if restart == "after_exit":
        _gave_up(proc)  # after ~30 s of retries
        before = len(srv.log())
        srv.start()
        assert _object_md5(srv, token, oid) is None  # nothing stored under the object's name
        out = _resumed(up, srv, token)
    else:
        before = len(srv.log())
        srv.start()
        out = _outlived_or_exit_6(proc, up, srv, token)
    assert md5_of(src) in out
    assert _requests(srv, "POST", f"/upload/{oid}", before) == [200]  # finalized by the restarted server
    assert _object_md5(srv, token, oid) == md5_of(src)
    _no_temporary_files(srv)
    _download_and_compare(srv, token, oid, src, tmp_path / "o")


@RESTARTS
def test_server_sigkill_mid_download_then_restart(
    server_factory: Any, store_env: dict[str, str], restart: str, tmp_path: Path
) -> None:
    srv: ServerProcess = server_factory(**store_env)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", SIZE)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    out_dir = tmp_path / "o"
    target = out_dir / oid
    down = ["download", "--object-id", oid, "--output-dir", str(out_dir), "--parallel", "1"]
    proc = start_client(down, server=srv.url, token=token)
    _wait_for(lambda: _logged_parts(out_dir / f".{oid}") >= 2, proc, "two parts were written")
    srv.kill()
    assert not target.exists() or md5_of(target) == md5_of(src)  # only a verified file is ever there
    if restart == "after_exit":
        _gave_up(proc)
        assert not target.exists()
        srv.start()
        out = _resumed(down, srv, token)
    else:
        srv.start()
        out = _outlived_or_exit_6(proc, down, srv, token)
    assert "md5 verified" in out and md5_of(target) == md5_of(src)
    assert not (out_dir / f".{oid}").exists()
    _download_and_compare(srv, token, oid, src, tmp_path / "again")


# ---- radosgw stopped and restarted mid-transfer --------------------------------------------------


@pytest.mark.radosgw
@pytest.mark.parametrize("direction", ["upload", "download"])
def test_radosgw_restart_mid_transfer(radosgw: Radosgw, server_factory: Any, tmp_path: Path, direction: str) -> None:
    srv: ServerProcess = server_factory(
        **radosgw.server_env(f"faults-{uuid.uuid4().hex[:12]}", SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART))
    )
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", SIZE)
    oid = str(uuid.uuid4())
    out_dir = tmp_path / "o"
    target = out_dir / oid
    if direction == "upload":
        args = ["upload", "--object-id", oid, "--file", str(src), "--parallel", "1"]
        proc = start_client(args, server=srv.url, token=token)
        _wait_for(lambda: _confirmed(srv, token, oid, src) >= 2, proc, "two parts were confirmed")
    else:
        ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        args = ["download", "--object-id", oid, "--output-dir", str(out_dir), "--parallel", "1"]
        proc = start_client(args, server=srv.url, token=token)
        _wait_for(lambda: _logged_parts(out_dir / f".{oid}") >= 2, proc, "two parts were written")
    radosgw.stop_gateway()
    try:
        health = httpx.get(f"{srv.url}/health", timeout=60)
        assert health.status_code == 503 and health.json()["components"]["store"]["status"] == "DOWN"
        if direction == "upload":
            r = httpx.get(
                f"{srv.url}/download/{oid}", params={"exclude-urls": "true"}, headers=bearer(token), timeout=60
            )
            assert (r.status_code, r.headers.get("retry-after"), r.json()["code"]) == (503, "5", "upstream_unavailable")
        else:
            assert not target.exists() or md5_of(target) == md5_of(src)
    finally:
        radosgw.start_gateway()
    assert httpx.get(f"{srv.url}/health", timeout=60).status_code == 200
    out = _outlived_or_exit_6(proc, args, srv, token)
    if direction == "upload":
        assert md5_of(src) in out and _object_md5(srv, token, oid) == md5_of(src)
        _download_and_compare(srv, token, oid, src, out_dir)
    else:
        assert "md5 verified" in out and md5_of(target) == md5_of(src)
        _download_and_compare(srv, token, oid, src, tmp_path / "again")


def test_a_part_put_cut_off_by_its_client_keeps_nothing_and_is_not_a_500(server_factory: Any) -> None:
    """A client killed (or giving up) mid-part left a traceback and a 500 in the server's log and metrics:
    starlette's ClientDisconnect escaped the store's PUT route as an unhandled error."""
    srv: ServerProcess = server_factory(SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART))
    headers = {**bearer(srv.token("score.WRITE")), UPLOAD_TOKEN_HEADER: "c" * 32}
    oid, data = str(uuid.uuid4()), os.urandom(PART)
    md5 = hashlib.md5(data).hexdigest()
    upload_id = httpx.post(f"{srv.url}/upload/{oid}/uploads", params={"fileSize": PART}, headers=headers).json()[
        "uploadId"
    ]
    part = httpx.get(
        f"{srv.url}/upload/{oid}/parts/url",
        headers=headers,
        params={"uploadId": upload_id, "partNumber": 1, "md5": md5},
    ).json()
    url = urlsplit(part["url"])
    content_md5 = base64.b64encode(bytes.fromhex(md5)).decode()
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(
            f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {PART}\r\n"
            f"Content-MD5: {content_md5}\r\n\r\n".encode()
            + data[: PART // 2]
        )
        time.sleep(0.3)  # the server is reading the body
    deadline = time.monotonic() + 10
    while not (puts := _requests(srv, "PUT", url.path)):
        assert time.monotonic() < deadline, "the cut-off PUT was never logged"
        time.sleep(0.05)
    assert puts == [499]  # nginx's "client closed request", as for cancelled reads
    assert "unhandled error" not in srv.log() and "Traceback" not in srv.log()
    assert not list(srv.data_dir.rglob(".score-tmp-*"))
    confirmed = httpx.get(f"{srv.url}/upload/{oid}/status", params={"fileSize": PART}, headers=headers).json()
    assert [p["md5"] for p in confirmed["parts"]] == [None]
    put = httpx.put(part["url"], content=data, headers={"Content-MD5": content_md5})  # the next try works
    assert put.status_code == 200 and put.headers["etag"] == f'"{md5}"'


# ---- the server's store on a full disk -----------------------------------------------------------


@pytest.fixture
def store_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs for the server's data directory, unmounted at the end; the test is skipped, saying so,
    where mounting is not permitted."""
    point = tmp_path / "store-disk"
    point.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        pytest.skip(
            f"mounting is not permitted here ({(r.stderr or r.stdout).strip()}): the server's full-disk "
            "test needs a small tmpfs"
        )
    try:
        yield point
    finally:
        if subprocess.run(["umount", str(point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], check=False)


def _health(srv: ServerProcess) -> tuple[int, dict[str, Any]]:
    r = httpx.get(f"{srv.url}/health", timeout=10)
    return r.status_code, r.json()["components"]["store"]


def test_server_store_full_is_507_exit_8_and_resumes(store_tmpfs: Path, server_factory: Any, tmp_path: Path) -> None:
    # (store_tmpfs first: it is unmounted after the server has stopped)
    floor = 16 * MIB
    srv: ServerProcess = server_factory(
        store_tmpfs, SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART), SCORE_STORAGE__MIN_FREE_BYTES=str(floor)
    )
    token = srv.token("score.READ", "score.WRITE")
    assert _health(srv)[0] == 200
    src = random_file(tmp_path / "src.bin", 30 * MIB + 99)  # 7 parts; a part briefly takes twice its size
    oid = str(uuid.uuid4())
    filler = store_tmpfs / "filler"
    with open(filler, "wb") as fh:  # leave room for two parts, not three
        fh.write(b"\0" * (os.statvfs(store_tmpfs).f_bavail * os.statvfs(store_tmpfs).f_frsize - 18 * MIB))
    up = ["upload", "--object-id", oid, "--file", str(src), "--parallel", "1"]
    r = run_client(up, server=srv.url, token=token)
    assert r.returncode == 8, f"rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    assert r.stderr.startswith("score-client: error: the server's store is out of disk space ("), r.stderr
    assert r.stderr.endswith(
        "(the server's store is full, not this machine's disk; the parts it confirmed are "
        "kept: re-run the same command once its operator has freed space)\n"
    ), r.stderr
    puts = _requests(srv, "PUT", f"/_store/data/{oid}")
    # the third part did not fit and was not retried; a PUT the client had already started is cut off as it stops
    assert puts[:3] == [200, 200, 507] and set(puts[3:]) <= {499}, puts
    assert not list(store_tmpfs.rglob(".score-tmp-*"))  # the partial part is gone
    assert _object_md5(srv, token, oid) is None
    status, store = _health(srv)
    assert (status, store["status"]) == (503, "DOWN")
    assert store["details"]["freeBytes"] < store["details"]["minFreeBytes"] == floor
    # the data directory is there: only too full (the trial read "foundBucket": false as a missing bucket)
    assert store["details"]["foundBucket"] is True and store["details"]["reason"].startswith("free space ")
    filler.unlink()
    status, store = _health(srv)
    assert (status, store["status"]) == (200, "UP") and store["details"]["freeBytes"] > floor
    out = _resumed(up, srv, token)
    assert "5 of 7 parts sent, 2 already on the server" in out
    assert md5_of(src) in out and _object_md5(srv, token, oid) == md5_of(src)
    assert not list(store_tmpfs.rglob(".score-tmp-*"))
    _download_and_compare(srv, token, oid, src, tmp_path / "o")
    # a start cut short (by a crash or a full disk) before upload.json was written: cleanup removes it
    half = store_tmpfs / "multipart" / secrets.token_urlsafe(24)
    (half / "parts").mkdir(parents=True)
    os.utime(half, (time.time() - 3600, time.time() - 3600))
    cmd = [PYTHON, "-m", "score.cli.server_main", "cleanup", "--data-dir", str(store_tmpfs), "--older-than", "1s"]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **srv.env}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"aborted upload  {half.name}" in done.stdout, done.stdout
    assert not half.exists() and list((store_tmpfs / "multipart").iterdir()) == []


# ---- the metadata service dead, hanging, answering HTML or paging forever ------------------------

SONG_TIMEOUT = 1.0  # SCORE_METADATA__TIMEOUT (default 10 s), short here to keep the client's retries short
SONG_FAULTS = {
    "dead": "the metadata service (Song) is unreachable (ConnectError)",
    "hang": f"the metadata service (Song) did not answer within {SONG_TIMEOUT:g} s",
    "trickle": f"the metadata service (Song) did not answer within {SONG_TIMEOUT:g} s",
    "html200": "the metadata service (Song) sent malformed JSON",
    "html502": "the metadata service (Song) answered HTTP 502",
}


@dataclass
class Published:
    """One file uploaded to a score-server whose metadata service is a Song double, and published."""

    srv: ServerProcess
    token: str
    oid: str
    src: Path
    objects: dict[str, dict[str, object]]  # what the Song double knows
    song_port: int


@pytest.fixture
def published(server_factory: Any, tmp_path: Path) -> Published:
    src = random_file(tmp_path / "reads.bam", 3 * MIB)
    oid = str(uuid.uuid4())
    record: dict[str, object] = {
        "study": "FAULTS",
        "analysis": "AN1",
        "state": "UNPUBLISHED",
        "name": "reads.bam",
        "size": src.stat().st_size,
        "md5": md5_of(src),
    }
    song = SongDouble({oid: record}).start()
    try:
        srv: ServerProcess = server_factory(
            SCORE_METADATA__KIND="song",
            SCORE_METADATA__URL=song.url,
            SCORE_METADATA__TIMEOUT=str(SONG_TIMEOUT),
            SCORE_METADATA__CACHE_TTL="0",
        )
        token = srv.token("score.READ", "score.WRITE")
        ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        record["state"] = "PUBLISHED"
    finally:
        song.stop()
    return Published(srv, token, oid, src, {oid: record}, song.port)


@pytest.mark.parametrize("fault", list(SONG_FAULTS))
def test_metadata_service_fault_is_503_exit_6_then_the_next_download_works(
    published: Published, tmp_path: Path, fault: str
) -> None:
    srv, token, oid = published.srv, published.token, published.oid
    out_dir = tmp_path / "o"
    down = ["download", "--object-id", oid, "--output-dir", str(out_dir)]
    song = SongDouble(published.objects, fault=fault, port=published.song_port).start() if fault != "dead" else None
    try:
        started = time.monotonic()
        r = httpx.get(f"{srv.url}/download/{oid}", headers=bearer(token), timeout=60)
        took = time.monotonic() - started
        assert (r.status_code, r.headers["retry-after"], r.headers["content-type"]) == (503, "5", "application/json")
        assert r.json() == {"code": "upstream_unavailable", "message": SONG_FAULTS[fault], "retryable": True}
        assert took < SONG_TIMEOUT + 2, took
        d = run_client(down, server=srv.url, token=token)
        assert d.returncode == 6, f"rc={d.returncode}\n{d.stdout}\n{d.stderr}"
        assert d.stderr == f"score-client: error: {SONG_FAULTS[fault]} ({UPSTREAM_HINT})\n"
        assert not out_dir.exists() or list(out_dir.iterdir()) == []  # nothing, under any name
    finally:
        if song is not None:
            song.stop()
    song = SongDouble(published.objects, port=published.song_port).start()  # back, where it was
    try:
        out = ok(run_client(down, server=srv.url, token=token))
        assert "md5 verified" in out and md5_of(out_dir / oid) == md5_of(published.src), out  # no /entities: by id
    finally:
        song.stop()


def test_a_metadata_service_that_pages_forever_is_exit_6_then_the_next_download_works(
    published: Published, tmp_path: Path
) -> None:
    """The client walked Song's pages of an analysis without end when Song never said ``last``.
    (The server's walk: tests/integration/test_hardening.py.)"""
    srv, token = published.srv, published.token
    out_dir = tmp_path / "o"
    down = ["download", "--analysis-id", "AN1", "--study-id", "FAULTS", "--output-dir", str(out_dir)]
    endless = EndlessSong().start()
    try:
        d = run_client([*down, "--metadata-url", endless.url], server=srv.url, token=token, timeout=60)
    finally:
        endless.stop()
    assert d.returncode == 6, f"rc={d.returncode}\n{d.stdout}\n{d.stderr}"
    assert d.stderr == (
        "score-client: error: the metadata service sent 100 pages of entities without saying which "
        f"was the last ({UPSTREAM_HINT})\n"
    )
    assert endless.pages == list(range(100)) and not out_dir.exists()
    song = SongDouble(published.objects, port=published.song_port).start()
    try:
        out = ok(run_client([*down, "--metadata-url", song.url], server=srv.url, token=token))
        assert "md5 verified" in out and md5_of(out_dir / "reads.bam") == md5_of(published.src), out
    finally:
        song.stop()
