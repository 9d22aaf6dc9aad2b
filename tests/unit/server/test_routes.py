"""The app in process (httpx.ASGITransport) on the memory store: upload, download and error round trips through
the REST API and the store's signed URLs, with a fixed clock. No sockets, no processes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from score.domain.integrity import hex_to_b64, multipart_etag
from score.domain.model import GetTarget
from tests.kit.inprocess import KIB, App, FixedClock

DATA = bytes(range(256)) * 40  # 10240 bytes: parts of 4096, 4096 and 2048


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(tmp_path / "data")


def run(app: App, scenario: Callable[[httpx.AsyncClient], Awaitable[Any]], token: str | None = "rw") -> Any:
    async def main() -> Any:
        async with app.async_client(app.rw_token() if token == "rw" else token) as client:
            return await scenario(client)

    return anyio.run(main)


async def upload(client: httpx.AsyncClient, oid: str, data: bytes) -> dict[str, Any]:
    """Initiate, PUT every part through a URL signed for its MD5, confirm each part, finalize."""
    r = await client.post(f"/upload/{oid}/uploads", params={"fileSize": len(data), "md5": md5(data)})
    assert r.status_code == 200, r.text
    spec: dict[str, Any] = r.json()
    for part in spec["parts"]:
        chunk = data[part["offset"] : part["offset"] + part["partSize"]]
        params = {"uploadId": spec["uploadId"], "partNumber": part["partNumber"], "md5": md5(chunk)}
        signed = await client.get(f"/upload/{oid}/parts/url", params=params)
        assert signed.status_code == 200, signed.text
        put = await client.put(signed.json()["url"], content=chunk, headers={"Content-MD5": hex_to_b64(md5(chunk))})
        assert put.status_code == 200, put.text
        confirm = await client.post(f"/upload/{oid}/parts", params={**params, "etag": put.headers["ETag"].strip('"')})
        assert confirm.status_code == 200, confirm.text
    parts_md5 = multipart_etag(
        [md5(data[p["offset"] : p["offset"] + p["partSize"]]) for p in sorted(spec["parts"], key=lambda p: p["offset"])]
    )
    done = await client.post(
        f"/upload/{oid}", params={"uploadId": spec["uploadId"], "md5": md5(data), "partsMd5": parts_md5}
    )
    assert done.status_code == 200, done.text
    return spec


def test_upload_then_download_round_trip(app: App) -> None:
    oid = str(uuid.uuid4())

    async def scenario(client: httpx.AsyncClient) -> None:
        spec = await upload(client, oid, DATA)
        assert [p["partSize"] for p in spec["parts"]] == [4 * KIB, 4 * KIB, 2 * KIB]
        assert (await client.get(f"/upload/{oid}")).json() is True
        down = (await client.get(f"/download/{oid}")).json()
        assert down["objectSize"] == len(DATA) and down["objectMd5"] == md5(DATA)
        got = b""
        for part in sorted(down["parts"], key=lambda p: p["offset"]):
            rng = f"bytes={part['offset']}-{part['offset'] + part['partSize'] - 1}"
            r = await client.get(part["url"], headers={"Range": rng})
            assert r.status_code == 206 and md5(r.content) == part["sourceMd5"]
            got += r.content
        assert got == DATA
        ranged = (await client.get(f"/download/{oid}", params={"offset": 5000, "length": 100})).json()
        bytes_ = b""
        for part in ranged["parts"]:
            rng = f"bytes={part['offset']}-{part['offset'] + part['partSize'] - 1}"
            bytes_ += (await client.get(part["url"], headers={"Range": rng})).content
        assert bytes_ == DATA[5000:5100]

    run(app, scenario)
    assert anyio.run(app.store.read_range, GetTarget(f"data/{oid}")) == DATA


def test_errors_come_back_in_the_wire_shape(app: App) -> None:
    oid = str(uuid.uuid4())

    async def scenario(client: httpx.AsyncClient) -> None:
        missing = await client.get(f"/download/{oid}")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        bad = await client.get("/download/not-a-uuid")
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
        await upload(client, oid, DATA)
        again = await client.post(f"/upload/{oid}/uploads", params={"fileSize": len(DATA)})
        assert again.status_code == 409 and again.json()["code"] == "conflict"
        past = await client.get(f"/download/{oid}", params={"offset": len(DATA) + 1})
        assert past.status_code == 416 and past.json()["code"] == "range_not_satisfiable"

    run(app, scenario)


def test_no_token_and_a_read_only_token_are_refused(app: App) -> None:
    oid = str(uuid.uuid4())

    async def anonymous(client: httpx.AsyncClient) -> None:
        r = await client.post(f"/upload/{oid}/uploads", params={"fileSize": 10})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")

    async def read_only(client: httpx.AsyncClient) -> None:
        r = await client.post(f"/upload/{oid}/uploads", params={"fileSize": 10})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"

    run(app, anonymous, token=None)
    run(app, read_only, token=app.token(app.settings.auth.read_scope))


def test_a_corrupt_part_is_refused_by_the_store_and_cannot_be_confirmed(app: App) -> None:
    oid = str(uuid.uuid4())

    async def scenario(client: httpx.AsyncClient) -> None:
        spec = (await client.post(f"/upload/{oid}/uploads", params={"fileSize": len(DATA)})).json()
        chunk = DATA[:4096]
        params = {"uploadId": spec["uploadId"], "partNumber": 1, "md5": md5(chunk)}
        url = (await client.get(f"/upload/{oid}/parts/url", params=params)).json()["url"]
        corrupt = b"\xff" + chunk[1:]
        r = await client.put(url, content=corrupt, headers={"Content-MD5": hex_to_b64(md5(chunk))})
        assert r.status_code == 422 and b"BadDigest" in r.content
        r = await client.post(f"/upload/{oid}/parts", params={**params, "etag": md5(chunk)})
        assert r.status_code == 400 and "holds no part 1" in r.json()["message"]  # the store kept nothing
        assert (await client.put(url, content=chunk, headers={"Content-MD5": hex_to_b64(md5(chunk))})).is_success
        assert (await client.post(f"/upload/{oid}/parts", params={**params, "etag": md5(chunk)})).is_success
        status = (await client.get(f"/upload/{oid}/status", params={"fileSize": len(DATA)})).json()
        assert [p["partNumber"] for p in status["parts"] if p.get("md5")] == [1]

    run(app, scenario)


def test_urls_expire_by_the_fixed_clock(tmp_path: Path) -> None:
    clock = FixedClock()
    app = App(tmp_path / "data", clock)
    oid = str(uuid.uuid4())

    async def scenario(client: httpx.AsyncClient) -> None:
        await upload(client, oid, DATA)
        part = (await client.get(f"/download/{oid}")).json()["parts"][0]
        rng = {"Range": f"bytes=0-{part['partSize'] - 1}"}
        assert (await client.get(part["url"], headers=rng)).status_code == 206
        clock.advance(seconds=app.settings.download_url_ttl.total_seconds() + 1)
        expired = await client.get(part["url"], headers=rng)
        assert expired.status_code == 403 and expired.json()["code"] == "url_expired"
        fresh = (await client.get(f"/download/{oid}")).json()["parts"][0]["url"]
        assert (await client.get(fresh, headers=rng)).status_code == 206

    run(app, scenario)


def test_a_store_that_is_down_is_a_retryable_503(app: App) -> None:
    oid = str(uuid.uuid4())

    async def scenario(client: httpx.AsyncClient) -> None:
        app.store.set_down()
        r = await client.post(f"/upload/{oid}/uploads", params={"fileSize": 10})
        assert r.status_code == 503 and r.json()["retryable"] is True and "Retry-After" in r.headers
        assert (await client.get("/health")).status_code == 503
        app.store.set_down(False)
        assert (await client.get("/health")).status_code == 200

    run(app, scenario)
