"""An HTTP forward proxy on 127.0.0.1 (absolute-form requests and CONNECT tunnels) that records
what it carried, for the client's proxy support."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.kit.loopback import HOP_HEADERS, LoopbackServer, relay


class ForwardProxy(LoopbackServer):
    """``requests``: (method, URL path) of forwarded plain-HTTP requests; ``tunnels``: CONNECT targets."""

    def __init__(self) -> None:
        """Bind a free port; :meth:`start` serves."""
        self.requests: list[tuple[str, str]] = []
        self.tunnels: list[str] = []
        self.auth_headers: list[str] = []
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_CONNECT(self) -> None:
                with lock:
                    proxy.tunnels.append(self.path)
                    proxy.auth_headers.append(self.headers.get("Proxy-Authorization", ""))
                host, port = self.path.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=30)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                sockets = [self.connection, upstream]
                try:
                    while True:
                        readable, _, _ = select.select(sockets, [], [], 30)
                        if not readable:
                            return
                        for s in readable:
                            data = s.recv(1 << 16)
                            if not data:
                                return
                            (upstream if s is self.connection else self.connection).sendall(data)
                except OSError:
                    return
                finally:
                    upstream.close()

            def _forward(self) -> None:
                u = urlsplit(self.path)
                with lock:
                    proxy.requests.append((self.command, u.path))
                    proxy.auth_headers.append(self.headers.get("Proxy-Authorization", ""))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(u.netloc, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                    headers["Host"] = u.netloc
                    conn.request(self.command, u.path + (f"?{u.query}" if u.query else ""), body=body, headers=headers)
                    resp = conn.getresponse()
                    relay(self, resp.status, resp.getheaders(), resp.read())
                except OSError:
                    self.close_connection = True
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        super().__init__(Handler)
