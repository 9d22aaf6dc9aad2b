"""The stores' HTTP connections, on real sockets against a local listener (issue 23): every SDK's connection
disables Nagle's algorithm (TCP_NODELAY), and connections are kept and reused, not opened per call."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
import urllib3.util.connection

from score.config.settings import AzureStorageSettings, GcsStorageSettings, S3StorageSettings
from score.server.stores.azure import make_azure_store
from score.server.stores.gcs import make_gcs_store
from score.server.stores.pooling import BLOCKING_CALLS
from score.server.stores.s3 import make_store
from tests.kit.gcs_emulator import write_service_account

CALLS = 5


class _NotFound(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a store

    def _answer(self) -> None:
        body = b"" if self.command == "HEAD" else b'{"error": {"code": 404, "message": "no such object"}}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """TCP_NODELAY of every connection urllib3 opens (read back from the socket itself)."""
    seen: list[int] = []
    real = urllib3.util.connection.create_connection

    def spy(*args: Any, **kwargs: Any) -> socket.socket:
        sock = real(*args, **kwargs)
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return sock

    monkeypatch.setattr(urllib3.util.connection, "create_connection", spy)
    return seen


def _heads(store: Any) -> None:
    async def go() -> None:
        for _ in range(CALLS):
            assert await store.head("data/5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01") is None

    anyio.run(go)


def test_s3_connections_disable_nagle_and_are_reused(endpoint: str, sockets: list[int]) -> None:
    settings = S3StorageSettings(
        kind="s3", endpoint=endpoint, access_key="a", secret_key="b", object_bucket="bkt", max_attempts=1
    )
    _heads(make_store(settings))
    assert sockets and all(sockets) and len(sockets) < CALLS


def test_azure_connections_disable_nagle_are_pooled_and_reused(endpoint: str, sockets: list[int]) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    settings = AzureStorageSettings(
        kind="azure", account_name="devstoreaccount1", account_key=key, endpoint=f"{endpoint}/devstoreaccount1"
    )
    store = make_azure_store(settings)
    _heads(store)
    assert sockets and all(sockets) and len(sockets) < CALLS
    adapter = store._container._config.transport.session.get_adapter(endpoint)  # type: ignore[attr-defined]
    assert adapter._pool_maxsize == BLOCKING_CALLS


def test_gcs_connections_disable_nagle_are_pooled_and_reused(endpoint: str, sockets: list[int], tmp_path: Path) -> None:
    key_file, _ = write_service_account(tmp_path / "sa.json")
    settings = GcsStorageSettings(kind="gcs", bucket="bkt", credentials_file=key_file, endpoint=endpoint, emulator=True)
    store = make_gcs_store(settings)
    _heads(store)
    assert sockets and all(sockets) and len(sockets) < CALLS
    assert store._client._http.get_adapter(endpoint)._pool_maxsize == BLOCKING_CALLS  # type: ignore[attr-defined]
