"""The fast tier's kit: score-server's app in process on the memory store, a fixed clock, and a data plane
that reaches the store's signed URLs through its transport, with failures to inject. No sockets, no processes.

* :class:`FixedClock` - the services' and the store's time, moved only by the test.
* :class:`App` - ``create_app`` on ``storage.kind = memory``: an async client for the API and the data
  plane together (``httpx.ASGITransport`` plus the store's transport), a sync ``httpx.MockTransport``
  into the same app for the client's :class:`ServerApi`, and tokens from the embedded issuer.
* :class:`MemoryDataPlane` - the client's :class:`DataPlane` over the store's transport; :class:`Fault`
  makes a chosen part PUT or GET fail, corrupt its bytes or drop mid-body.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import anyio.from_thread
import httpx

from score.client.http.server_api import ServerApi
from score.client.http.signed_urls import classify_store_refusal
from score.client.transfer.data_plane import DataPlane
from score.config.settings import ServerSettings
from score.domain import errors as e
from score.domain.integrity import hex_to_b64
from score.domain.ranges import ByteRange
from score.server.app import create_app
from score.storage.memory import MemoryObjectStore

BASE_URL = "http://score.test"
KIB = 1024


class FixedClock:
    """A clock that stands still until :meth:`advance` moves it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.moment = now or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def memory_settings(data_dir: Path, **overrides: Any) -> ServerSettings:
    """Server settings on the memory store, embedded auth, no metadata service, small parts."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "public_url": BASE_URL,
        "storage": {"kind": "memory", "min_part_size_bytes": 4 * KIB},
        "metadata": {"kind": "none"},
    }
    values.update(overrides)
    return ServerSettings(**values)


class App:
    """score-server's app in process, with the memory store its settings build."""

    def __init__(self, data_dir: Path, clock: FixedClock | None = None, **overrides: Any) -> None:
        self.clock = clock or FixedClock()
        self.settings = memory_settings(data_dir, **overrides)
        self.app = create_app(self.settings, self.clock)
        store = self.app.state.store
        assert isinstance(store, MemoryObjectStore)
        self.store = store

    def token(self, *scopes: str, ttl: timedelta = timedelta(hours=1)) -> str:
        """A token from the app's embedded issuer (real time: tokens are checked against the wall clock)."""
        auth = self.settings.auth
        return str(self.app.state.issuer.mint(issuer=auth.issuer, audience=auth.audience, scopes=scopes, ttl=ttl))

    def rw_token(self) -> str:
        return self.token(self.settings.auth.read_scope, self.settings.auth.write_scope)

    def async_client(self, token: str | None = None) -> httpx.AsyncClient:
        """The API at BASE_URL and the store's URLs, both in process."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            base_url=BASE_URL,
            headers=headers,
            transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
            mounts={self.store.base_url: self.store.transport},
        )

    @contextlib.contextmanager
    def server_api(self, token: str | None) -> Iterator[ServerApi]:
        """The client's ServerApi, its requests handed to the app through an ``httpx.MockTransport``."""
        with anyio.from_thread.start_blocking_portal() as portal:
            client = self.async_client()

            def handle(request: httpx.Request) -> httpx.Response:
                async def send() -> httpx.Response:
                    r = await client.request(
                        request.method, request.url, headers=request.headers, content=request.read()
                    )
                    await r.aread()
                    return r

                r = portal.call(send)
                return httpx.Response(r.status_code, headers=r.headers, content=r.content)

            api = ServerApi(BASE_URL, token, transport=httpx.MockTransport(handle))
            try:
                yield api
            finally:
                api.close()
                portal.call(client.aclose)


FaultKind = Literal["fail", "corrupt", "drop", "stop"]


