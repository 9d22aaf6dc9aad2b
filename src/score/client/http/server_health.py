"""The server's health as ``score-client info`` and ``version`` show it: one ``GET /health``, never retried,
with the TLS trust, proxies and User-Agent of every other request of the client.

A plain ``http(s)://host[:port][/path]`` server URL with no proxy in the environment is asked over a
socket of its own (HTTP/1.1, read as h11 reads it), so ``version`` imports neither httpx (~100 ms) nor
http.client (~30 ms: ssl and email; issue 23). Its failures are named as httpx names them
(ConnectError, ConnectTimeout, WriteError, WriteTimeout, ReadError, ReadTimeout, RemoteProtocolError,
DecodingError). Anything else (a proxy, an unusual URL, a test's transport) goes through httpx.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from score import __version__

if TYPE_CHECKING:
    import socket
    import ssl

    import httpx

Trust: TypeAlias = "ssl.SSLContext | bool"

# what the standard-library path takes; anything else (userinfo, query, escapes, non-ASCII) goes to httpx
_PLAIN_URL = re.compile(r"(?i)(https?)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?(/[A-Za-z0-9._~/\-]*)?")
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")  # as urllib.request.getproxies reads them


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """What ``/health`` said, or why it could not be asked."""

    status: str  # the body's ``status`` (UP, DOWN...), else the HTTP status code
    version: str = "?"  # the server's version, "?" when it does not say
    unreachable: str | None = None  # the transport error's name (ConnectError...) when there was no answer


class _NoAnswerError(Exception):
    """A transport failure, named as httpx names it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def probe_health(
    base_url: str,
    *,
    timeout: float,
    verify: Trust | Callable[[], Trust] = True,
    transport: httpx.BaseTransport | None = None,
) -> ServerHealth:
    """Ask *base_url*'s ``/health`` once, without a token (proxies come from the environment).

    Args:
        base_url: the server URL.
        timeout: seconds for each phase of the request.
        verify: the TLS trust (the client's CA bundle, or the system's CAs), or what makes it when needed
            (a plain-HTTP server URL asked directly needs none; making a TLS context costs ~10 ms).
        transport: instead of the network (tests).

    Returns:
        The status and version the server states; any status code is an answer.
    """
    plain = _PLAIN_URL.fullmatch(base_url)
    direct = plain is not None and transport is None and _valid_port(plain) and not _proxied()
    if direct and plain is not None and plain[1].lower() == "http":
        return _ask(plain, timeout, None)  # no TLS: no context is made
    trust = verify() if callable(verify) else verify
    if direct and plain is not None and not isinstance(trust, bool):
        return _ask(plain, timeout, trust)
    return _probe_with_httpx(base_url, timeout=timeout, verify=trust, transport=transport)


def _valid_port(url: re.Match[str]) -> bool:
    return not url[3] or 0 < int(url[3]) < 65536


def _ask(url: re.Match[str], timeout: float, tls: ssl.SSLContext | None) -> ServerHealth:
    try:
        status, content_type, body = _get(url, timeout, tls)
    except _NoAnswerError as exc:
        return ServerHealth("", unreachable=exc.name)
    return _health(status, content_type, body)


def _proxied() -> bool:
    """Whether httpx would send through a proxy of the environment (then it is left to do so)."""
    return any(name.lower() in _PROXY_VARIABLES and value for name, value in os.environ.items())


def _get(url: re.Match[str], timeout: float, tls: ssl.SSLContext | None) -> tuple[int, str, bytes]:
    """``GET <path>/health``: (status, content type, body), else :class:`_NoAnswerError`."""
    import socket

    host, port_text, path = url[2].strip("[]").lower(), url[3], url[4] or ""  # lower case, as httpx
    port = int(port_text) if port_text else (443 if tls else 80)
    try:
        sock = socket.create_connection((host, port), timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as httpcore
        if tls is not None:
            tls.set_alpn_protocols(["http/1.1"])  # as httpcore
            sock = tls.wrap_socket(sock, server_hostname=host)
    except TimeoutError:
        raise _NoAnswerError("ConnectTimeout") from None
    except OSError:  # refused, unknown host, TLS handshake or certificate
        raise _NoAnswerError("ConnectError") from None
    with sock:
        default_port = 443 if tls else 80  # left out of Host, as httpx leaves it out
        authority = (f"[{host}]" if ":" in host else host) + (f":{port}" if port != default_port else "")
        head = (
            f"GET {path.rstrip('/')}/health HTTP/1.1\r\nHost: {authority}\r\nAccept: */*\r\n"
            f"Accept-Encoding: gzip, deflate\r\nConnection: close\r\nUser-Agent: score-client/{__version__}\r\n\r\n"
        )
        try:
            sock.sendall(head.encode("ascii"))
        except TimeoutError:
            raise _NoAnswerError("WriteTimeout") from None
        except OSError:
            raise _NoAnswerError("WriteError") from None
        return _Response(sock).read()


_MAX_HEAD = 64 * 1024
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: [^\r\n]*)?")


