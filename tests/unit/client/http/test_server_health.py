"""``info``'s and ``version``'s health probe: one GET /health, any status is an answer, a transport failure names
itself; over a socket of its own for a plain URL (issue 23), each answer read as httpx reads it."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from score import __version__
from score.client.http import server_health
from score.client.http.server_health import ServerHealth, probe_health

OK = ServerHealth("UP", "9.9")
DOWN_503 = ServerHealth("503", "?")
ANSWER_200 = ServerHealth("200", "?")


def _probe(handler: Callable[[httpx.Request], httpx.Response]) -> ServerHealth:
    return probe_health("http://score.test/", timeout=1.0, transport=httpx.MockTransport(handler))


def test_the_body_states_status_and_version() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={"status": "UP", "version": "1.2.3"})

    assert _probe(handler) == ServerHealth("UP", "1.2.3")
    assert [str(r.url) for r in asked] == ["http://score.test/health"]  # once, never retried
    assert asked[0].headers["user-agent"] == f"score-client/{__version__}"
    assert "authorization" not in asked[0].headers


def test_a_body_that_is_not_json_gives_the_status_code() -> None:
    assert _probe(lambda _r: httpx.Response(503, text="<html>down</html>")) == ServerHealth("503", "?")
    bad_json = httpx.Response(200, content=b"{nope", headers={"content-type": "application/json"})
    assert _probe(lambda _r: bad_json) == ServerHealth("200", "?")
    assert _probe(lambda _r: httpx.Response(200, json=["UP"])) == ServerHealth("200", "?")


def test_no_answer_names_the_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert _probe(handler) == ServerHealth("", unreachable="ConnectError")


# The socket path (a plain server URL, no proxy; issue 23): each canned answer is read as httpx reads it.

UP = b'{"status":"UP","version":"9.9"}'
GZIPPED = gzip.compress(UP)
ANSWERS: dict[str, tuple[bytes, ServerHealth]] = {
    "length": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\r\n" + UP, OK),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n" + UP[:10] + b"\r\n15;x=y\r\n" + UP[10:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n",
        OK,
    ),
    "until close": (b"HTTP/1.0 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n\r\n" + UP, OK),
    "gzip": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(GZIPPED)}\r\n\r\n".encode()
        + GZIPPED,
        OK,
    ),
    "interim first": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + UP,
        OK,
    ),
    "not json": (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<html>down</html>", DOWN_503),
    "bad json": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{nope", ANSWER_200),
    "no body": (b"HTTP/1.1 204 No Content\r\n\r\n", ServerHealth("204", "?")),
    "closed": (b"", ServerHealth("", unreachable="RemoteProtocolError")),
    "not http": (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", ServerHealth("", unreachable="RemoteProtocolError")),
    "short body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + UP,
        ServerHealth("", unreachable="RemoteProtocolError"),
    ),
    "bad chunk": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ServerHealth("", unreachable="RemoteProtocolError"),
    ),
}


@contextmanager
def _canned(answer: bytes | None, heads: list[bytes] | None = None) -> Iterator[str]:
    """A server on a free port that reads one request head, sends *answer* and closes (None: never answers)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # accept() wakes to see the stop
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with conn:
                head = b""
                while b"\r\n\r\n" not in head and (data := conn.recv(65536)):
                    head += data
                if heads is not None:
                    heads.append(head)
                if answer is None:
                    stop.wait(5)
                else:
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def _by_httpx(url: str, timeout: float = 2.0) -> ServerHealth:
    return server_health._probe_with_httpx(url, timeout=timeout, verify=False, transport=None)


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_the_socket_path_reads_each_answer_as_httpx_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    answer, expected = ANSWERS[name]
    with _canned(answer) as url:
        assert probe_health(url, timeout=2.0, verify=_no_tls) == expected
        assert _by_httpx(url) == expected


def test_the_socket_path_sends_what_httpx_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    heads: list[bytes] = []
    with _canned(ANSWERS["length"][0], heads) as url:
        assert probe_health(url + "/score/", timeout=2.0, verify=_no_tls) == OK
    lines = heads[0].decode().split("\r\n")
    assert lines[0] == "GET /score/health HTTP/1.1"
    fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    assert fields["host"] == url.removeprefix("http://")
    assert fields["user-agent"] == f"score-client/{__version__}"
    assert "authorization" not in fields


def test_the_socket_path_names_timeouts_and_refusals_as_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    with _canned(None) as url:
        assert probe_health(url, timeout=0.2, verify=_no_tls) == ServerHealth("", unreachable="ReadTimeout")
        assert _by_httpx(url, timeout=0.2) == ServerHealth("", unreachable="ReadTimeout")
    # the port is closed now
    assert probe_health(url, timeout=2.0, verify=_no_tls) == ServerHealth("", unreachable="ConnectError")
    assert _by_httpx(url) == ServerHealth("", unreachable="ConnectError")


def test_a_proxy_of_the_environment_is_left_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    with _canned(ANSWERS["length"][0]) as url:
        monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")  # no proxy there: httpx cannot connect
        monkeypatch.setenv("NO_PROXY", "")
        health = probe_health(url, timeout=2.0, verify=lambda: False)
    assert health.unreachable is not None  # the proxy was used, so the server was not reached


def test_an_unusual_url_is_left_to_httpx() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={"status": "UP", "version": "1"})

    for url in ("http://user@score.test/", "http://score.test/a%20b", "ftp://score.test/"):
        asked.clear()
        probe_health(url, timeout=1.0, transport=httpx.MockTransport(handler))
        assert len(asked) <= 1, url  # httpx's answer (or its refusal of the scheme), not the socket's
    assert server_health._PLAIN_URL.fullmatch("http://score.test/a%20b") is None
    assert server_health._PLAIN_URL.fullmatch("http://user@score.test/") is None


def _no_tls() -> ssl.SSLContext:
    raise AssertionError("a plain-HTTP server is asked without making a TLS context")
