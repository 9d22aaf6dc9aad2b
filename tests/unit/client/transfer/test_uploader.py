"""Uploader against the app in process: its ServerApi through an httpx.MockTransport into create_app on the
memory store, its part PUTs through a data plane that injects failures. A failed PUT is retried, a corrupt
part is sent again, and a stopped upload resumes sending only the parts the store does not hold."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest

from score.client.transfer.upload import Uploader, UploadResult
from score.domain.ids import upload_prefix
from score.domain.model import GetTarget
from tests.kit.files import md5_hex as md5
from tests.kit.inprocess import KIB, App, Fault, MemoryDataPlane, Stopped

DATA = bytes((i * 7) % 251 for i in range(18 * KIB))  # parts of 4 KiB: 5 parts (the last 2 KiB)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.bin"
    path.write_bytes(DATA)
    return path


def stored(app: App, oid: str) -> bytes:
    return anyio.run(app.store.read_range, GetTarget(f"data/{oid}"))


def upload(app: App, data: MemoryDataPlane, oid: str, path: Path) -> UploadResult:
    with app.server_api(app.rw_token()) as api:
        return Uploader(api, data, parallel=1).upload(oid, path, md5=md5(DATA))


def test_a_clean_upload_sends_every_part_once(app: App, source: Path) -> None:
    oid = str(uuid.uuid4())
    data = MemoryDataPlane(app.store)
    result = upload(app, data, oid, source)
    assert (result.parts_total, result.parts_sent, result.parts_skipped) == (5, 5, 0)
    assert [data.count("PUT", n) for n in range(1, 6)] == [1, 1, 1, 1, 1]
    assert stored(app, oid) == DATA
    info = anyio.run(app.store.head, f"data/{oid}")
    assert info is not None and info.md5 == md5(DATA)


@pytest.mark.parametrize("kind", ["fail", "drop", "corrupt"])
def test_a_failed_or_corrupt_part_is_sent_again(app: App, source: Path, kind: str) -> None:
    oid = str(uuid.uuid4())
    data = MemoryDataPlane(app.store, Fault("PUT", 3, kind))  # type: ignore[arg-type]
    result = upload(app, data, oid, source)
    assert result.parts_sent == 5 and result.retries >= 1
    assert data.count("PUT", 3) == 2 and data.count("PUT") == 6
    assert stored(app, oid) == DATA


def test_a_stopped_upload_resumes_with_the_missing_parts_only(app: App, source: Path) -> None:
    oid = str(uuid.uuid4())
    # the stop waits until the server has confirmed parts 1 and 2, so that the resume has something to skip
    first = MemoryDataPlane(app.store, Fault("PUT", 3, "stop", wait=lambda: confirmed(app, oid) >= {1, 2}))
    with pytest.raises(Stopped):
        upload(app, first, oid, source)
    assert anyio.run(app.store.head, f"data/{oid}") is None  # nothing finalized
    done = confirmed(app, oid)
    assert {1, 2} <= done and 3 not in done  # (4 and 5 may have been sent and confirmed before the stop was seen)

    again = MemoryDataPlane(app.store)
    result = upload(app, again, oid, source)
    resent = sorted(n for method, n in again.requests if method == "PUT")
    assert resent == sorted({1, 2, 3, 4, 5} - done)
    assert (result.parts_sent, result.parts_skipped) == (len(resent), len(done))
    assert stored(app, oid) == DATA
    info = anyio.run(app.store.head, f"data/{oid}")
    assert info is not None and info.md5 == md5(DATA)


def confirmed(app: App, oid: str) -> set[int]:
    """The part numbers the server has confirmed for the object's upload in progress (its part markers)."""
    keys = anyio.run(app.store.list, upload_prefix(oid)).keys
    return {int(key.rsplit("/part-", 1)[1].split("|", 1)[0], 16) for key in keys if "/part-" in key}
