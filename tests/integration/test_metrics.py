"""``/metrics`` of a running server (Prometheus text format): requests by route template and status,
URLs issued by action, bytes the local store served and received, denials by reason, upstream calls
and failures. Each figure is read before and after the requests that must move it."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        tmp_path_factory.mktemp("metrics") / "data",
        free_port(),
        env={"SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(5 * MIB)},
    ).start()
    yield srv
    srv.stop()


def _samples(srv: ServerProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = httpx.get(f"{srv.url}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def test_metrics_move_as_requests_are_served(server: ServerProcess) -> None:
    before = _samples(server)
    token = server.token("score.READ", "score.WRITE")
    auth = {"Authorization": f"Bearer {token}"}
    oid = str(uuid.uuid4())
    data = os.urandom(6 * MIB)
    md5 = hashlib.md5(data).hexdigest()
    spec = httpx.post(
        f"{server.url}/upload/{oid}/uploads", params={"fileSize": len(data), "md5": md5}, headers=auth, timeout=30
    ).json()
    for part in spec["parts"]:
        chunk = data[part["offset"] : part["offset"] + part["partSize"]]
        part_md5 = hashlib.md5(chunk).hexdigest()
        put = httpx.put(
            part["url"],
            content=chunk,
            timeout=30,
            headers={"Content-MD5": base64.b64encode(bytes.fromhex(part_md5)).decode()},
        )
        assert put.status_code == 200, put.text
        httpx.post(
            f"{server.url}/upload/{oid}/parts",
            headers=auth,
            timeout=30,
            params={
                "uploadId": spec["uploadId"],
                "partNumber": part["partNumber"],
                "md5": part_md5,
                "etag": put.headers["ETag"].strip('"'),
            },
        ).raise_for_status()
    httpx.post(
        f"{server.url}/upload/{oid}", params={"uploadId": spec["uploadId"]}, headers=auth, timeout=30
    ).raise_for_status()
    url = httpx.get(f"{server.url}/download/{oid}", params={"external": "true"}, headers=auth, timeout=30).json()[
        "parts"
    ][0]["url"]
    assert httpx.get(url, timeout=30).content == data
    assert httpx.get(f"{server.url}/download/{oid}").status_code == 401  # no token
    assert httpx.get(f"{server.url}/download/{oid}", headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401
    assert httpx.get(f"{server.url}/download/{oid}", headers={"Authorization": "Bearer x"}).status_code == 401
    assert httpx.get(url.replace("signature=", "signature=0"), timeout=30).status_code == 403
    assert (
        httpx.post(
            f"{server.url}/upload/{uuid.uuid4()}/uploads",
            params={"fileSize": 1},
            headers={"Authorization": f"Bearer {server.token('score.READ')}"},
        ).status_code
        == 403
    )
    after = _samples(server)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("score_http_requests_total", route="/download/{object_id}", status="200") == 1
    assert moved("score_http_requests_total", route="/download/{object_id}", status="401") == 3
    assert moved("score_http_requests_total", route="/upload/{object_id}/uploads", status="200") == 1
    assert moved("score_http_request_duration_seconds_count", route="/upload/{object_id}/parts") == len(spec["parts"])
    assert moved("score_urls_issued_total", action="url:download") == 1
    assert moved("score_urls_issued_total", action="url:upload-part") == len(spec["parts"])
    assert moved("score_local_store_bytes_total", direction="sent") == len(data)
    assert moved("score_local_store_bytes_total", direction="received") == len(data)
    assert moved("score_authorization_denials_total", reason="no_token") == 1
    assert moved("score_authorization_denials_total", reason="invalid_token") == 2
    assert moved("score_authorization_denials_total", reason="bad_signature") == 1
    assert moved("score_authorization_denials_total", reason="missing_scope") == 1
    assert moved("score_upstream_duration_seconds_count", upstream="store", outcome="ok") > 5
    assert moved("score_upstream_duration_seconds_count", upstream="identity_provider", outcome="ok") > 5
    assert moved("score_upstream_duration_seconds_count", upstream="identity_provider", outcome="refused") == 2
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert oid not in text and token not in text  # labels are route templates: no ids, no secrets


def test_an_unreachable_metadata_service_is_counted(tmp_path: Path) -> None:
    dead = free_port()
    srv = ServerProcess(
        tmp_path / "data",
        free_port(),
        env={"SCORE_METADATA__KIND": "song", "SCORE_METADATA__URL": f"http://127.0.0.1:{dead}"},
    ).start()
    try:
        before = _samples(srv)
        token = srv.token("score.READ")
        r = httpx.get(f"{srv.url}/download/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 503
        after = _samples(srv)
        errors = _value(after, "score_upstream_errors_total", upstream="metadata", operation="get") - _value(
            before, "score_upstream_errors_total", upstream="metadata", operation="get"
        )
        assert errors == 1
    finally:
        srv.stop()