class _Response:
    """An HTTP/1.1 answer read from *sock* (interim 1xx answers skipped), or :class:`_NoAnswerError`."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self._eof = False

    def _more(self) -> bool:
        if self._eof:
            return False
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            raise _NoAnswerError("ReadTimeout") from None
        except OSError:
            raise _NoAnswerError("ReadError") from None
        self._eof = not data
        self._buf += data
        return bool(data)

    def _until(self, mark: bytes, limit: int) -> bytes:
        while (at := self._buf.find(mark)) < 0:
            if len(self._buf) > limit or not self._more():
                raise _NoAnswerError("RemoteProtocolError")  # closed early, or a head past h11's limit
        line, self._buf = self._buf[:at], self._buf[at + len(mark) :]
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._more():
                raise _NoAnswerError("RemoteProtocolError")  # closed within the body
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def read(self) -> tuple[int, str, bytes]:
        """(status, content type, decoded body)."""
        status, headers = 100, {}
        while 100 <= status < 200:
            lines = self._until(b"\r\n\r\n", _MAX_HEAD).split(b"\r\n")
            first = _STATUS_LINE.fullmatch(lines[0])
            if first is None:
                raise _NoAnswerError("RemoteProtocolError")
            status, headers = int(first[1]), _headers(lines[1:])
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._chunked()
        elif "content-length" in headers:
            lengths = {v.strip() for v in headers["content-length"].split(",")}
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise _NoAnswerError("RemoteProtocolError")
            body = self._exactly(int(lengths.pop()))
        else:
            while self._more():
                pass
            body = self._buf
        return status, headers.get("content-type", ""), _decoded(body, headers.get("content-encoding", ""))

    def _chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = self._until(b"\r\n", _MAX_HEAD).split(b";")[0].strip()
            if not size or any(c not in b"0123456789abcdefABCDEF" for c in size):
                raise _NoAnswerError("RemoteProtocolError")
            if int(size, 16) == 0:
                while self._until(b"\r\n", _MAX_HEAD):  # trailers, up to the empty line
                    pass
                return b"".join(chunks)
            chunks.append(self._exactly(int(size, 16)))
            if self._exactly(2) != b"\r\n":
                raise _NoAnswerError("RemoteProtocolError")


def _headers(lines: list[bytes]) -> dict[str, str]:
    """Header fields by lower-case name; repeated ones joined with ", " (as httpx's ``headers.get``)."""
    fields: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise _NoAnswerError("RemoteProtocolError")
        key, text = name.decode("latin-1").lower(), value.strip(b" \t").decode("latin-1")
        fields[key] = f"{fields[key]}, {text}" if key in fields else text
    return fields


def _decoded(body: bytes, encoding: str) -> bytes:
    """*body* without its gzip/deflate content coding (others are kept, as httpx keeps them)."""
    import zlib

    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = zlib.decompress(body, zlib.MAX_WBITS | 16)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -zlib.MAX_WBITS)
        except zlib.error:
            raise _NoAnswerError("DecodingError") from None
    return body


def _probe_with_httpx(
    base_url: str, *, timeout: float, verify: Trust, transport: httpx.BaseTransport | None
) -> ServerHealth:
    import httpx

    try:
        with httpx.Client(
            headers={"User-Agent": f"score-client/{__version__}"},
            timeout=timeout,
            verify=verify,
            transport=transport,
        ) as http:
            health = http.get(base_url.rstrip("/") + "/health")
    except httpx.HTTPError as exc:
        return ServerHealth("", unreachable=type(exc).__name__)
    return _health(health.status_code, health.headers.get("content-type", ""), health.content)


def _health(status: int, content_type: str, content: bytes) -> ServerHealth:
    """The status and version a ``/health`` answer states (a body that is not a JSON object: the code)."""
    import json

    body: object = {}
    if content_type.startswith("application/json"):
        try:
            body = json.loads(content)
        except ValueError:
            body = {}
    if not isinstance(body, dict):
        body = {}
    return ServerHealth(str(body.get("status", status)), str(body.get("version", "?")))
