"""The server as a real process on the local backend: Score's API, its errors and the data plane."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import httpx
import pytest

from tests.kit.checks import bearer
from tests.kit.servers import ServerProcess, mint_token

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _upload(server: ServerProcess, token: str, data: bytes, object_id: str | None = None) -> str:
    """Upload *data* through the raw API as a client would; return the object id."""
    oid = object_id or str(uuid.uuid4())
    r = httpx.post(f"{server.url}/upload/{oid}/uploads", params={"fileSize": len(data)}, headers=bearer(token))
    assert r.status_code == 200, r.text
    spec = r.json()
    for part in spec["parts"]:
        chunk = data[part["offset"] : part["offset"] + part["partSize"]]
        put = httpx.put(part["url"], content=chunk)
        assert put.status_code == 200, put.text
        etag = put.headers["etag"].strip('"')
        assert etag == _md5(chunk)
        c = httpx.post(
            f"{server.url}/upload/{oid}/parts",
            params={"uploadId": spec["uploadId"], "partNumber": part["partNumber"], "md5": etag, "etag": etag},
            headers=bearer(token),
        )
        assert c.status_code == 200, c.text
    # like score-client, report the whole file's MD5 at finalize
    final = {"uploadId": spec["uploadId"], "md5": _md5(data)}
    f = httpx.post(f"{server.url}/upload/{oid}", params=final, headers=bearer(token))
    assert f.status_code == 200, f.text
    return oid


def _error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"code", "message", "retryable"}
    if code:
        assert body["code"] == code
    assert "Traceback" not in r.text
    return body


# ---- happy path ------------------------------------------------------------------------------


def test_upload_then_download_round_trip_in_score_shapes(server: ServerProcess, rw_token: str) -> None:
    data = os.urandom(12 * MIB + 123)
    oid = _upload(server, rw_token, data)
    r = httpx.get(f"{server.url}/download/{oid}", params={"offset": 0, "length": -1}, headers=bearer(rw_token))
    assert r.status_code == 200
    spec = r.json()
    assert spec["objectId"] == oid and spec["objectKey"] == f"data/{oid}"
    assert spec["objectSize"] == len(data) and spec["objectMd5"] == _md5(data)
    assert "urlsExpireAt" in spec
    assert [p["partSize"] for p in spec["parts"]] == [5 * MIB, 5 * MIB, 2 * MIB + 123]
    got = b""
    for p in spec["parts"]:
        assert p["sourceMd5"] == _md5(data[p["offset"] : p["offset"] + p["partSize"]])
        rng = f"bytes={p['offset']}-{p['offset'] + p['partSize'] - 1}"
        part = httpx.get(p["url"], headers={"Range": rng})
        assert part.status_code == 206
        got += part.content
    assert got == data
    # Score's bucket layout: the finished spec is data/<id>.meta, and no upload state is left.
    objects = server.data_dir / "objects"
    meta = json.loads((objects / "data" / f"{oid}.meta").read_text())
    assert meta["objectMd5"] == _md5(data) and meta["uploadId"] and all(p["url"] is None for p in meta["parts"])
    assert not list((objects / "upload").glob(f"{oid}_*")) if (objects / "upload").exists() else True


def test_exists_listing_profile_ping_and_docs(server: ServerProcess, rw_token: str) -> None:
    oid = _upload(server, rw_token, b"hello score")
    assert httpx.get(f"{server.url}/upload/{oid}", headers=bearer(rw_token)).json() is True
    assert httpx.get(f"{server.url}/upload/{uuid.uuid4()}", headers=bearer(rw_token)).json() is False
    listing = httpx.get(f"{server.url}/listing", headers=bearer(rw_token)).json()
    entry = next(e for e in listing if e["id"] == oid)
    assert entry["size"] == 11 and entry["lastModified"] > 0
    _error(httpx.get(f"{server.url}/listing"), 401, "unauthenticated")
    assert httpx.get(f"{server.url}/profile", headers=bearer(rw_token)).text == "s3"
    ping = httpx.get(f"{server.url}/download/ping")
    assert ping.status_code == 200 and ping.text.startswith(server.url)
    assert b"sentinel" in httpx.get(ping.text).content
    assert httpx.get(f"{server.url}/health").json()["status"] == "UP"
    assert httpx.get(f"{server.url}/actuator/health").json()["status"] == "UP"
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert "/upload/{object_id}/uploads" in paths and "/download/{object_id}" in paths
    assert httpx.get(f"{server.url}/docs").status_code == 200
    assert httpx.get(f"{server.url}/swagger-ui.html", follow_redirects=True).status_code == 200


def test_zero_byte_object(server: ServerProcess, rw_token: str) -> None:
    oid = _upload(server, rw_token, b"")
    spec = httpx.get(f"{server.url}/download/{oid}", headers=bearer(rw_token)).json()
    assert spec["objectSize"] == 0 and spec["parts"] == [] and spec["objectMd5"] == _md5(b"")


def test_external_url_serves_any_range_and_exclude_urls_strips(server: ServerProcess, rw_token: str) -> None:
    data = os.urandom(7 * MIB)
    oid = _upload(server, rw_token, data)
    ext = httpx.get(f"{server.url}/download/{oid}", params={"external": "true"}, headers=bearer(rw_token)).json()
    assert len(ext["parts"]) == 1 and ext["parts"][0]["partSize"] == -1
    url = ext["parts"][0]["url"]
    assert httpx.get(url).content == data
    assert httpx.get(url, headers={"Range": "bytes=100-199"}).content == data[100:200]
    bare = httpx.get(f"{server.url}/download/{oid}", params={"exclude-urls": "true"}, headers=bearer(rw_token)).json()
    assert bare["objectMd5"] == _md5(data) and all(p["url"] is None for p in bare["parts"])


def test_sub_range_spec_keeps_whole_part_md5s_and_drops_object_md5(server: ServerProcess, rw_token: str) -> None:
    data = os.urandom(12 * MIB)
    oid = _upload(server, rw_token, data)
    params = {"offset": 1000, "length": 10 * MIB}
    spec = httpx.get(f"{server.url}/download/{oid}", params=params, headers=bearer(rw_token)).json()
    assert spec["objectSize"] == 10 * MIB and spec["objectMd5"] is None
    parts = spec["parts"]
    assert parts[0]["offset"] == 1000 and "sourceMd5" not in parts[0]
    assert parts[1]["offset"] == 5 * MIB and parts[1]["sourceMd5"] == _md5(data[5 * MIB : 10 * MIB])
    got = b"".join(
        httpx.get(p["url"], headers={"Range": f"bytes={p['offset']}-{p['offset'] + p['partSize'] - 1}"}).content
        for p in parts
    )
    assert got == data[1000 : 1000 + 10 * MIB]


# ---- upload state machine -----------------------------------------------------------------------


def test_status_marks_completed_parts_and_finalize_is_idempotent(server: ServerProcess, rw_token: str) -> None:
    data = os.urandom(11 * MIB)
    oid = str(uuid.uuid4())
    declared = {"fileSize": len(data), "md5": _md5(data)}
    spec = httpx.post(f"{server.url}/upload/{oid}/uploads", params=declared, headers=bearer(rw_token)).json()
    upload_id = spec["uploadId"]
    p1 = spec["parts"][0]
    etag = httpx.put(p1["url"], content=data[: p1["partSize"]]).headers["etag"].strip('"')
    base = {"uploadId": upload_id, "partNumber": 1}
    assert (
        httpx.post(
            f"{server.url}/upload/{oid}/parts", params={**base, "md5": etag, "etag": etag}, headers=bearer(rw_token)
        ).status_code
        == 200
    )
    # The marker is in Score's layout.
    markers = list((server.data_dir / "objects" / "upload" / f"{oid}_{upload_id}").glob("part-00000001|*"))
    assert len(markers) == 1 and json.loads(markers[0].name.split("|", 1)[1]) == {
        "partNumber": 1,
        "md5": etag,
        "etag": etag,
    }
    status = httpx.get(f"{server.url}/upload/{oid}/status", params={"fileSize": len(data)}, headers=bearer(rw_token))
    parts = status.json()["parts"]
    # a completed part has a URL too: Score's Java client re-sends one whose local bytes changed with it (issue 22)
    assert parts[0]["md5"] == etag and parts[0]["sourceMd5"] == etag and parts[0]["url"]
    assert all(p["md5"] is None and p["url"] for p in parts[1:])
    # finalize before all parts are there: 400 naming the missing parts
    body = _error(
        httpx.post(f"{server.url}/upload/{oid}", params={"uploadId": upload_id}, headers=bearer(rw_token)), 400
    )
    assert "2" in str(body["message"])
    _error(httpx.get(f"{server.url}/upload/{oid}/status", params={"fileSize": 5}, headers=bearer(rw_token)), 400)
    _error(httpx.post(f"{server.url}/upload/{oid}/recovery", params={"fileSize": 5}, headers=bearer(rw_token)), 400)
    assert (
        httpx.post(
            f"{server.url}/upload/{oid}/recovery", params={"fileSize": len(data)}, headers=bearer(rw_token)
        ).status_code
        == 200
    )
    for p in parts[1:]:
        chunk = data[p["offset"] : p["offset"] + p["partSize"]]
        et = httpx.put(p["url"], content=chunk).headers["etag"].strip('"')
        httpx.post(
            f"{server.url}/upload/{oid}/parts",
            params={"uploadId": upload_id, "partNumber": p["partNumber"], "md5": et, "etag": et},
            headers=bearer(rw_token),
        ).raise_for_status()
    # a whole-file md5 that contradicts the declared one is refused, and nothing is finalized
    _error(
        httpx.post(
            f"{server.url}/upload/{oid}", params={"uploadId": upload_id, "md5": "0" * 32}, headers=bearer(rw_token)
        ),
        422,
        "integrity",
    )
    ok = {"uploadId": upload_id, "md5": _md5(data)}
    assert httpx.post(f"{server.url}/upload/{oid}", params=ok, headers=bearer(rw_token)).status_code == 200
    assert httpx.post(f"{server.url}/upload/{oid}", params=ok, headers=bearer(rw_token)).status_code == 200
    _error(httpx.post(f"{server.url}/upload/{oid}", params={"uploadId": "other"}, headers=bearer(rw_token)), 404)
    spec = httpx.get(f"{server.url}/download/{oid}", headers=bearer(rw_token)).json()
    assert spec["objectMd5"] == _md5(data)


def test_part_confirmation_is_checked_against_the_store(server: ServerProcess, rw_token: str) -> None:
    oid = str(uuid.uuid4())
    spec = httpx.post(f"{server.url}/upload/{oid}/uploads", params={"fileSize": 100}, headers=bearer(rw_token)).json()
    base = {"uploadId": spec["uploadId"], "partNumber": 1}
    md5 = _md5(b"x" * 100)
    # not uploaded yet
    _error(
        httpx.post(
            f"{server.url}/upload/{oid}/parts", params={**base, "md5": md5, "etag": md5}, headers=bearer(rw_token)
        ),
        400,
    )
    httpx.put(spec["parts"][0]["url"], content=b"x" * 100).raise_for_status()
    # claimed ETag differs from what the store holds
    _error(
        httpx.post(
            f"{server.url}/upload/{oid}/parts",
            params={**base, "md5": "a" * 32, "etag": "a" * 32},
            headers=bearer(rw_token),
        ),
        422,
        "integrity",
    )
    _error(
        httpx.post(
            f"{server.url}/upload/{oid}/parts",
            params={**base, "partNumber": 9, "md5": md5, "etag": md5},
            headers=bearer(rw_token),
        ),
        400,
    )
    assert (
        httpx.post(
            f"{server.url}/upload/{oid}/parts", params={**base, "md5": md5, "etag": md5}, headers=bearer(rw_token)
        ).status_code
        == 200
    )
    assert (
        httpx.request("DELETE", f"{server.url}/upload/{oid}/parts", params=base, headers=bearer(rw_token)).status_code
        == 200
    )
    status = httpx.get(f"{server.url}/upload/{oid}/status", params={"fileSize": 100}, headers=bearer(rw_token)).json()
    assert status["parts"][0]["md5"] is None
    # cancel removes the upload entirely
    assert httpx.delete(f"{server.url}/upload/{oid}", headers=bearer(rw_token)).status_code == 200
    _error(httpx.get(f"{server.url}/upload/{oid}/status", params={"fileSize": 100}, headers=bearer(rw_token)), 404)
    _error(httpx.delete(f"{server.url}/upload/{oid}", headers=bearer(rw_token)), 404)


def test_overwrite_conflict_is_409_not_500(server: ServerProcess, rw_token: str) -> None:
    oid = _upload(server, rw_token, b"first")
    body = _error(
        httpx.post(f"{server.url}/upload/{oid}/uploads", params={"fileSize": 6}, headers=bearer(rw_token)),
        409,
        "conflict",
    )
    assert "overwrite" in str(body["message"])
    r = httpx.post(
        f"{server.url}/upload/{oid}/uploads", params={"fileSize": 6, "overwrite": "true"}, headers=bearer(rw_token)
    )
    assert r.status_code == 200


# ---- caller mistakes and denials --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("POST", "/upload/not-a-uuid/uploads", {"fileSize": 1}, 400),
        ("POST", "/upload/{oid}/uploads", {}, 400),
        ("POST", "/upload/{oid}/uploads", {"fileSize": "abc"}, 400),
        ("POST", "/upload/{oid}/uploads", {"fileSize": -5}, 400),
        ("POST", "/upload/{oid}/uploads", {"fileSize": 10, "md5": "nothex"}, 400),
        ("GET", "/download/{oid}", {}, 404),
        ("GET", "/download/..%2f..%2fsecrets", {}, 404),
        ("GET", "/download/..secrets", {}, 400),
        ("POST", "/upload/{oid}", {"uploadId": "../../etc"}, 400),
        ("GET", "/no/such/route", {}, 404),
    ],
)
def test_bad_requests_get_json_4xx(
    server: ServerProcess, rw_token: str, method: str, path: str, params: dict[str, object], status: int
) -> None:
    r = httpx.request(method, server.url + path.format(oid=uuid.uuid4()), params=params, headers=bearer(rw_token))
    _error(r, status)


def test_bad_ranges_are_416(server: ServerProcess, rw_token: str) -> None:
    oid = _upload(server, rw_token, b"0123456789")
    for params in ({"offset": 11, "length": 1}, {"offset": 5, "length": 6}):
        _error(
            httpx.get(f"{server.url}/download/{oid}", params=params, headers=bearer(rw_token)),
            416,
            "range_not_satisfiable",
        )
    _error(httpx.get(f"{server.url}/download/{oid}", params={"offset": -1}, headers=bearer(rw_token)), 400)


def test_token_denials(server: ServerProcess, rw_token: str, tmp_path: Path) -> None:
    oid = _upload(server, rw_token, b"secret genome")
    up = f"{server.url}/upload/{uuid.uuid4()}/uploads"
    _error(httpx.post(up, params={"fileSize": 1}), 401, "unauthenticated")
    _error(httpx.post(up, params={"fileSize": 1}, headers={"Authorization": "Basic abc"}), 401)
    _error(httpx.post(up, params={"fileSize": 1}, headers=bearer("not.a.jwt")), 401)
    foreign = mint_token(tmp_path / "other-data", ["score.WRITE", "score.READ"], create_key=True)
    _error(httpx.post(up, params={"fileSize": 1}, headers=bearer(foreign)), 401)
    expired = server.token("score.WRITE", "score.READ", ttl="1s")
    import time

    time.sleep(2.5)  # beyond the 1 s leeway this server is configured with
    _error(httpx.post(up, params={"fileSize": 1}, headers=bearer(expired)), 401)
    read_only = server.token("score.READ")
    _error(httpx.post(up, params={"fileSize": 1}, headers=bearer(read_only)), 403, "forbidden")
    write_only = server.token("score.WRITE")
    _error(httpx.get(f"{server.url}/download/{oid}", headers=bearer(write_only)), 403, "forbidden")
    _error(httpx.get(f"{server.url}/download/{oid}"), 401)
    assert httpx.get(f"{server.url}/download/{oid}", headers=bearer(read_only)).status_code == 200


# ---- the data plane refuses misuse of signed URLs -------------------------------------------------


def test_signed_urls_refuse_tampering_other_methods_and_ranges(server: ServerProcess, rw_token: str) -> None:
    data = os.urandom(6 * MIB)
    oid = _upload(server, rw_token, data)
    spec = httpx.get(f"{server.url}/download/{oid}", headers=bearer(rw_token)).json()
    p = spec["parts"][0]
    url = p["url"]
    good_range = {"Range": f"bytes=0-{p['partSize'] - 1}"}
    assert httpx.get(url, headers=good_range).status_code == 206
    sig = url.rsplit("signature=", 1)[1]
    tampered = url.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    _error(httpx.get(tampered, headers=good_range), 403, "signature_mismatch")
    _error(httpx.get(url.replace("range=0-", "range=1-"), headers=good_range), 403, "signature_mismatch")
    _error(httpx.get(url, headers={"Range": "bytes=0-10"}), 403, "signature_mismatch")
    # HEAD on a GET URL: the signed range's headers, no body (htsjdk's SeekableHTTPStream, issue 22)
    head = httpx.head(url)
    assert head.status_code == 206 and head.headers["Content-Length"] == str(p["partSize"]) and not head.content
    assert httpx.head(tampered).status_code == 403
    _error(httpx.put(url, content=b"overwrite!"), 403, "signature_mismatch")
    other = url.replace(oid, str(uuid.uuid4()))
    _error(httpx.get(other, headers=good_range), 403, "signature_mismatch")
    unsigned = url.split("?", 1)[0]
    _error(httpx.get(unsigned), 403, "signature_mismatch")
    # no key outside the bucket is reachable, signed or not
    for path in ("/_store/../secrets/url-signing.key", "/_store/..%2fsecrets%2furl-signing.key"):
        r = httpx.get(server.url + path)
        assert r.status_code in (400, 403, 404) and b"BEGIN" not in r.content


def test_part_put_with_wrong_content_md5_is_refused_and_not_recorded(server: ServerProcess, rw_token: str) -> None:
    oid = str(uuid.uuid4())
    spec = httpx.post(f"{server.url}/upload/{oid}/uploads", params={"fileSize": 1000}, headers=bearer(rw_token)).json()
    url = spec["parts"][0]["url"]
    import base64

    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    _error(httpx.put(url, content=b"y" * 1000, headers={"Content-MD5": wrong}), 422, "integrity")
    _error(httpx.put(url, content=b"y" * 999), 400)
    _error(httpx.put(url, content=b"y" * 1001), 400)
    md5 = _md5(b"y" * 1000)
    _error(
        httpx.post(
            f"{server.url}/upload/{oid}/parts",
            params={"uploadId": spec["uploadId"], "partNumber": 1, "md5": md5, "etag": md5},
            headers=bearer(rw_token),
        ),
        400,
    )


def test_logs_never_contain_tokens_or_signatures(server: ServerProcess, rw_token: str) -> None:
    oid = _upload(server, rw_token, b"log check")
    spec = httpx.get(f"{server.url}/download/{oid}", headers=bearer(rw_token)).json()
    httpx.get(spec["parts"][0]["url"])
    log = server.log()
    assert f"/download/{oid}" in log  # requests are logged...
    assert rw_token not in log and rw_token.split(".")[2] not in log  # ...but never the token
    signature = spec["parts"][0]["url"].rsplit("signature=", 1)[1]
    assert signature not in log


def test_expired_urls_are_refused_by_the_data_plane(tmp_path: Path) -> None:
    from tests.kit.servers import free_port

    ttl = {"SCORE_UPLOAD_URL_TTL": "1", "SCORE_DOWNLOAD_URL_TTL": "1"}
    srv = ServerProcess(tmp_path / "data", free_port(), env=ttl).start()
    try:
        token = srv.token("score.READ", "score.WRITE")
        oid = _upload(srv, token, b"expiring bytes")
        dl = httpx.get(f"{srv.url}/download/{oid}", params={"external": "true"}, headers=bearer(token)).json()
        assert dl["urlsExpireAt"]
        up = httpx.post(
            f"{srv.url}/upload/{uuid.uuid4()}/uploads", params={"fileSize": 3}, headers=bearer(token)
        ).json()
        import time

        time.sleep(2.2)  # expiry has one-second resolution
        body = _error(httpx.get(dl["parts"][0]["url"]), 403, "url_expired")
        assert "new one" in str(body["message"])
        _error(httpx.put(up["parts"][0]["url"], content=b"abc"), 403, "url_expired")
        # asking the server again gives a working URL: clients refresh, they never start over
        fresh = httpx.get(f"{srv.url}/download/{oid}", params={"external": "true"}, headers=bearer(token)).json()
        assert httpx.get(fresh["parts"][0]["url"]).content == b"expiring bytes"
    finally:
        srv.stop()
