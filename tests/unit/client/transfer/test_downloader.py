"""Downloader against the app in process: its ServerApi through an httpx.MockTransport into create_app on the
memory store, its ranged GETs through a data plane that injects failures. A dropped connection is retried, a
corrupt part is found by the whole-object MD5 and fetched again, and a stopped download resumes fetching only
the parts it does not have; the result is byte-identical and MD5-checked every time."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from score.client.transfer.download import Downloader, DownloadResult
from score.client.transfer.upload import Uploader
from tests.kit.files import md5_hex as md5
from tests.kit.inprocess import KIB, App, Fault, MemoryDataPlane, Stopped

PART = 4 * KIB
DATA = bytes((i * 13) % 241 for i in range(18 * KIB))  # 5 parts of 4 KiB (the last 2 KiB)
STARTS = list(range(0, len(DATA), PART))


@pytest.fixture
def oid(app: App, tmp_path: Path) -> str:
    """An object uploaded through the server, which then knows its parts' MD5s and the whole MD5."""
    oid = str(uuid.uuid4())
    source = tmp_path / "in.bin"
    source.write_bytes(DATA)
    with app.server_api(app.rw_token()) as api:
        Uploader(api, MemoryDataPlane(app.store), parallel=1).upload(oid, source, md5=md5(DATA))
    return oid


def download(app: App, data: MemoryDataPlane, oid: str, out: Path) -> DownloadResult:
    with app.server_api(app.token(app.settings.auth.read_scope)) as api:
        downloader = Downloader(api, data, parallel=1)
        try:
            return downloader.download(oid, out)
        finally:
            downloader.close()


def test_a_clean_download_fetches_every_part_once_and_verifies(app: App, oid: str, tmp_path: Path) -> None:
    data = MemoryDataPlane(app.store)
    result = download(app, data, oid, tmp_path / "out")
    assert result.verified and result.md5 == md5(DATA) and result.path.read_bytes() == DATA
    assert sorted(start for method, start in data.requests if method == "GET") == STARTS


@pytest.mark.parametrize("kind", ["fail", "drop"])
def test_a_dropped_connection_is_retried(app: App, oid: str, tmp_path: Path, kind: str) -> None:
    data = MemoryDataPlane(app.store, Fault("GET", STARTS[2], kind))  # type: ignore[arg-type]
    result = download(app, data, oid, tmp_path / "out")
    assert result.verified and result.path.read_bytes() == DATA and result.retries >= 1
    assert data.count("GET", STARTS[2]) == 2 and data.count("GET") == len(STARTS) + 1


def test_a_corrupt_part_is_found_by_the_whole_md5_and_fetched_again(app: App, oid: str, tmp_path: Path) -> None:
    data = MemoryDataPlane(app.store, Fault("GET", STARTS[1], "corrupt"))
    result = download(app, data, oid, tmp_path / "out")
    assert result.verified and result.md5 == md5(DATA) and result.path.read_bytes() == DATA
    assert data.count("GET", STARTS[1]) == 2 and data.count("GET") == len(STARTS) + 1  # only the bad part again


def test_a_stopped_download_resumes_with_the_missing_parts_only(app: App, oid: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = MemoryDataPlane(app.store, Fault("GET", STARTS[3], "stop"))
    with pytest.raises(Stopped):
        download(app, first, oid, out)
    assert not (out / oid).exists()  # nothing under the final name until verified

    got = {start for method, start in first.requests if method == "GET" and start != STARTS[3]}

    again = MemoryDataPlane(app.store)
    result = download(app, again, oid, out)
    assert result.parts_resumed == len(got) >= 3 and result.parts_fetched == len(STARTS) - len(got)
    assert sorted(start for method, start in again.requests if method == "GET") == sorted(set(STARTS) - got)
    assert result.verified and result.md5 == md5(DATA) and (out / oid).read_bytes() == DATA
