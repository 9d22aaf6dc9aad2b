"""The audit file of a running server: decisions, URLs issued, client IPs, nothing secret."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import httpx
import pytest

from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_decision_and_url_is_audited(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    env = {
        "SCORE_AUDIT_LOG": str(audit),
        "SCORE_TRUSTED_PROXIES": '["127.0.0.1/32"]',
        "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(5 * MIB),
    }
    srv = ServerProcess(tmp_path / "data", free_port(), env=env).start()
    try:
        writer, reader = srv.token("score.WRITE"), srv.token("score.READ")
        oid = str(uuid.uuid4())
        data = os.urandom(6 * MIB)
        via_proxy = {"X-Forwarded-For": "198.51.100.7"}
        denied = httpx.post(
            f"{srv.url}/upload/{oid}/uploads",
            params={"fileSize": len(data)},
            headers={"Authorization": f"Bearer {reader}", **via_proxy},
        )
        assert denied.status_code == 403
        spec = httpx.post(
            f"{srv.url}/upload/{oid}/uploads",
            params={"fileSize": len(data)},
            headers={"Authorization": f"Bearer {writer}"},
        ).json()
        for p in spec["parts"]:
            chunk = data[p["offset"] : p["offset"] + p["partSize"]]
            etag = httpx.put(p["url"], content=chunk).headers["ETag"].strip('"')
            httpx.post(
                f"{srv.url}/upload/{oid}/parts",
                params={
                    "uploadId": spec["uploadId"],
                    "partNumber": p["partNumber"],
                    "md5": hashlib.md5(chunk).hexdigest(),
                    "etag": etag,
                },
                headers={"Authorization": f"Bearer {writer}"},
            ).raise_for_status()
        httpx.post(
            f"{srv.url}/upload/{oid}",
            params={"uploadId": spec["uploadId"]},
            headers={"Authorization": f"Bearer {writer}"},
        ).raise_for_status()
        got = httpx.get(f"{srv.url}/download/{oid}", headers={"Authorization": f"Bearer {reader}", **via_proxy})
        assert got.status_code == 200
        anon = httpx.get(f"{srv.url}/download/{oid}")
        assert anon.status_code == 401
    finally:
        srv.stop()
    lines = _lines(audit)
    raw = audit.read_text()
    for secret in (writer, reader, *[p["url"] for p in got.json()["parts"]]):
        assert secret not in raw
    assert "signature=" not in raw
    deny = [x for x in lines if x["decision"] == "deny"]
    assert [(x["action"], x["client_ip"]) for x in deny] == [("upload", "198.51.100.7"), ("download", "127.0.0.1")]
    assert "score.WRITE" in str(deny[0]["reason"])
    issued = [x for x in lines if x["decision"] == "issued" and x["action"] == "url:download"]
    assert [x["range"] for x in issued] == ["bytes=0-5242879", "bytes=5242880-6291455"]
    assert all(x["client_ip"] == "198.51.100.7" and x["object_id"] == oid and x["token"] for x in issued)
    assert sum(1 for x in lines if x["action"] == "url:upload-part") == 2
    assert {x["request_id"] for x in issued} == {got.headers["x-request-id"]}
