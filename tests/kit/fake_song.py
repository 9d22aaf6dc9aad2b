"""Small misbehaving Songs on 127.0.0.1 (real HTTP servers on a thread) for fault tests.

:class:`EndlessSong` answers ``GET /entities?gnosId=...&page=N`` with one new entity per page and
never says ``last``; :class:`SongDouble` knows a few objects, or hangs, trickles or answers HTML.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.kit.loopback import LoopbackServer


class EndlessSong(LoopbackServer):
    """A Song whose entity listing never ends."""

    def __init__(self, delay: float = 0.0) -> None:
        """Answer each page after *delay* seconds."""
        self.delay = delay
        self.pages: list[int] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
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

        super().__init__(Handler)

    def asked(self) -> int:
        """How many pages were requested so far."""
        with self._lock:
            return len(self.pages)


class SongDouble(LoopbackServer):
    """A Song that knows a few objects, or fails in one chosen way: the metadata-service faults.

    ``objects`` maps an object id to its record (``study``, ``analysis``, ``state``, ``size``, ``md5``,
    ``name``); ``GET /entities/{id}``, ``GET /entities?gnosId=`` and ``GET /studies/{study}/analysis/{id}``
    answer from it as Song does. *fault* makes every request fail instead:

    - ``hang``: accept the connection, read the request, never answer;
    - ``trickle``: answer 200 and its headers, then a byte of body every 0.25 s, never ending;
    - ``html200`` / ``html502``: an HTML page (a proxy's or a load balancer's) with that status.

    Several doubles can take turns on one *port* (the service "comes back" where it was).
    """

    HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n"

    def __init__(self, objects: dict[str, dict[str, object]], *, fault: str | None = None, port: int = 0) -> None:
        """Serve *objects* on 127.0.0.1:*port* (0: a free one), or fail with *fault*."""
        if fault not in (None, "hang", "trickle", "html200", "html502"):
            raise ValueError(fault)
        self.objects = objects
        self.fault = fault
        self.requests = 0
        self._release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: no connection outlives stop()
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.fault == "hang":
                    owner._release.wait(300)
                elif owner.fault == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    while not owner._release.wait(0.25):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                elif owner.fault in ("html200", "html502"):
                    self._send(200 if owner.fault == "html200" else 502, owner.HTML, "text/html")
                else:
                    url = urlsplit(self.path)
                    status, body = owner._answer(url.path, parse_qs(url.query))
                    self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

        super().__init__(Handler, port)

    def _entity(self, oid: str) -> dict[str, object]:
        o = self.objects[oid]
        return {
            "id": oid,
            "gnosId": o["analysis"],
            "projectCode": o["study"],
            "fileName": o["name"],
            "access": "controlled",
        }

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, object]]:
        parts = path.strip("/").split("/")
        if parts == ["entities"]:  # one page holds them all
            found = [
                self._entity(oid)
                for oid, o in self.objects.items()
                if o["analysis"] == query.get("gnosId", [o["analysis"]])[0]
            ]
            return 200, {"content": found, "last": True}
        if len(parts) == 2 and parts[0] == "entities" and parts[1] in self.objects:
            return 200, self._entity(parts[1])
        if len(parts) == 4 and parts[0] == "studies" and parts[2] == "analysis":
            files = [
                {"objectId": oid, "fileName": o["name"], "fileSize": o["size"], "fileMd5sum": o["md5"]}
                for oid, o in self.objects.items()
                if o["study"] == parts[1] and o["analysis"] == parts[3]
            ]
            states = {o["state"] for oid, o in self.objects.items() if o["analysis"] == parts[3]}
            if files:
                return 200, {"analysisId": parts[3], "analysisState": states.pop(), "files": files}
        return 404, {"errorId": "not.found", "message": "not found"}

    def stop(self) -> None:
        """Stop serving, letting go of the requests it holds; the port is free again."""
        self._release.set()
        super().stop()
