"""The client journeys on S3 (Ceph radosgw), Azure (Azurite) and GCS (fake-gcs-server): same commands, same guarantees.

The local store runs these journeys in test_transfer_cli.py. Here each test runs once per remote
store, with a fresh bucket or container, and a FaultProxy in front of the store where a test
needs to corrupt or slow the bytes.
"""

from __future__ import annotations

import base64
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.checks import bearer, ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.proxy import FaultProxy
from tests.kit.servers import confirmed_parts, run_client, start_client

pytestmark = [pytest.mark.e2e]
PART = 5 * MIB  # S3's smallest part


@dataclass
class Cloud:
    """One emulator and what a test needs from it."""

    name: str
    emulator: Any

    @property
    def port(self) -> int:
        """The emulator's port (a FaultProxy forwards there)."""
        return int(self.emulator.port)

    def env(self, endpoint: str | None = None, **extra: str) -> dict[str, str]:
        """A score-server's environment over a fresh container or bucket, optionally through *endpoint*."""
        name = f"e2e-{uuid.uuid4().hex[:12]}"
        env = self.emulator.server_env(name, SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART), **extra)
        if endpoint is not None:
            env["SCORE_STORAGE__ENDPOINT"] = endpoint + ("/devstoreaccount1" if self.name == "azure" else "")
        return dict(env)

    def stored_md5(self, env: dict[str, str], key: str) -> str:
        """The MD5 the store keeps with the object for other tools (hex)."""
        if self.name == "azure":
            blob = self.emulator.service().get_blob_client(env["SCORE_STORAGE__CONTAINER"], key)
            return bytes(blob.get_blob_properties().content_settings.content_md5).hex()
        if self.name == "s3":
            head = self.emulator.client().head_object(Bucket=env["SCORE_STORAGE__OBJECT_BUCKET"], Key=key)
            return base64.b64decode(head["Metadata"]["md5chksum"]).hex()
        r = httpx.get(
            f"{self.emulator.endpoint}/storage/v1/b/{env['SCORE_STORAGE__BUCKET']}/o/{key.replace('/', '%2F')}"
        )
        return base64.b64decode(r.json()["metadata"]["md5chksum"]).hex()


@pytest.fixture(params=[pytest.param("s3", marks=pytest.mark.radosgw), "azure", "gcs"])
def cloud(request: pytest.FixtureRequest) -> Cloud:
    """Each remote store in turn."""
    fixture = {"s3": "radosgw", "azure": "azurite", "gcs": "fake_gcs"}[request.param]
    return Cloud(request.param, request.getfixturevalue(fixture))


@pytest.fixture(params=["azure", "gcs"])
def emulated(request: pytest.FixtureRequest) -> Cloud:
    """The cloud emulators, for the journeys that put a FaultProxy in front of the store.

    (On radosgw the store itself refuses corrupt parts and expired URLs: tests/contract.)
    """
    fixture = {"azure": "azurite", "gcs": "fake_gcs"}[request.param]
    return Cloud(request.param, request.getfixturevalue(fixture))


@pytest.fixture
def proxied(emulated: Cloud) -> Iterator[Callable[..., FaultProxy]]:
    """FaultProxies in front of the emulator (signed URLs and the server both go through them)."""
    started: list[FaultProxy] = []

    def start(**faults: Any) -> FaultProxy:
        proxy = FaultProxy(emulated.port, **faults).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def test_round_trip_with_md5_everywhere(cloud: Cloud, server_factory: Any, tmp_path: Path) -> None:
    env = cloud.env()
    srv = server_factory(**env)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bam", 5 * PART + 1234)
    oid = str(uuid.uuid4())
    out = ok(
        run_client(["upload", "--object-id", oid, "--file", str(src), "--parallel", "3"], server=srv.url, token=token)
    )
    assert "6 of 6 parts sent" in out
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    )
    assert "md5 verified" in out and md5_of(tmp_path / "o" / oid) == md5_of(src)
    assert cloud.stored_md5(env, f"data/{oid}") == md5_of(src)  # for other tools
    # Song's publish check, and a sub-range download that validates
    r = httpx.get(
        f"{srv.url}/download/{oid}", params={"offset": 0, "length": -1, "exclude-urls": "true"}, headers=bearer(token)
    )
    assert r.status_code == 200 and (r.json()["objectSize"], r.json()["objectMd5"]) == (src.stat().st_size, md5_of(src))
    assert httpx.get(f"{srv.url}/upload/{oid}", headers=bearer(token)).json() is True
    assert httpx.get(f"{srv.url}/profile", headers=bearer(token)).text == ("az" if cloud.name == "azure" else "s3")
    # the same file again sends nothing (its MD5 is the stored one); another file is not written over unless asked
    same = ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    assert same.startswith(f"skipped {oid}: already uploaded"), same
    other = tmp_path / "other.bam"
    other.write_bytes(src.read_bytes()[::-1])
    again = run_client(["upload", "--object-id", oid, "--file", str(other)], server=srv.url, token=token)
    assert again.returncode == 7 and "exists" in again.stderr.lower(), again.stderr
    zero = tmp_path / "empty.vcf"
    zero.write_bytes(b"")
    zid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", zid, "--file", str(zero)], server=srv.url, token=token))
    ok(run_client(["download", "--object-id", zid, "--output-dir", str(tmp_path / "z")], server=srv.url, token=token))
    assert (tmp_path / "z" / zid).read_bytes() == b""


