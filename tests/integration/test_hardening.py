"""Issue 20, defect 9 ("smaller ones") against a real score-server process: ids with a trailing
newline, oversized request heads, forwarded headers from untrusted peers, 503s and unhandled errors."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.kit.checks import bearer
from tests.kit.fake_song import EndlessSong
from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("POST", "/upload/{oid}%0A/uploads", {"fileSize": 1}),
        ("GET", "/download/{oid}%0A", {}),
        ("POST", "/upload/{oid}", {"uploadId": "2~abc\n"}),
        ("GET", "/upload/{oid}/parts/url", {"uploadId": "2~abc\n", "partNumber": 1, "md5": "0" * 32}),
    ],
)
def test_ids_with_a_trailing_newline_are_400(
    server: ServerProcess, rw_token: str, method: str, path: str, params: dict[str, object]
) -> None:
    """Issue 20, defect 9: '$' matched before a final newline, so "<uuid>\\n" passed as an id."""
    r = httpx.request(method, server.url + path.format(oid=uuid.uuid4()), params=params, headers=bearer(rw_token))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_request"


def test_drs_ids_with_a_trailing_newline_are_400(server: ServerProcess, rw_token: str) -> None:
    r = httpx.get(f"{server.url}/ga4gh/drs/v1/objects/abc%0A", headers=bearer(rw_token))
    assert r.status_code == 400, r.text
    assert r.json() == {"msg": "a DRS id is 1 to 128 letters, digits or . _ ~ -", "status_code": 400}


# ---- a Song that never says "last" ------------------------------------------------------------


@pytest.fixture
def endless_song(tmp_path: Path) -> Iterator[tuple[EndlessSong, ServerProcess]]:
    song = EndlessSong().start()
    srv = ServerProcess(
        tmp_path / "data",
        free_port(),
        env={"SCORE_METADATA__KIND": "song", "SCORE_METADATA__URL": song.url, "SCORE_METADATA__CACHE_TTL": "0"},
    ).start()
    yield song, srv
    srv.stop()
    song.stop()


def test_a_song_that_never_says_last_is_cut_off_with_a_clear_503(
    endless_song: tuple[EndlessSong, ServerProcess],
) -> None:
    """Issue 20, defect 9: the Song adapter paged without end when Song never said `last`."""
    song, srv = endless_song
    r = httpx.get(f"{srv.url}/ga4gh/drs/v1/objects/AN1", headers=bearer(srv.token("score.READ")), timeout=60)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    assert r.json() == {
        "msg": "the metadata service (Song) sent 100 pages of analysis 'AN1' without saying which was the last",
        "status_code": 503,
    }
    assert song.pages == list(range(100))


def test_the_song_walk_stops_when_the_caller_disconnects(endless_song: tuple[EndlessSong, ServerProcess]) -> None:
    """Issue 20, defect 9: a client that gave up left the server paging Song for nobody."""
    song, srv = endless_song
    song.delay = 0.2  # 100 pages would take 20 s
    token = srv.token("score.READ")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{srv.url}/ga4gh/drs/v1/objects/AN1", headers=bearer(token), timeout=1)
    time.sleep(0.5)  # the page in flight when the client left may still be answered
    stopped_at = song.asked()
    time.sleep(1.5)
    assert song.asked() == stopped_at < 10
    assert httpx.get(f"{srv.url}/health", timeout=5).status_code == 200
    logged = [json.loads(line) for line in srv.log().splitlines() if '"path": "/ga4gh/drs/v1/objects/AN1"' in line]
    assert [line["status"] for line in logged] == [499]  # the client closed the request, nginx's name for it


def test_503s_from_a_dead_song_carry_retry_after(tmp_path: Path) -> None:
    """Issue 20, defect 9: 503s carried no Retry-After."""
    srv = ServerProcess(
        tmp_path / "data",
        free_port(),
        env={"SCORE_METADATA__KIND": "song", "SCORE_METADATA__URL": f"http://127.0.0.1:{free_port()}"},
    ).start()
    try:
        token = bearer(srv.token("score.READ", "score.WRITE"))
        oid = uuid.uuid4()
        score = httpx.get(f"{srv.url}/download/{oid}", headers=token)
        htsget = httpx.get(f"{srv.url}/ga4gh/htsget/v1/reads/{oid}", headers=token)
    finally:
        srv.stop()
    assert (score.status_code, score.headers["retry-after"]) == (503, "5")
    assert score.json() == {
        "code": "upstream_unavailable",
        "retryable": True,
        "message": "the metadata service (Song) is unreachable (ConnectError)",
    }
    assert (htsget.status_code, htsget.headers["retry-after"]) == (503, "5")
    assert htsget.json()["htsget"]["error"] == "ServiceUnavailable"


# ---- forwarded headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "client_ip", "kept_id"),
    [
        (None, "127.0.0.1", False),  # no proxy configured: uvicorn must not rewrite the peer either
        ('["10.0.0.0/8"]', "127.0.0.1", False),  # a proxy is configured, but this peer is not it
        ('["127.0.0.1/32"]', "198.51.100.7", True),
    ],
)
def test_forwarded_for_and_request_id_are_believed_only_from_trusted_proxies(
    tmp_path: Path, trusted: str | None, client_ip: str, kept_id: bool
) -> None:
    """Issue 20, defect 9: X-Forwarded-For and X-Request-Id were believed from any peer (uvicorn's
    proxy_headers default trusts 127.0.0.1 even when SCORE_TRUSTED_PROXIES is empty)."""
    audit = tmp_path / "audit.jsonl"
    env = {"SCORE_AUDIT_LOG": str(audit), **({"SCORE_TRUSTED_PROXIES": trusted} if trusted else {})}
    srv = ServerProcess(tmp_path / "data", free_port(), env=env).start()
    try:
        forged = {"X-Forwarded-For": "198.51.100.7", "X-Request-Id": "chosen-by-the-caller"}
        r = httpx.get(f"{srv.url}/download/{uuid.uuid4()}", headers={**bearer(srv.token("score.WRITE")), **forged})
        unsafe = httpx.get(f"{srv.url}/health", headers={"X-Request-Id": 'x","level":"ERROR'})
    finally:
        srv.stop()
    assert r.status_code == 403, r.text
    if kept_id:
        assert r.headers["x-request-id"] == "chosen-by-the-caller"
    else:
        assert len(r.headers["x-request-id"]) == 16 and r.headers["x-request-id"] != "chosen-by-the-caller"
    assert len(unsafe.headers["x-request-id"]) == 16  # never an unsafe id, whoever sends it
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(x["decision"], x["client_ip"], x["request_id"]) for x in lines] == [
        ("deny", client_ip, r.headers["x-request-id"])
    ]


# ---- request head size ------------------------------------------------------------------------

TOO_LARGE = {"code": "header_too_large", "message": "the request's headers exceed 65536 bytes", "retryable": False}


def _raw_get(srv: ServerProcess, header_bytes: int, timeout: float = 10) -> tuple[int, dict[str, object] | None]:
    """GET /health with one ``X-Pad`` header of *header_bytes* bytes over a raw socket; the status and JSON body."""
    head = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {'a' * header_bytes}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    body = data.partition(b"\r\n\r\n")[2]
    return status, json.loads(body) if status != 200 else None


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.mark.parametrize("size", [70 * 1024, 300 * 1024, 2 * 1024 * 1024])
def test_a_request_head_over_the_cap_is_431_with_a_json_body(server: ServerProcess, size: int) -> None:
    """Issue 20, defect 9: a huge request header was read in full (httptools has no cap)."""
    assert _raw_get(server, size) == (431, TOO_LARGE)
    assert _raw_get(server, 60 * 1024) == (200, None)  # under the 64 KiB default


def test_a_64_mib_header_is_refused_without_stalling_the_server(server: ServerProcess) -> None:
    """Issue 20, defect 9: a 64 MiB header was accepted and stalled the server."""
    outcome: dict[str, object] = {}

    def send_huge() -> None:
        start = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ")
                chunk = b"a" * (1024 * 1024)
                for _ in range(64):
                    sock.sendall(chunk)
                sock.sendall(b"\r\n\r\n")
                outcome["answer"] = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as exc:  # refused mid-send: the server closed on us
            outcome["answer"] = exc
        outcome["seconds"] = time.monotonic() - start

    sender = threading.Thread(target=send_huge)
    sender.start()
    healthy = httpx.get(f"{server.url}/health", timeout=5)  # served while the giant head arrives
    sender.join(60)
    assert healthy.status_code == 200
    assert not sender.is_alive() and float(outcome["seconds"]) < 10  # type: ignore[arg-type]
    answer = outcome["answer"]
    assert isinstance(answer, OSError) or answer.startswith(b"HTTP/1.1 431 "), answer  # type: ignore[union-attr]
    assert _raw_get(server, 10) == (200, None)
