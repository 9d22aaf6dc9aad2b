"""The storage backends the contract suite runs against: memory, local, moto, Ceph radosgw, Azurite, fake-gcs-server.

Every backend is driven only through the ObjectStore port and the URLs it signs, so the same
tests run unchanged on each (``backend``). moto and the GCS emulators check neither signatures,
expiry nor Content-MD5 (checked when this suite was written), so the refusal tests use
``refusing_backend``: the local store, radosgw and Azurite. An Azure SAS cannot bind a byte range
or a header, so the range-binding test uses ``range_binding_backend`` (local, radosgw); our GCS
V4 signatures, which do bind them, are verified offline in tests/unit/storage/test_gcs_signing.py.

The in-process memory store (score.storage.memory) checks all of these too and needs no server, so it
always runs (the fast tier): the tests send their requests through :data:`http`, which hands its URLs
to the store's transport. The emulator backends carry their markers (radosgw, azurite, gcs), so that
``-m "not radosgw"`` starts no Ceph.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from score.domain.parts import PartLimits
from score.domain.ports import ObjectStore
from score.storage.local import LocalObjectStore, load_or_create_secret
from score.storage.memory import MemoryObjectStore
from score.storage.urlsign import UrlSigner
from tests.kit.azurite import Azurite
from tests.kit.gcs_emulator import FakeGcs
from tests.kit.radosgw import Radosgw
from tests.kit.servers import ServerProcess, free_port

MIB = 1024 * 1024
LIMITS = PartLimits(min_part_bytes=5 * MIB)
T = TypeVar("T")
MEMORY = MemoryObjectStore(limits=LIMITS)  # one for the session, as the local store's server is


class _Http:
    """``httpx.get``/``put``/``delete``, except that the memory store's URLs go to its in-process transport."""

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if url.startswith(MEMORY.base_url + "/"):
            with httpx.Client(transport=MEMORY.transport) as client:
                return client.request(method, url, **kwargs)
        return httpx.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


http = _Http()


@dataclass
class Backend:
    """A store under test."""

    name: str
    store: ObjectStore
    refuses_bad_urls: bool
    s3: Any = None  # a boto3 client, for S3 backends

    @property
    def s3_etags(self) -> bool:
        """Object ETags follow S3's multipart rule (local and S3 backends)."""
        return self.name in ("memory", "local", "moto", "radosgw")

    @property
    def md5_header_required(self) -> bool:
        """A part PUT without the signed Content-MD5 header is refused (an Azure SAS cannot require it)."""
        return self.name != "azurite"


def run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run one coroutine function to completion."""
    return anyio.run(fn, *args)


@pytest.fixture(scope="session")
def local_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The embedded store; its URLs are served by a real score-server over the same data dir."""
    data = tmp_path_factory.mktemp("local-store") / "data"
    srv = ServerProcess(data, free_port()).start()
    signer = UrlSigner(load_or_create_secret(data / "secrets" / "url-signing.key"))
    yield Backend("local", LocalObjectStore(data, srv.url, signer, LIMITS), refuses_bad_urls=True)
    srv.stop()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An in-process moto S3 server on a free loopback port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_backend(name: str, endpoint: str, key: str, secret: str, refuses: bool, **settings: Any) -> Backend:
    """An S3 store built exactly as the server builds it (settings -> make_store), over fresh buckets."""
    from score.config.settings import S3StorageSettings
    from score.server.stores.s3 import make_store

    bucket = f"contract-{uuid.uuid4().hex[:12]}"
    config = S3StorageSettings(
        kind="s3",
        endpoint=endpoint,
        access_key=key,
        secret_key=secret,
        object_bucket=bucket,
        min_part_size_bytes=5 * MIB,
        **settings,
    )
    store = make_store(config)
    run(store.ensure_buckets)
    return Backend(name, store, refuses_bad_urls=refuses, s3=store.client)


def azure_backend(emulator: Azurite) -> Backend:
    """An Azure store built as the server builds it, over a fresh container."""
    from score.config.settings import AzureStorageSettings
    from score.server.stores.azure import make_azure_store

    config = AzureStorageSettings(**emulator.settings(f"contract-{uuid.uuid4().hex[:12]}", min_part_size_bytes=5 * MIB))
    store = make_azure_store(config)
    run(store.ensure_buckets)
    return Backend("azurite", store, refuses_bad_urls=True)


def gcs_backend(emulator: FakeGcs) -> Backend:
    """A GCS store built as the server builds it, over a fresh bucket."""
    from score.config.settings import GcsStorageSettings
    from score.server.stores.gcs import make_gcs_store

    config = GcsStorageSettings(**emulator.settings(f"contract-{uuid.uuid4().hex[:12]}", min_part_size_bytes=5 * MIB))
    store = make_gcs_store(config)
    run(store.ensure_buckets)
    return Backend("gcs", store, refuses_bad_urls=False)


def _make(request: pytest.FixtureRequest, name: str) -> Backend:
    if name == "memory":
        return Backend("memory", MEMORY, refuses_bad_urls=True)
    if name == "local":
        b: Backend = request.getfixturevalue("local_backend")
        return b
    if name == "moto":
        return s3_backend("moto", request.getfixturevalue("moto_endpoint"), "testing", "testing", refuses=False)
    if name == "azurite":
        return azure_backend(request.getfixturevalue("azurite"))
    if name == "gcs":
        return gcs_backend(request.getfixturevalue("fake_gcs"))
    rgw: Radosgw = request.getfixturevalue("radosgw")
    return s3_backend("radosgw", rgw.endpoint, "test", "testsecret", refuses=True)


RADOSGW = pytest.param("radosgw", marks=pytest.mark.radosgw)
AZURITE = pytest.param("azurite", marks=pytest.mark.azurite)
GCS = pytest.param("gcs", marks=pytest.mark.gcs)


@pytest.fixture(params=["memory", "local", "moto", RADOSGW, AZURITE, GCS])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn (remote backends get a fresh bucket or container per test)."""
    return _make(request, request.param)


@pytest.fixture(params=["memory", "local", RADOSGW, AZURITE])
def refusing_backend(request: pytest.FixtureRequest) -> Backend:
    """The backends that check signatures, expiry and Content-MD5 (moto and the GCS emulator check none)."""
    return _make(request, request.param)


@pytest.fixture(params=["memory", "local", RADOSGW])
def range_binding_backend(request: pytest.FixtureRequest) -> Backend:
    """The backends whose GET URLs can be bound to one byte range (an Azure SAS cannot)."""
    return _make(request, request.param)