def test_sigkill_mid_upload_resumes_without_resending(cloud: Cloud, server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(**cloud.env())
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", 20 * PART + 99)
    total = 21
    oid = str(uuid.uuid4())
    proc = start_client(
        ["upload", "--object-id", oid, "--file", str(src), "--parallel", "2"], server=srv.url, token=token
    )
    deadline = time.monotonic() + 90
    while confirmed_parts(srv, token, oid, src) < 4 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = confirmed_parts(srv, token, oid, src)
    assert 4 <= before < total
    out = ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    sent = int(out.split(" parts sent")[0].rsplit(" ", 3)[-3])
    skipped = int(out.split(" already on the server")[0].rsplit(" ", 1)[-1])
    assert skipped >= before and sent + skipped == total
    ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token))
    assert md5_of(tmp_path / "o" / oid) == md5_of(src)


def test_corrupted_part_in_flight_is_detected_and_resent(
    emulated: Cloud, server_factory: Any, proxied: Any, tmp_path: Path
) -> None:
    proxy = proxied(corrupt_puts=2)
    srv = server_factory(**emulated.env(proxy.url))
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bam", 5 * PART)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    # Azure refuses the bytes (Content-MD5); on the GCS emulator, which does not, the server's check
    # of the part's MD5 at confirmation catches them
    assert proxy.corrupted == 2
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    )
    assert "md5 verified" in out and md5_of(tmp_path / "o" / oid) == md5_of(src)


def test_corrupted_download_in_flight_is_fetched_again(
    emulated: Cloud, server_factory: Any, proxied: Any, tmp_path: Path
) -> None:
    proxy = proxied(corrupt_gets=1)
    srv = server_factory(**emulated.env(proxy.url))
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bam", 3 * PART + 5)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    )
    assert proxy.corrupted_gets == 1 and "md5 verified" in out
    assert md5_of(tmp_path / "o" / oid) == md5_of(src)


def test_expired_urls_are_refreshed_not_restarted(
    emulated: Cloud, server_factory: Any, proxied: Any, tmp_path: Path
) -> None:
    # Each store request waits 1.6 s in the proxy; URLs live 2 s (an Azure SAS: 2 to 3 s, whole seconds).
    # A part URL, fetched just before its PUT, arrives in time; the second part's GET URL, issued with
    # the first, arrives after 3.2 s: expired.
    proxy = proxied(store_delay=1.6)
    ttl = {"SCORE_UPLOAD_URL_TTL": "2", "SCORE_DOWNLOAD_URL_TTL": "2"}
    srv = server_factory(**emulated.env(proxy.url), **ttl)
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", 3 * PART)
    oid = str(uuid.uuid4())
    out = ok(
        run_client(["upload", "--object-id", oid, "--file", str(src), "--parallel", "1"], server=srv.url, token=token)
    )
    assert "3 of 3 parts sent" in out
    assert srv.log().count(f"/upload/{oid}/parts/url") == 3  # one fresh URL per part, just before it is sent
    ok(
        run_client(
            ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o"), "--parallel", "1"],
            server=srv.url,
            token=token,
        )
    )
    if emulated.name == "azure":  # the GCS emulator accepts expired URLs, so nothing is refused there
        assert srv.log().count(f"/download/{oid}") >= 2  # URLs that expired in the proxy's delay were renewed
    assert md5_of(tmp_path / "o" / oid) == md5_of(src)