@dataclass
class Fault:
    """What to do to the next *times* requests on one part (PUT: its number; GET: its first byte).

    ``fail``: a retryable network error before any byte moves (a refused connection, a 503);
    ``corrupt``: one byte flipped on the wire (PUT: the store refuses it by its Content-MD5; GET: the
    client gets wrong bytes); ``drop``: the connection drops mid-body (GET: half the bytes arrive);
    ``stop``: a fatal error that ends the transfer, as if the client were killed. With *wait*, the
    fault first waits (up to 10 s) until it returns true, to order it after the work of other threads.
    """

    method: str
    part: int
    kind: FaultKind
    times: int = 1
    wait: Callable[[], bool] | None = None


class Stopped(e.ScoreError):
    """The transfer was stopped by a ``stop`` fault (not retryable: the client gives up)."""

    code = "stopped"


class MemoryDataPlane(DataPlane):
    """The client's data plane over the memory store's transport; counts requests and injects faults."""

    def __init__(self, store: MemoryObjectStore, *faults: Fault) -> None:
        super().__init__()
        self.store = store
        self.faults = list(faults)
        self.requests: list[tuple[str, int]] = []  # (method, part number or first byte)
        self._client = httpx.Client(transport=store.transport)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()
        super().close()

    def _fault(self, method: str, part: int) -> FaultKind | None:
        with self._lock:
            self.requests.append((method, part))
            chosen = next((f for f in self.faults if f.method == method and f.part == part and f.times > 0), None)
            if chosen is None:
                return None
            chosen.times -= 1
        deadline = time.monotonic() + 10
        while chosen.wait is not None and not chosen.wait() and time.monotonic() < deadline:
            time.sleep(0.01)
        return chosen.kind

    def count(self, method: str, part: int | None = None) -> int:
        return sum(1 for m, p in self.requests if m == method and (part is None or p == part))

    def put_part(
        self, url: str, data: memoryview, md5_hex: str, cancel: threading.Event, *, etag_is_md5: bool = True
    ) -> str:
        number = int(dict(parse_qsl(urlsplit(url).query))["partNumber"])
        body = bytes(data)
        fault = self._fault("PUT", number)
        _raise_for(fault, f"PUT of part {number}")
        if fault == "drop":  # the store keeps nothing of a body cut off
            raise e.UpstreamUnavailableError(f"PUT of part {number}: connection dropped mid-body", retryable=True)
        if fault == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        r = self._client.put(url, content=body, headers={"Content-MD5": hex_to_b64(md5_hex)})
        if r.status_code >= 400:
            raise classify_store_refusal(r.status_code, r.content, url)
        etag = r.headers["ETag"].strip('"')
        if etag_is_md5 and etag != md5_hex:
            raise e.IntegrityError(f"the store's ETag {etag!r} differs from the part's MD5 {md5_hex}")
        return etag

    def get_range(
        self,
        url: str,
        rng: ByteRange,
        sink: Callable[[memoryview, int], None],
        cancel: threading.Event,
        *,
        hash_bytes: bool = True,
    ) -> str:
        fault = self._fault("GET", rng.start)
        _raise_for(fault, f"GET of bytes {rng.start}-")
        r = self._client.get(url, headers={"Range": rng.header()} if rng.length else {})
        if r.status_code >= 400:
            raise classify_store_refusal(r.status_code, r.content, url)
        body = r.content
        if fault == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if fault == "drop":
            sink(memoryview(body[: len(body) // 2]), 0)
            raise e.UpstreamUnavailableError("connection dropped mid-body", retryable=True)
        if len(body) != rng.length:
            raise e.IntegrityError(f"the store sent {len(body)} bytes for a {rng.length}-byte range", retryable=True)
        sink(memoryview(body), 0)
        return hashlib.md5(body).hexdigest() if hash_bytes else ""


def _raise_for(fault: FaultKind | None, what: str) -> None:
    if fault == "fail":
        raise e.UpstreamUnavailableError(f"{what}: connection refused (injected)", retryable=True)
    if fault == "stop":
        raise Stopped(f"{what}: the client stopped (injected)")
