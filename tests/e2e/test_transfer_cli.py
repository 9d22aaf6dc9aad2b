"""score-client as a subprocess against live servers: the journeys a user makes."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.files import MIB, md5_of, random_file
from tests.kit.proxy import FaultProxy
from tests.kit.servers import ServerProcess, free_port, run_client, start_client

pytestmark = pytest.mark.e2e
SMALL_PARTS = {"SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(4 * MIB)}


def _ok(result: Any) -> str:
    assert result.returncode == 0, f"rc={result.returncode}\nstdout={result.stdout}\nstderr={result.stderr}"
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _kill(proc: Any) -> None:
    """SIGKILL, as a crash or an OOM killer would, then collect the process."""
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def _completed_parts(srv: ServerProcess, token: str, oid: str, size: int) -> int:
    r = httpx.get(f"{srv.url}/upload/{oid}/status", params={"fileSize": size},
                  headers={"Authorization": f"Bearer {token}"})
    if r.status_code != 200:
        return 0
    return sum(1 for p in r.json()["parts"] if p["md5"])


def test_256_mib_round_trip_with_md5(server_factory: Any, big_file: Path, tmp_path: Path) -> None:
    srv = server_factory()
    token = srv.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    out = _ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token))
    source_md5 = md5_of(big_file)
    assert source_md5 in out and "13 of 13 parts sent" in out
    out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "out")],
                         server=srv.url, token=token))
    assert "md5 verified" in out
    target = tmp_path / "out" / oid
    assert md5_of(target) == source_md5
    assert not (tmp_path / "out" / f".{oid}").exists()  # no resume state left behind
    # a second download skips the complete file; uploading again without --force is refused clearly
    assert "skipped" in _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "out")],
                                       server=srv.url, token=token))
    again = run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token)
    assert again.returncode == 7 and "--force" in again.stderr and "Traceback" not in again.stderr


def test_partial_download_validates(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", 10 * MIB)
    oid = str(uuid.uuid4())
    _ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o"), "--offset", "1000",
                          "--length", str(5 * MIB)], server=srv.url, token=token))
    assert "downloaded" in out
    assert (tmp_path / "o" / oid).read_bytes() == src.read_bytes()[1000 : 1000 + 5 * MIB]


def test_zero_byte_file(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory()
    token = srv.token("score.READ", "score.WRITE")
    empty = tmp_path / "empty.vcf"
    empty.write_bytes(b"")
    oid = str(uuid.uuid4())
    _ok(run_client(["upload", "--object-id", oid, "--file", str(empty)], server=srv.url, token=token))
    out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")],
                         server=srv.url, token=token))
    assert "md5 verified" in out and (tmp_path / "o" / oid).read_bytes() == b""


def test_sigkill_mid_upload_resumes_without_resending(server_factory: Any, big_file: Path, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    size = big_file.stat().st_size
    total = -(-size // (4 * MIB))
    proc = start_client(["upload", "--object-id", oid, "--file", str(big_file), "--parallel", "2"],
                        server=srv.url, token=token)
    deadline = time.monotonic() + 60
    while _completed_parts(srv, token, oid, size) < 5 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    _kill(proc)
    done_before = _completed_parts(srv, token, oid, size)
    assert 5 <= done_before < total
    out = _ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token))
    sent = int(out.split(" parts sent")[0].rsplit(" ", 3)[-3])
    skipped = int(out.split(" already on the server")[0].rsplit(" ", 1)[-1])
    assert skipped >= done_before and sent + skipped == total and sent <= total - done_before
    out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")],
                         server=srv.url, token=token))
    assert md5_of(tmp_path / "o" / oid) == md5_of(big_file)


def test_sigkill_mid_download_resumes(server_factory: Any, big_file: Path, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    _ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token))
    out_dir = tmp_path / "o"
    log = out_dir / f".{oid}" / "parts.log"
    proc = start_client(["download", "--object-id", oid, "--output-dir", str(out_dir), "--parallel", "2"],
                        server=srv.url, token=token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if log.exists() and log.read_text().count("\n") >= 5:
            break
        time.sleep(0.01)
    _kill(proc)
    assert not (out_dir / oid).exists()  # a partial file never appears under the final name
    # damage a part the killed run had recorded: the resumed download must still end verified
    first = json.loads(log.read_text().splitlines()[0])["n"]
    data = out_dir / f".{oid}" / "data"
    with open(data, "r+b") as fh:
        fh.seek((first - 1) * 4 * MIB + 123)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(out_dir)], server=srv.url, token=token))
    resumed = int(out.split(" resumed")[0].rsplit(" ", 1)[-1])
    assert resumed >= 5 and "md5 verified" in out
    assert md5_of(out_dir / oid) == md5_of(big_file)


def test_two_servers_over_one_data_dir_serve_one_upload(
    server_factory: Any, big_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "shared-data"
    a = server_factory(data, **SMALL_PARTS)
    b = server_factory(data, **SMALL_PARTS)
    token = a.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    size = big_file.stat().st_size
    proc = start_client(["upload", "--object-id", oid, "--file", str(big_file), "--parallel", "2"],
                        server=a.url, token=token)
    deadline = time.monotonic() + 60
    while _completed_parts(b, token, oid, size) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    _kill(proc)
    out = _ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=b.url, token=token))
    assert "already on the server" in out and " 0 already" not in out
    _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=a.url, token=token))
    assert md5_of(tmp_path / "o" / oid) == md5_of(big_file)


def test_corrupted_part_in_flight_is_detected_and_resent(server_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    proxy = FaultProxy(port, corrupt_puts=2).start()
    try:
        srv = server_factory(port=port, SCORE_PUBLIC_URL=proxy.url, **SMALL_PARTS)
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "src.bam", 20 * MIB)
        oid = str(uuid.uuid4())
        _ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        assert proxy.corrupted == 2
        _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")],
                       server=srv.url, token=token))
        assert md5_of(tmp_path / "o" / oid) == md5_of(src)
    finally:
        proxy.stop()


def test_corrupted_download_in_flight_refetches_only_the_bad_part(server_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    proxy = FaultProxy(port, corrupt_gets=1).start()
    try:
        srv = server_factory(port=port, SCORE_PUBLIC_URL=proxy.url, **SMALL_PARTS)
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "src.bam", 20 * MIB + 77)  # 5 parts of 4 MiB and a short one
        oid = str(uuid.uuid4())
        _ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")],
                             server=srv.url, token=token))
        assert proxy.corrupted_gets == 1
        assert proxy.store_gets == 6 + 1  # six parts, and the corrupted one once more
        assert "md5 verified" in out
        assert md5_of(tmp_path / "o" / oid) == md5_of(src)
        # the same with part-by-part checking (no whole-object MD5): caught as the part streams
        proxy.corrupt_gets, proxy.corrupted_gets, proxy.store_gets = 1, 0, 0
        out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "p"), "--validate",
                              "false"], server=srv.url, token=token))
        assert proxy.corrupted_gets == 1 and proxy.store_gets == 7
        assert md5_of(tmp_path / "p" / oid) == md5_of(src)
    finally:
        proxy.stop()


def test_corrupt_stored_object_fails_download_without_leaving_a_file(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.cram", 9 * MIB)
    oid = str(uuid.uuid4())
    _ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    stored = srv.data_dir / "objects" / "data" / oid
    raw = bytearray(stored.read_bytes())
    raw[5 * MIB + 10] ^= 0xFF
    stored.write_bytes(bytes(raw))
    r = run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    assert r.returncode == 5, r.stderr
    assert "MD5" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o" / oid).exists()


def test_expired_urls_are_refreshed_not_restarted(server_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    proxy = FaultProxy(port, store_delay=0.6).start()
    try:
        ttl = {"SCORE_UPLOAD_URL_TTL": "1", "SCORE_DOWNLOAD_URL_TTL": "1"}
        srv = server_factory(port=port, SCORE_PUBLIC_URL=proxy.url, **SMALL_PARTS, **ttl)
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "src.bin", 24 * MIB)
        oid = str(uuid.uuid4())
        args = ["--parallel", "1"]
        out = _ok(run_client(["upload", "--object-id", oid, "--file", str(src), *args], server=srv.url, token=token))
        assert "6 of 6 parts sent" in out
        # Each part gets a fresh URL bound to its MD5 just before it is sent, so 1-second URLs
        # cannot expire mid-upload.
        assert srv.log().count(f"/upload/{oid}/parts/url") == 6
        out = _ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o"), *args],
                             server=srv.url, token=token))
        assert srv.log().count(f"/download/{oid}") >= 2
        assert md5_of(tmp_path / "o" / oid) == md5_of(src)
    finally:
        proxy.stop()


def test_urls_that_always_arrive_expired_fail_clearly_instead_of_looping(server_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    proxy = FaultProxy(port, store_delay=2.2).start()  # every store request arrives after its 1 s URL expired
    try:
        srv = server_factory(port=port, SCORE_PUBLIC_URL=proxy.url, SCORE_UPLOAD_URL_TTL="1", **SMALL_PARTS)
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "src.bin", 1 * MIB)
        r = run_client(["upload", "--object-id", str(uuid.uuid4()), "--file", str(src)], server=srv.url, token=token,
                       timeout=120)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert "6 fresh URLs in a row as expired" in r.stderr and "SCORE_UPLOAD_URL_TTL" in r.stderr
        assert 6 <= proxy.store_requests <= 8
    finally:
        proxy.stop()


def test_cli_errors_are_clear(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory()
    oid = str(uuid.uuid4())
    src = random_file(tmp_path / "x.bin", 10)
    cases = [
        (["upload", "--object-id", oid, "--file", str(src)], None, 3, "token"),
        (["upload", "--object-id", oid, "--file", str(src)], srv.token("score.READ"), 3, "score.WRITE"),
        (["upload", "--object-id", "nope", "--file", str(src)], srv.token("score.WRITE"), 2, "UUID"),
        (["upload", "--object-id", oid, "--file", str(tmp_path / "missing")], srv.token("score.WRITE"), 2, "missing"),
        (["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], srv.token("score.READ"), 4, oid),
        (["upload", "--object-id", oid, "--file", str(src), "--md5", "0" * 32], srv.token("score.WRITE"), 5, "MD5"),
    ]
    for args, token, code, needle in cases:
        r = run_client(args, server=srv.url, token=token)
        assert r.returncode == code, (args, r.returncode, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr
        if token:
            assert token not in r.stderr and token not in r.stdout
    unreachable = run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")],
                             server=f"http://127.0.0.1:{free_port()}", token="t",
                             env={"SCORE_CLIENT_CONFIG": str(_fast_retry_config(tmp_path))})
    assert unreachable.returncode == 6 and "Traceback" not in unreachable.stderr


def _fast_retry_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "client.toml"
    cfg.write_text("parallel = 2\n")
    return cfg


def test_info_shows_settings_never_the_token(server_factory: Any) -> None:
    srv = server_factory()
    token = srv.token("score.READ")
    out = _ok(run_client(["info"], server=srv.url, token=token))
    assert srv.url in out and "server:        UP" in out and "access token:  set" in out
    assert token not in out and token[:20] not in out
