"""A tiny misbehaving Song on 127.0.0.1 (a real HTTP server on a thread) for fault tests.

It answers ``GET /entities?gnosId=...&page=N`` with one new entity per page and never says
``last``, after ``delay`` seconds; every other path is 404. ``pages`` lists the pages asked.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class EndlessSong:
    """A Song whose entity listing never ends."""

    def __init__(self, delay: float = 0.0) -> None:
        """Answer each page after *delay* seconds."""
        self.delay = delay
        self.pages: list[int] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                if url.path != "/entities":
                    self.send_error(404)
                    return
                page = int(parse_qs(url.query).get("page", ["0"])[0])
                with owner._lock:
                    owner.pages.append(page)
                time.sleep(owner.delay)
                body = json.dumps({"content": [{"id": str(uuid.UUID(int=page + 1))}], "last": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of this Song."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def asked(self) -> int:
        """How many pages were requested so far."""
        with self._lock:
            return len(self.pages)

    def start(self) -> EndlessSong:
        """Serve on a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
