"""A small HTTP proxy in front of score-server (or an emulated store) that can delay or corrupt store traffic.

Signed URLs point at it when the server's ``SCORE_PUBLIC_URL`` is the proxy's URL, so a test
can corrupt a part in flight or slow transfers down until URLs expire.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.kit.loopback import HOP_HEADERS, LoopbackServer, relay

_SIGNATURE_PARAMS = ("X-Amz-Signature=", "sig=", "X-Goog-Signature=")


def _is_store(path: str) -> bool:
    """True for a request on a signed URL (the traffic a client sends to the store)."""
    parts = urlsplit(path)
    query = "&" + parts.query
    return parts.path.startswith("/_store/") or any(f"&{p}" in query for p in _SIGNATURE_PARAMS)


class FaultProxy(LoopbackServer):
    """Forwards to ``127.0.0.1:<target_port>``; faults apply to signed data-plane requests only.

    Those are the local store's ``/_store/`` URLs and any URL carrying an S3, Azure SAS or GCS V4
    signature; the server's own SDK calls to a store sign with headers and pass untouched.
    """

    def __init__(
        self,
        target_port: int,
        *,
        corrupt_puts: int = 0,
        corrupt_gets: int = 0,
        store_delay: float = 0.0,
        stream_gets: bool = False,
        rate_bytes: float = 0.0,
    ) -> None:
        """Corrupt the first *corrupt_puts* part PUTs and *corrupt_gets* GET bodies; delay every store
        request by *store_delay* s. With *stream_gets*, store GET bodies are relayed in small chunks and
        ``store_get_bytes`` counts only what reached the client before it hung up (as a store would);
        with *rate_bytes* too, they share one link of that many bytes per second (a network in between)."""
        self.stream_gets = stream_gets
        self.target_port = target_port
        self.corrupt_puts = corrupt_puts
        self.corrupt_gets = corrupt_gets
        self.corrupted_gets = 0
        self.store_gets = 0
        self.store_delay = store_delay
        self.rate_bytes = rate_bytes
        self._link_free_at = 0.0  # when the paced link has sent what it was given
        self.corrupted = 0
        self.store_requests = 0
        self.store_get_paths: Counter[str] = Counter()  # successful store GETs by URL path
        self.store_get_bytes: Counter[str] = Counter()  # body bytes sent for them, by URL path
        self.in_flight = 0
        self.max_in_flight = 0  # most store requests served at once
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path
                if _is_store(path):
                    with proxy.lock:
                        proxy.store_requests += 1
                        proxy.in_flight += 1
                        proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                        corrupt = self.command == "PUT" and proxy.corrupted < proxy.corrupt_puts and len(body) > 0
                        if corrupt:
                            proxy.corrupted += 1
                    if corrupt:
                        body = bytes([body[0] ^ 0xFF]) + body[1:]
                    if proxy.store_delay:
                        time.sleep(proxy.store_delay)
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                    conn.request(self.command, path, body=body if body or length else None, headers=headers)
                    resp = conn.getresponse()
                    if proxy.stream_gets and self.command == "GET" and _is_store(path):
                        self._stream(resp, urlsplit(path).path)
                        return
                    data = resp.read()
                    if _is_store(path):
                        with proxy.lock:
                            proxy.in_flight -= 1
                    if self.command == "GET" and _is_store(path) and resp.status < 300:
                        with proxy.lock:
                            proxy.store_gets += 1
                            proxy.store_get_paths[urlsplit(path).path] += 1
                            proxy.store_get_bytes[urlsplit(path).path] += len(data)
                            flip = proxy.corrupted_gets < proxy.corrupt_gets and len(data) > 0
                            if flip:
                                proxy.corrupted_gets += 1
                        if flip:
                            data = data[:-1] + bytes([data[-1] ^ 0xFF])
                    relay(self, resp.status, resp.getheaders(), data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client went away (killed on purpose)
                finally:
                    conn.close()

            def _stream(self, resp: http.client.HTTPResponse, key: str) -> None:
                """Relay a store GET chunk by chunk, counting the bytes the client took."""
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
                with proxy.lock:
                    proxy.in_flight -= 1
                    proxy.store_gets += 1
                    proxy.store_get_paths[key] += 1
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_HEADERS:
                        self.send_header(k, v)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    while chunk := resp.read(16 * 1024):
                        if proxy.rate_bytes:
                            proxy.pace(len(chunk))
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        with proxy.lock:
                            proxy.store_get_bytes[key] += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        super().__init__(Handler)

    def pace(self, nbytes: int) -> None:
        """Wait until the shared link of ``rate_bytes`` per second has room for *nbytes* more."""
        with self.lock:
            now = time.monotonic()
            # a link that fell behind (a sleep overshot) catches up by up to 10 ms, so the mean rate holds
            self._link_free_at = max(now - 0.01, self._link_free_at) + nbytes / self.rate_bytes
            wait = self._link_free_at - now
        if wait > 0.001:
            time.sleep(wait)
