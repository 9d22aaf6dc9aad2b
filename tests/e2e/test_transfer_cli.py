"""score-client as a subprocess against live servers: the journeys a user makes."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.kit.checks import ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.loopback import LoopbackServer
from tests.kit.proxy import FaultProxy
from tests.kit.servers import confirmed_parts, free_port, run_client, start_client

pytestmark = pytest.mark.e2e
SMALL_PARTS = {"SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(4 * MIB)}


def _kill(proc: Any) -> None:
    """SIGKILL, as a crash or an OOM killer would, then collect the process."""
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def test_256_mib_round_trip_with_md5(server_factory: Any, big_file: Path, tmp_path: Path) -> None:
    srv = server_factory()
    token = srv.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    out = ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token))
    source_md5 = md5_of(big_file)
    assert source_md5 in out and "13 of 13 parts sent" in out
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "out")], server=srv.url, token=token)
    )
    assert "md5 verified" in out
    target = tmp_path / "out" / oid
    assert md5_of(target) == source_md5
    assert not (tmp_path / "out" / f".{oid}").exists()  # no resume state left behind
    # a second download skips the complete file; uploading the same file again sends nothing (its MD5, taken
    # once the server said the object exists, is the stored one); another file is refused clearly
    assert "skipped" in ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "out")], server=srv.url, token=token)
    )
    same = ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token))
    assert same.startswith(f"skipped {oid}: already uploaded, with this file's size and MD5 {source_md5}"), same
    other = tmp_path / "other.bin"
    with open(big_file, "rb") as src, open(other, "wb") as dst:
        dst.write(src.read()[::-1])  # the same size, other bytes
    again = run_client(["upload", "--object-id", oid, "--file", str(other)], server=srv.url, token=token)
    assert again.returncode == 7 and "--force" in again.stderr and "Traceback" not in again.stderr


def test_partial_download_validates(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", 10 * MIB)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    out = ok(
        run_client(
            [
                "download",
                "--object-id",
                oid,
                "--output-dir",
                str(tmp_path / "o"),
                "--offset",
                "1000",
                "--length",
                str(5 * MIB),
            ],
            server=srv.url,
            token=token,
        )
    )
    assert "downloaded" in out
    ranged = tmp_path / "o" / f"{oid}.1000-{1000 + 5 * MIB - 1}"  # a range is named by its bytes
    assert ranged.read_bytes() == src.read_bytes()[1000 : 1000 + 5 * MIB]
    assert not (tmp_path / "o" / oid).exists()


def test_zero_byte_file(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory()
    token = srv.token("score.READ", "score.WRITE")
    empty = tmp_path / "empty.vcf"
    empty.write_bytes(b"")
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(empty)], server=srv.url, token=token))
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    )
    assert "md5 verified" in out and (tmp_path / "o" / oid).read_bytes() == b""


def test_sigkill_mid_upload_resumes_without_resending(server_factory: Any, big_file: Path, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    size = big_file.stat().st_size
    total = -(-size // (4 * MIB))
    proc = start_client(
        ["upload", "--object-id", oid, "--file", str(big_file), "--parallel", "2"], server=srv.url, token=token
    )
    deadline = time.monotonic() + 60
    while confirmed_parts(srv, token, oid, big_file) < 5 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    _kill(proc)
    done_before = confirmed_parts(srv, token, oid, big_file)
    assert 5 <= done_before < total
    out = ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token))
    sent = int(out.split(" parts sent")[0].rsplit(" ", 3)[-3])
    skipped = int(out.split(" already on the server")[0].rsplit(" ", 1)[-1])
    assert skipped >= done_before and sent + skipped == total and sent <= total - done_before
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    )
    assert md5_of(tmp_path / "o" / oid) == md5_of(big_file)


def test_sigkill_mid_download_resumes(server_factory: Any, big_file: Path, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=srv.url, token=token))
    out_dir = tmp_path / "o"
    log = out_dir / f".{oid}" / "parts.log"
    proc = start_client(
        ["download", "--object-id", oid, "--output-dir", str(out_dir), "--parallel", "2"], server=srv.url, token=token
    )
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
    out = ok(run_client(["download", "--object-id", oid, "--output-dir", str(out_dir)], server=srv.url, token=token))
    resumed = int(out.split(" resumed")[0].rsplit(" ", 1)[-1])
    assert resumed >= 5 and "md5 verified" in out
    assert md5_of(out_dir / oid) == md5_of(big_file)


def test_two_servers_over_one_data_dir_serve_one_upload(server_factory: Any, big_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "shared-data"
    a = server_factory(data, **SMALL_PARTS)
    b = server_factory(data, **SMALL_PARTS)
    token = a.token("score.READ", "score.WRITE")
    oid = str(uuid.uuid4())
    proc = start_client(
        ["upload", "--object-id", oid, "--file", str(big_file), "--parallel", "2"], server=a.url, token=token
    )
    deadline = time.monotonic() + 60
    while confirmed_parts(b, token, oid, big_file) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    _kill(proc)
    out = ok(run_client(["upload", "--object-id", oid, "--file", str(big_file)], server=b.url, token=token))
    assert "already on the server" in out and " 0 already" not in out
    ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=a.url, token=token))
    assert md5_of(tmp_path / "o" / oid) == md5_of(big_file)


def test_corrupted_part_in_flight_is_detected_and_resent(server_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    proxy = FaultProxy(port, corrupt_puts=2).start()
    try:
        srv = server_factory(port=port, SCORE_PUBLIC_URL=proxy.url, **SMALL_PARTS)
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "src.bam", 20 * MIB)
        oid = str(uuid.uuid4())
        ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        assert proxy.corrupted == 2
        ok(
            run_client(
                ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token
            )
        )
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
        ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        out = ok(
            run_client(
                ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token
            )
        )
        assert proxy.corrupted_gets == 1
        assert proxy.store_gets == 6 + 1  # six parts, and the corrupted one once more
        assert "md5 verified" in out
        assert md5_of(tmp_path / "o" / oid) == md5_of(src)
        # the same with part-by-part checking (no whole-object MD5): caught as the part streams
        proxy.corrupt_gets, proxy.corrupted_gets, proxy.store_gets = 1, 0, 0
        out = ok(
            run_client(
                ["download", "--object-id", oid, "--output-dir", str(tmp_path / "p"), "--validate", "false"],
                server=srv.url,
                token=token,
            )
        )
        assert proxy.corrupted_gets == 1 and proxy.store_gets == 7
        assert md5_of(tmp_path / "p" / oid) == md5_of(src)
    finally:
        proxy.stop()


def test_corrupt_stored_object_fails_download_without_leaving_a_file(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.cram", 9 * MIB)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
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
        out = ok(run_client(["upload", "--object-id", oid, "--file", str(src), *args], server=srv.url, token=token))
        assert "6 of 6 parts sent" in out
        # Each part gets a fresh URL bound to its MD5 just before it is sent, so 1-second URLs
        # cannot expire mid-upload.
        assert srv.log().count(f"/upload/{oid}/parts/url") == 6
        out = ok(
            run_client(
                ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o"), *args],
                server=srv.url,
                token=token,
            )
        )
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
        r = run_client(
            ["upload", "--object-id", str(uuid.uuid4()), "--file", str(src)], server=srv.url, token=token, timeout=120
        )
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
    unreachable = run_client(
        ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")],
        server=f"http://127.0.0.1:{free_port()}",
        token="t",
        env={"SCORE_CLIENT_CONFIG": str(_fast_retry_config(tmp_path))},
    )
    assert unreachable.returncode == 6 and "Traceback" not in unreachable.stderr


def _fast_retry_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "client.toml"
    cfg.write_text("parallel = 2\n")
    return cfg


def test_info_shows_settings_never_the_token(server_factory: Any) -> None:
    srv = server_factory()
    token = srv.token("score.READ")
    out = ok(run_client(["info"], server=srv.url, token=token))
    assert srv.url in out and "server:        UP" in out and "access token:  set" in out
    assert token not in out and token[:20] not in out


def test_a_range_is_never_taken_for_the_whole_file(server_factory: Any, tmp_path: Path) -> None:
    """Issue 20, defect 5: ``--offset 0 --length 10`` wrote 10 bytes under the object's own name, and a later full
    download said "already exists" and exited 0. A range now has a name of its own (``<name>.<first>-<last>``),
    and a file already under a name is skipped only once its size and MD5 are the server's."""
    srv = server_factory(**SMALL_PARTS)
    token = srv.token("score.READ", "score.WRITE")
    size = 9 * MIB
    src = random_file(tmp_path / "src.bin", size)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    out_dir = tmp_path / "o"
    whole = out_dir / oid
    down = ["download", "--object-id", oid, "--output-dir", str(out_dir)]
    out = ok(run_client([*down, "--offset", "0", "--length", "10"], server=srv.url, token=token))
    first_ten = out_dir / f"{oid}.0-9"
    assert f"-> {first_ten}: 10 bytes" in out and first_ten.read_bytes() == src.read_bytes()[:10]
    assert not whole.exists()
    out = ok(run_client(down, server=srv.url, token=token))
    assert f"-> {whole}: {size} bytes, md5 verified" in out and md5_of(whole) == md5_of(src)
    # to the end from an offset: the name says which bytes the file holds
    ok(run_client([*down, "--offset", str(size - 5)], server=srv.url, token=token))
    assert (out_dir / f"{oid}.{size - 5}-{size - 1}").read_bytes() == src.read_bytes()[-5:]
    # a complete file (or range) is skipped once it is checked, even where the range cuts the stored parts
    out = ok(run_client(down, server=srv.url, token=token))
    assert out.strip() == f"skipped {oid}: {whole} is already complete (size and MD5 checked)"
    out = ok(run_client([*down, "--offset", "0", "--length", "10"], server=srv.url, token=token))
    assert out.strip() == f"skipped {oid}: {first_ten} is already complete (size and MD5 checked)"
    # what the old client left under the final name: refused, left as it is, replaced only with --force
    whole.write_bytes(src.read_bytes()[:10])
    r = run_client(down, server=srv.url, token=token)
    assert r.returncode == 7, r.stderr
    assert r.stderr.strip() == (
        f"score-client: error: {whole} exists but holds 10 bytes, not the {size} of object {oid}; it was left as it "
        "is: move it away, or use --force to replace it"
    )
    assert whole.stat().st_size == 10
    damaged = bytearray(src.read_bytes())
    damaged[5 * MIB] ^= 0xFF
    whole.write_bytes(bytes(damaged))
    r = run_client(down, server=srv.url, token=token)
    assert r.returncode == 7, r.stderr
    assert f"{whole} exists but its MD5 {md5_of(whole)} is not the {md5_of(src)} of object {oid}" in r.stderr
    first_ten.write_bytes(b"0123456789")
    r = run_client([*down, "--offset", "0", "--length", "10"], server=srv.url, token=token)
    assert r.returncode == 7 and f"{first_ten} exists but its bytes 0-9 have MD5 " in r.stderr, r.stderr
    out = ok(run_client([*down, "--force"], server=srv.url, token=token))
    assert "md5 verified" in out and md5_of(whole) == md5_of(src)
    r = run_client([*down, "--length", "0"], server=srv.url, token=token)
    assert r.returncode == 2 and "--length 0 selects no bytes" in r.stderr and "Traceback" not in r.stderr


