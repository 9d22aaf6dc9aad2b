"""A manifest given as a URL (issue 22): one GET without a token, as Score's client (``URL.openStream``)
makes it, with the client's CA bundle, proxies and User-Agent; bad answers are clear errors."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from score import __version__
from score.client.http import manifest_fetch
from score.client.http.manifest_fetch import fetch_manifest
from score.domain import errors as e
from tests.kit.forward_proxy import ForwardProxy
from tests.kit.loopback import LoopbackServer, QuietServer
from tests.kit.servers import free_port
from tests.kit.tls import make_certificates

BODY = b"AN1\t\t\n5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01\tx.bam\t" + b"a" * 32 + b"\n"


class _Site:
    """What the loopback site was asked: (path, headers)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, str]]] = []


def _handler(site: _Site, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            site.asked.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            status, headers, body = routes.get(self.path, (404, {}, b"no such manifest"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, tuple[int, dict[str, str], bytes]]], tuple[LoopbackServer, _Site]]]:
    started: list[LoopbackServer] = []

    def start(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> tuple[LoopbackServer, _Site]:
        site = _Site()
        srv = LoopbackServer(_handler(site, routes)).start()
        started.append(srv)
        return srv, site

    yield start
    for srv in started:
        srv.stop()


def _fetch(url: str, verify: ssl.SSLContext | bool = True) -> bytes:
    return fetch_manifest(url, shown=url.split("?", maxsplit=1)[0], timeout=5.0, verify=verify)


def test_a_manifest_url_is_fetched_once_without_a_token(serve: Callable[..., tuple[LoopbackServer, _Site]]) -> None:
    srv, site = serve({"/m.tsv?sig=1": (200, {"Content-Type": "text/tab-separated-values"}, BODY)})
    assert _fetch(f"{srv.url}/m.tsv?sig=1") == BODY
    [(path, headers)] = site.asked
    assert path == "/m.tsv?sig=1" and "authorization" not in headers
    assert headers["user-agent"] == f"score-client/{__version__}"


def test_redirects_are_followed(serve: Callable[..., tuple[LoopbackServer, _Site]]) -> None:
    srv, site = serve({"/old": (302, {"Location": "/new"}, b""), "/new": (200, {}, BODY)})
    assert _fetch(f"{srv.url}/old") == BODY and [p for p, _ in site.asked] == ["/old", "/new"]
    loop, _ = serve({"/a": (302, {"Location": "/a"}, b"")})
    with pytest.raises(e.InvalidRequestError, match="more than 5 redirects"):
        _fetch(f"{loop.url}/a")


def test_a_4xx_is_bad_input_and_a_5xx_or_no_answer_is_upstream(
    serve: Callable[..., tuple[LoopbackServer, _Site]],
) -> None:
    srv, _ = serve({"/gone": (404, {}, b"nope"), "/down": (503, {}, b"later")})
    with pytest.raises(e.InvalidRequestError) as err:
        _fetch(f"{srv.url}/gone?sig=secret")
    assert (
        err.value.message == f"manifest {srv.url}/gone: the server answered 404 Not Found; check the URL or manifest id"
    )
    with pytest.raises(e.UpstreamUnavailableError, match="answered 503; try again later"):
        _fetch(f"{srv.url}/down")
    with pytest.raises(e.UpstreamUnavailableError, match=r"no answer \(ConnectError\)"):
        _fetch(f"http://127.0.0.1:{free_port()}/m.tsv")


def test_a_body_over_the_cap_is_refused(
    serve: Callable[..., tuple[LoopbackServer, _Site]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest_fetch, "MAX_MANIFEST_BYTES", 10)
    srv, _ = serve({"/big": (200, {}, b"x" * 11)})
    with pytest.raises(e.InvalidRequestError, match="larger than"):
        _fetch(f"{srv.url}/big")


def test_https_is_verified_with_the_ca_bundle(tmp_path: Path) -> None:
    ca, cert, key = make_certificates(tmp_path / "pki")
    site = _Site()
    server = QuietServer(("127.0.0.1", 0), _handler(site, {"/m.tsv": (200, {}, BODY)}))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/m.tsv"
    try:
        with pytest.raises(e.UpstreamUnavailableError, match="ConnectError"):
            _fetch(url, verify=ssl.create_default_context())  # the system's CAs do not know this one
        assert _fetch(url, verify=ssl.create_default_context(cafile=str(ca))) == BODY
    finally:
        server.shutdown()
        server.server_close()


def test_https_never_redirects_to_plain_http() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://portal.example.org/m.tsv"})

    with pytest.raises(e.InvalidRequestError, match="redirects to a plain http URL"):
        fetch_manifest(
            "https://portal.example.org/m.tsv", shown="x", timeout=1.0, transport=httpx.MockTransport(handler)
        )


def test_the_environment_proxy_is_used(
    serve: Callable[..., tuple[LoopbackServer, _Site]], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, _ = serve({"/m.tsv": (200, {}, BODY)})
    proxy = ForwardProxy().start()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    try:
        assert _fetch(f"{srv.url}/m.tsv") == BODY
        assert proxy.requests == [("GET", "/m.tsv")] and proxy.auth_headers == [""]
    finally:
        proxy.stop()
