"""Uploader's small-file path against the app in process (issue 23): a fresh one-part file costs at most two
score-server calls (initiate, finalize) and one store PUT; a live upload of the file is resumed as before, another
client's is refused, and a server that cannot sign the part for its MD5 gets the multipart sequence."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from score.client.transfer.upload import Uploader
from score.domain import errors as e
from score.domain.model import GetTarget
from tests.kit.files import md5_hex as md5
from tests.kit.inprocess import KIB, App, Fault, MemoryDataPlane

SMALL = bytes((i * 13) % 251 for i in range(3 * KIB))  # one part (parts are 4 KiB)
MULTI = bytes((i * 7) % 251 for i in range(9 * KIB))  # three parts


class CountedApp:
    """An ASGI wrapper that records every request the score-server app answers."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.calls.append(f"{scope['method']} {scope['path'].rsplit('/', 1)[-1]}")
        await self.inner(scope, receive, send)


def counted(app: App) -> tuple[CountedApp, str]:
    """Count the app's requests from now on; a token minted first (the issuer lives on the app's state)."""
    token = app.rw_token()
    wrapper = CountedApp(app.app)
    app.app = wrapper  # type: ignore[assignment]
    return wrapper, token


def write(tmp_path: Path, data: bytes, name: str = "in.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def stored(app: App, oid: str) -> bytes:
    return anyio.run(app.store.read_range, GetTarget(f"data/{oid}"))


def test_a_fresh_one_part_file_costs_two_server_calls_and_one_put(app: App, tmp_path: Path) -> None:
    calls, token = counted(app)
    data = MemoryDataPlane(app.store)
    oid = str(uuid.uuid4())
    with app.server_api(token) as api:
        result = Uploader(api, data).upload(oid, write(tmp_path, SMALL), md5=md5(SMALL))
    assert (result.parts_total, result.parts_sent, result.md5) == (1, 1, md5(SMALL))
    assert len(calls.calls) <= 2, calls.calls
    assert calls.calls == ["POST uploads", f"POST {oid}"]
    assert data.count("PUT") == 1
    assert stored(app, oid) == SMALL


def test_a_zero_byte_file_takes_the_same_path(app: App, tmp_path: Path) -> None:
    calls, token = counted(app)
    oid = str(uuid.uuid4())
    with app.server_api(token) as api:
        Uploader(api, MemoryDataPlane(app.store)).upload(oid, write(tmp_path, b""))
    assert len(calls.calls) == 2
    assert stored(app, oid) == b""


def test_a_failed_put_is_sent_again_with_a_fresh_url(app: App, tmp_path: Path) -> None:
    data = MemoryDataPlane(app.store, Fault("PUT", 1, "corrupt"), Fault("PUT", 1, "fail"))
    oid = str(uuid.uuid4())
    with app.server_api(app.rw_token()) as api:
        result = Uploader(api, data, sleep=lambda _s: None).upload(oid, write(tmp_path, SMALL))
    assert data.count("PUT", 1) == 3 and result.retries == 2
    assert stored(app, oid) == SMALL


def test_a_declared_md5_that_differs_stops_before_any_call(app: App, tmp_path: Path) -> None:
    calls, token = counted(app)
    with app.server_api(token) as api, pytest.raises(e.IntegrityError):
        Uploader(api, MemoryDataPlane(app.store)).upload(str(uuid.uuid4()), write(tmp_path, SMALL), md5=md5(b"x"))
    assert calls.calls == []


def test_an_existing_object_is_refused_and_force_replaces_it(app: App, tmp_path: Path) -> None:
    oid = str(uuid.uuid4())
    with app.server_api(app.rw_token()) as api:
        Uploader(api, MemoryDataPlane(app.store)).upload(oid, write(tmp_path, SMALL))
        with pytest.raises(e.ConflictError, match="exists"):
            Uploader(api, MemoryDataPlane(app.store)).upload(oid, write(tmp_path, SMALL[::-1], "b.bin"))
        Uploader(api, MemoryDataPlane(app.store)).upload(oid, write(tmp_path, SMALL[::-1], "b.bin"), force=True)
    assert stored(app, oid) == SMALL[::-1]


def test_another_clients_live_upload_is_not_joined(app: App, tmp_path: Path) -> None:
    oid = str(uuid.uuid4())
    first = MemoryDataPlane(app.store, Fault("PUT", 1, "stop"))
    with app.server_api(app.rw_token()) as api:
        with pytest.raises(e.ScoreError):
            Uploader(api, first).upload(oid, write(tmp_path, SMALL))
        with pytest.raises(e.ConflictError, match="another client"):  # another file: another upload token
            Uploader(api, MemoryDataPlane(app.store)).upload(oid, write(tmp_path, SMALL[::-1], "b.bin"))
        # the first client's own re-run resumes its upload (initiate's 409, then the status)
        again = MemoryDataPlane(app.store)
        Uploader(api, again).upload(oid, tmp_path / "in.bin")
    assert again.count("PUT") == 1
    assert stored(app, oid) == SMALL


def test_a_small_file_of_several_parts_resumes_its_upload(app: App, tmp_path: Path) -> None:
    oid = str(uuid.uuid4())
    path = write(tmp_path, MULTI)
    with app.server_api(app.rw_token()) as api:
        stop = MemoryDataPlane(app.store, Fault("PUT", 3, "stop"))
        with pytest.raises(e.ScoreError):
            Uploader(api, stop, parallel=1).upload(oid, path)
        again = MemoryDataPlane(app.store)
        result = Uploader(api, again, parallel=1).upload(oid, path)
    assert result.parts_skipped >= 1 and again.count("PUT", 1) == 0
    assert stored(app, oid) == MULTI


def test_a_server_without_sign_md5_gets_the_multipart_sequence(app: App, tmp_path: Path) -> None:
    """An older score-server ignores signMd5 (no etagIsMd5): part URL, PUT, confirmation, finalize."""
    calls, token = counted(app)

    async def strip(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = b"&".join(q for q in scope["query_string"].split(b"&") if not q.startswith(b"signMd5="))
            scope = {**scope, "query_string": query}
        await calls(scope, receive, send)

    app.app = strip  # type: ignore[assignment]
    oid = str(uuid.uuid4())
    with app.server_api(token) as api:
        Uploader(api, MemoryDataPlane(app.store)).upload(oid, write(tmp_path, SMALL))
    assert calls.calls == ["POST uploads", "GET url", "POST parts", f"POST {oid}"]
    assert stored(app, oid) == SMALL