def _fake_service(routes: dict[str, tuple[int, dict[str, Any]]]) -> LoopbackServer:
    """A server answering GET and PUT on each path of *routes* with its status and JSON; 404 elsewhere."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            status, body = routes.get(self.path.split("?")[0], (404, {"code": "not_found", "message": "no"}))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_GET

    return LoopbackServer(Handler).start()


def test_control_characters_from_servers_are_escaped(server_factory: Any, tmp_path: Path) -> None:
    """Issue 20, defect 9: file names and messages from the server or the metadata service reached the terminal
    raw, so an escape sequence could clear the screen or a newline forge a line of output."""
    forged = "\x1b[2J\rscore-client: error: forged\u202e"
    oid = str(uuid.uuid4())
    fake = _fake_service(
        {
            f"/download/{oid}": (404, {"code": "not_found", "message": f"no object {forged}"}),
            f"/entities/{oid}": (
                200,
                {"id": oid, "fileName": f"x{forged}\n.bam", "gnosId": "AN\x07", "projectCode": "S"},
            ),
        }
    )
    try:
        r = run_client(
            ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=fake.url, token="t"
        )
        assert r.returncode == 4, r.stderr
        assert r.stderr.endswith(
            "\nscore-client: error: no object \\x1b[2J\\x0dscore-client: error: forged\\u202e (check the object id)\n"
        )  # after the metadata warnings checked below
        assert "\x1b" not in r.stderr and "\r" not in r.stderr and "\u202e" not in r.stderr
        srv = server_factory()
        token = srv.token("score.READ", "score.WRITE")
        ok(
            run_client(
                ["upload", "--object-id", oid, "--file", str(random_file(tmp_path / "x.bam", 100))],
                server=srv.url,
                token=token,
            )
        )
        r = run_client(
            ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o"), "--metadata-url", fake.url],
            server=srv.url,
            token=token,
        )
        out = ok(r)
        assert (tmp_path / "o" / f"x{forged}\n.bam").stat().st_size == 100  # the file keeps its name
        name = "x\\x1b[2J\\x0dscore-client: error: forged\\u202e\\x0a.bam"
        assert (
            out == f"downloaded {oid} -> {tmp_path / 'o' / name}: 100 bytes, md5 verified, 1 of 1 parts fetched, "
            "0 resumed\n"
        )
        assert r.stderr == (
            "score-client: error: analysis AN\\x07: no (its sizes and index files are not looked up)\n"
            f"score-client: note: no index file for {name} in analysis AN\\x07\n"  # a notice (issue 24)
        )
    finally:
        fake.stop()


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, unmounted at the end; the test is skipped (saying why) where mounting is not permitted."""
    point = tmp_path / "small-disk"
    point.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({(r.stderr or r.stdout).strip()}): the full-disk test needs one")
    try:
        yield point
    finally:
        if subprocess.run(["umount", str(point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], check=False)


def test_output_disk_full_mid_download_exits_8_and_resumes(
    server_factory: Any, tmp_path: Path, small_tmpfs: Path
) -> None:
    """Issue 20: the output file system filling up after the free-space check (ENOSPC mid-write) was retried as a
    network error and ended as "upstream" (exit 6). It must end with the disk-space code at once, keep nothing
    under the final name, and resume once space is freed."""
    port = free_port()
    proxy = FaultProxy(port, store_delay=0.5).start()  # time to fill the disk after the client's own check
    try:
        srv = server_factory(port=port, SCORE_PUBLIC_URL=proxy.url, **SMALL_PARTS)
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "src.bin", 12 * MIB)  # 3 parts of 4 MiB; the disk takes 16 MiB
        oid = str(uuid.uuid4())
        ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        down = ["download", "--object-id", oid, "--output-dir", str(small_tmpfs), "--parallel", "1"]
        proc = start_client(down, server=srv.url, token=token)
        data = small_tmpfs / f".{oid}" / "data"
        deadline = time.monotonic() + 30
        while not data.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.005)
        filler = small_tmpfs / "filler"
        filler.write_bytes(b"\0" * (shutil.disk_usage(small_tmpfs).free - 5 * MIB))  # one part fits, not two
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 8, stderr
        assert stderr.startswith(
            f"score-client: error: the output file system is full: writing {data} failed (No space left on device)"
        ), stderr
        assert "re-run to resume" in stderr and "Traceback" not in stderr
        assert not (small_tmpfs / oid).exists()
        filler.unlink()
        out = ok(run_client(down, server=srv.url, token=token))
        assert "md5 verified, 2 of 3 parts fetched, 1 resumed" in out, out
        assert md5_of(small_tmpfs / oid) == md5_of(src)
    finally:
        proxy.stop()


