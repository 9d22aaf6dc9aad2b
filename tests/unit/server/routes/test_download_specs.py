"""``POST /download/specs``: many whole-object download specs in one call, each exactly what the object's own
``GET /download/{id}`` answers (spec, or status and error body), in process on the memory store."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from score.wire.schemas import MAX_BATCH_OBJECTS
from tests.kit.inprocess import App
from tests.unit.server.test_routes import DATA, md5, upload

pytestmark = pytest.mark.fast


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(tmp_path / "data")


def _without_urls(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec with its signed URLs replaced by the path they sign (signatures are the same, but compare plainly)."""
    return {**spec, "parts": [{**p, "url": httpx.URL(p["url"]).path} for p in spec["parts"]]}


def test_batch_answers_each_object_as_its_own_request_would(app: App) -> None:
    first, second, unknown = (str(uuid.uuid4()) for _ in range(3))

    async def scenario() -> None:
        async with app.async_client(app.rw_token()) as client:
            await upload(client, first, DATA)
            await upload(client, second, DATA[:5000])
            asked = [second, "not-a-uuid", first, unknown, second]
            r = await client.post("/download/specs", json={"objectIds": asked})
            assert r.status_code == 200, r.text
            body = r.json()
            assert [s["objectId"] for s in body["specs"]] == [second, first]  # in order, duplicates once
            for spec in body["specs"]:
                single = await client.get(f"/download/{spec['objectId']}")
                assert _without_urls(spec) == _without_urls(single.json())
                got = b""
                for part in sorted(spec["parts"], key=lambda p: p["offset"]):
                    rng = f"bytes={part['offset']}-{part['offset'] + part['partSize'] - 1}"
                    got += (await client.get(part["url"], headers={"Range": rng})).content
                assert md5(got) == spec["objectMd5"]
            refused = {err["objectId"]: err for err in body["errors"]}
            assert set(refused) == {"not-a-uuid", unknown}
            for oid, err in refused.items():
                single = await client.get(f"/download/{oid}")
                assert err["status"] == single.status_code >= 400
                assert {k: err[k] for k in ("code", "message", "retryable")} == single.json()

    anyio.run(scenario)


def test_batch_without_a_token_is_refused_object_by_object(app: App) -> None:
    oid = str(uuid.uuid4())

    async def scenario() -> None:
        async with app.async_client(app.rw_token()) as client:
            await upload(client, oid, DATA)
        async with app.async_client(None) as anonymous:
            r = await anonymous.post("/download/specs", json={"objectIds": [oid]})
            single = await anonymous.get(f"/download/{oid}")
            assert single.status_code in (401, 403)
            assert r.status_code == 200 and r.json()["specs"] == []
            assert r.json()["errors"][0]["status"] == single.status_code
            assert "url" not in r.text

    anyio.run(scenario)


@pytest.mark.parametrize(
    "body",
    [
        {"objectIds": []},
        {"objectIds": [str(uuid.uuid4()) for _ in range(MAX_BATCH_OBJECTS + 1)]},
        {"objectIds": "not a list"},
        {},
    ],
    ids=["empty", "too-many", "not-a-list", "missing"],
)
def test_malformed_batch_is_a_400_in_scores_error_shape(app: App, body: dict[str, Any]) -> None:
    async def scenario() -> httpx.Response:
        async with app.async_client(app.rw_token()) as client:
            return await client.post("/download/specs", json=body)

    r = anyio.run(scenario)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"code", "message", "retryable"}
    assert r.json()["retryable"] is False


def test_batch_is_in_the_openapi_document(app: App) -> None:
    async def scenario() -> dict[str, Any]:
        async with app.async_client() as client:
            return (await client.get("/openapi.json")).json()  # type: ignore[no-any-return]

    doc = anyio.run(scenario)
    op = doc["paths"]["/download/specs"]["post"]
    assert {"200", "400", "401", "503"} <= set(op["responses"])
    assert "DownloadSpecs" in op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]


def test_a_store_that_is_down_fails_the_whole_batch_with_a_retryable_503(app: App) -> None:
    oid = str(uuid.uuid4())

    async def scenario() -> httpx.Response:
        async with app.async_client(app.rw_token()) as client:
            await upload(client, oid, DATA)
            app.store.set_down()
            return await client.post("/download/specs", json={"objectIds": [oid, str(uuid.uuid4())]})

    r = anyio.run(scenario)
    assert r.status_code == 503, r.text
    assert r.json()["retryable"] is True and r.headers["Retry-After"]
