"""What the test kit's HTTP servers share: a threaded server on a free 127.0.0.1 port that does not
print tracebacks for peers that hang up, and relaying an upstream answer to a client."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "proxy-connection", "proxy-authorization"}


class QuietServer(ThreadingHTTPServer):
    """Daemon threads; clients killed on purpose reset their connections: not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet."""


class LoopbackServer:
    """Serves *handler* on 127.0.0.1 in a background thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        """Bind *port* (0: a free one); :meth:`start` serves."""
        self._server = QuietServer(("127.0.0.1", port), handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def relay(handler: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
    """Answer *handler*'s client with an upstream's status, end-to-end headers and (whole) body."""
    handler.send_response(status)
    for k, v in headers:
        if k.lower() not in HOP_HEADERS and k.lower() != "content-length":
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)