def test_a_manifest_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    """Issue 20, defect 9: a Latin-1 manifest ended in a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.txt"
    path.write_bytes(f"AN1\t\t\n{uuid.uuid4()}\tcaf\xe9.bam\t{'a' * 32}\n".encode("latin-1"))
    message = (
        f"score-client: error: manifest {path} is not UTF-8 text (byte 0xe9 at offset 46): convert it to "
        "UTF-8, e.g. iconv -f latin1 -t utf-8 OLD > NEW, and give the new file\n"
    )
    for args in (
        ["download", "--manifest", str(path), "--output-dir", str(tmp_path / "o")],
        ["upload", "--manifest", str(path)],
        ["manifest", "--manifest", str(path)],
    ):
        r = run_client(args, server=f"http://127.0.0.1:{free_port()}", token="t")
        assert (r.returncode, r.stderr) == (2, message), args


def test_two_downloads_of_one_object_into_one_directory_at_once_both_end_well(
    server_factory: Any, tmp_path: Path
) -> None:
    """New-user trial: the same download run twice at once; the second failed (exit 1, "cannot write
    D/.<id>/data: No such file or directory") once the first had moved the data into place. The second now waits
    for the first and finds the file complete."""
    port = free_port()
    proxy = FaultProxy(port, store_delay=0.3).start()  # each store GET waits: the downloads overlap
    try:
        srv = server_factory(port=port, SCORE_PUBLIC_URL=proxy.url, **SMALL_PARTS)
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "src.bin", 12 * MIB + 7)
        oid = str(uuid.uuid4())
        ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
        out = tmp_path / "out"
        down = ["download", "--object-id", oid, "--output-dir", str(out), "--parallel", "1"]
        first = start_client(down, server=srv.url, token=token)
        deadline = time.monotonic() + 60
        while not (out / f".{oid}").exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.005)
        second = start_client(down, server=srv.url, token=token)
        said = []
        for proc in (first, second):
            stdout, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0 and "Traceback" not in stderr, (stdout, stderr)
            said.append(stdout)
        assert said[0].startswith(f"downloaded {oid}") and said[1].startswith(f"skipped {oid}"), said
        assert md5_of(out / oid) == md5_of(src) and sorted(p.name for p in out.iterdir()) == [oid]
    finally:
        proxy.stop()
