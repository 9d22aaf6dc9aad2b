"""Two server instances on one local store (as two replicas or two workers): a download spec never shows an
object as it was before another instance overwrote it, although each instance caches finished objects' specs."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx

from score.config.settings import ServerSettings
from score.domain.integrity import hex_to_b64
from score.server.app import create_app

BASE_URL = "http://score.test"
KIB = 1024


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def local_app(data_dir: Path) -> Any:
    settings = ServerSettings(
        data_dir=data_dir,
        public_url=BASE_URL,
        storage={"kind": "local", "min_part_size_bytes": 4 * KIB},
        metadata={"kind": "none"},
    )
    return create_app(settings)


def client(app: Any) -> httpx.AsyncClient:
    auth = app.state.settings.auth
    scopes = [auth.read_scope, auth.write_scope]
    token = app.state.issuer.mint(issuer=auth.issuer, audience=auth.audience, scopes=scopes, ttl=timedelta(hours=1))
    return httpx.AsyncClient(
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {token}"},
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
    )


async def upload(http: httpx.AsyncClient, oid: str, data: bytes, overwrite: bool = False) -> None:
    params: dict[str, Any] = {"fileSize": len(data), "md5": md5(data)}
    if overwrite:
        params["overwrite"] = "true"
    r = await http.post(f"/upload/{oid}/uploads", params=params)
    assert r.status_code == 200, r.text
    spec = r.json()
    for part in spec["parts"]:
        chunk = data[part["offset"] : part["offset"] + part["partSize"]]
        q = {"uploadId": spec["uploadId"], "partNumber": part["partNumber"], "md5": md5(chunk)}
        signed = await http.get(f"/upload/{oid}/parts/url", params=q)
        assert signed.status_code == 200, signed.text
        put = await http.put(signed.json()["url"], content=chunk, headers={"Content-MD5": hex_to_b64(md5(chunk))})
        assert put.status_code == 200, put.text
        done = await http.post(f"/upload/{oid}/parts", params={**q, "etag": put.headers["ETag"].strip('"')})
        assert done.status_code == 200, done.text
    r = await http.post(f"/upload/{oid}", params={"uploadId": spec["uploadId"], "md5": md5(data)})
    assert r.status_code == 200, r.text


async def spec_md5(http: httpx.AsyncClient, oid: str) -> str:
    r = await http.get(f"/download/{oid}", params={"offset": 0, "length": -1, "external": "false"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert all(p["url"] for p in doc["parts"])
    return str(doc["objectMd5"])


def test_an_overwrite_by_another_instance_is_seen_at_once(tmp_path: Path) -> None:
    first, second = local_app(tmp_path / "data"), local_app(tmp_path / "data")
    oid = str(uuid.uuid4())
    old, new = b"a" * (10 * KIB), b"b" * (10 * KIB)  # the same size: only the bytes tell them apart

    async def main() -> None:
        async with client(first) as a, client(second) as b:
            await upload(a, oid, old)
            assert await spec_md5(a, oid) == md5(old)
            assert await spec_md5(a, oid) == md5(old)  # now from the first instance's cache
            await upload(b, oid, new, overwrite=True)
            assert await spec_md5(a, oid) == md5(new)
            assert await spec_md5(b, oid) == md5(new)

    anyio.run(main)
