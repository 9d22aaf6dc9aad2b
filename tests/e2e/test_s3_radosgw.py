"""score-server on Ceph radosgw, driven by score-client: resume, replicas, Score's buckets, cleanup, KMS."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.checks import bearer, ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.radosgw import Radosgw
from tests.kit.servers import PYTHON, ServerProcess, confirmed_parts, run_client, start_client

pytestmark = [pytest.mark.e2e, pytest.mark.radosgw]
PART = 5 * MIB


def _bucket() -> str:
    return f"score-{uuid.uuid4().hex[:12]}"


def _env(rgw: Radosgw, bucket: str, **extra: str) -> dict[str, str]:
    return rgw.server_env(bucket, SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(PART), **extra)


def test_sigkill_resume_across_two_servers_over_one_bucket(
    radosgw: Radosgw, server_factory: Any, tmp_path: Path
) -> None:
    bucket = _bucket()
    data = tmp_path / "shared"  # the same embedded issuer, so one token works on both replicas
    one = server_factory(data_dir=data, **_env(radosgw, bucket))
    two = server_factory(data_dir=data, **_env(radosgw, bucket))
    token = one.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bam", 80 * MIB + 777)
    size, total = src.stat().st_size, -(-src.stat().st_size // PART)
    oid = str(uuid.uuid4())
    proc = start_client(
        ["upload", "--object-id", oid, "--file", str(src), "--parallel", "2"], server=one.url, token=token
    )
    deadline = time.monotonic() + 90
    while confirmed_parts(one, token, oid, src) < 4 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    before = confirmed_parts(two, token, oid, src)  # the other replica sees the same upload state
    assert 4 <= before < total
    out = ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=two.url, token=token))
    assert f"{before} already on the server" in out or int(out.split(" already on")[0].rsplit(" ", 1)[-1]) >= before
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=one.url, token=token)
    )
    assert "md5 verified" in out and md5_of(tmp_path / "o" / oid) == md5_of(src)
    head = radosgw.client().head_object(Bucket=bucket, Key=f"data/{oid}")
    assert base64.b64decode(head["Metadata"]["md5chksum"]).hex() == md5_of(src)  # for other tools
    meta = json.loads(radosgw.client().get_object(Bucket=bucket, Key=f"data/{oid}.meta")["Body"].read())
    assert meta["objectMd5"] == md5_of(src) and len(meta["parts"]) == total
    # Song's publish check reads size and MD5 without URLs
    r = httpx.get(
        f"{two.url}/download/{oid}", params={"offset": 0, "length": -1, "exclude-urls": "true"}, headers=bearer(token)
    )
    assert r.status_code == 200
    assert (r.json()["objectSize"], r.json()["objectMd5"]) == (size, md5_of(src))
    assert all(p["url"] is None for p in r.json()["parts"])
    assert httpx.get(f"{two.url}/upload/{oid}", headers=bearer(token)).json() is True


def _put_multipart(s3: Any, bucket: str, key: str, data: bytes, metadata: dict[str, str]) -> list[str]:
    """Store *data* as another tool would (multipart, so its ETag is not an MD5)."""
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)
    parts, md5s = [], []
    for n, off in enumerate(range(0, len(data), PART), start=1):
        chunk = data[off : off + PART]
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=chunk)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
        md5s.append(hashlib.md5(chunk).hexdigest())
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts})
    return md5s


def test_buckets_written_by_score_and_by_other_tools(radosgw: Radosgw, server_factory: Any, tmp_path: Path) -> None:
    bucket = _bucket()
    srv = server_factory(**_env(radosgw, bucket))
    token = srv.token("score.READ")
    s3 = radosgw.client()
    payload = random_file(tmp_path / "p.bin", 12 * MIB + 5).read_bytes()
    whole = hashlib.md5(payload).hexdigest()
    # 1. an object with a .meta in Score 5.x's JSON (Jackson's field order, its "relocated" flag)
    score_id = str(uuid.uuid4())
    md5s = _put_multipart(s3, bucket, f"data/{score_id}", payload, {})
    spec = {
        "objectKey": f"data/{score_id}",
        "objectId": score_id,
        "uploadId": "2~legacy",
        "parts": [
            {
                "partNumber": n,
                "partSize": min(PART, len(payload) - (n - 1) * PART),
                "offset": (n - 1) * PART,
                "url": None,
                "md5": None,
                "sourceMd5": m,
            }
            for n, m in enumerate(md5s, start=1)
        ],
        "objectSize": len(payload),
        "objectMd5": whole,
        "relocated": False,
    }
    s3.put_object(Bucket=bucket, Key=f"data/{score_id}.meta", Body=json.dumps(spec).encode())
    # 2. copied in by another tool with rclone/Score's md5chksum metadata; 3. with no MD5 at all
    tagged, bare = str(uuid.uuid4()), str(uuid.uuid4())
    _put_multipart(
        s3, bucket, f"data/{tagged}", payload, {"md5chksum": base64.b64encode(bytes.fromhex(whole)).decode()}
    )
    _put_multipart(s3, bucket, f"data/{bare}", payload, {})
    for oid in (score_id, tagged, bare):
        out = ok(
            run_client(
                ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token
            )
        )
        assert (tmp_path / "o" / oid).read_bytes() == payload
        if oid == bare:
            assert "md5 verified" not in out  # nothing to verify against; the multipart ETag is never used
        else:
            assert "md5 verified" in out
    r = httpx.get(f"{srv.url}/download/{bare}", params={"exclude-urls": "true"}, headers=bearer(token))
    assert r.json()["objectMd5"] is None
    r = httpx.get(f"{srv.url}/download/{score_id}", params={"exclude-urls": "true"}, headers=bearer(token))
    assert [p["sourceMd5"] for p in r.json()["parts"]] == md5s  # the upload's part layout is kept
    listed = {o["id"] for o in httpx.get(f"{srv.url}/listing", headers=bearer(token)).json()}
    assert {score_id, tagged, bare} <= listed


def test_bucket_pool_shards_and_reads_relocated_objects(radosgw: Radosgw, server_factory: Any, tmp_path: Path) -> None:
    base = _bucket()
    srv = server_factory(**_env(radosgw, base, SCORE_STORAGE__POOL_SIZE="4"))
    token = srv.token("score.READ", "score.WRITE")
    s3 = radosgw.client()
    src = random_file(tmp_path / "s.bin", 6 * MIB)
    oid = "ab" + str(uuid.uuid4())[2:]  # int("ab", 16) % 4 == 3
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    s3.head_object(Bucket=f"{base}.3", Key=f"data/{oid}")
    s3.head_object(Bucket=f"{base}.3", Key=f"data/{oid}.meta")
    with pytest.raises(Exception, match="404|Not Found"):
        s3.head_object(Bucket=base, Key=f"data/{oid}")
    # stored before partitioning: in the unsuffixed base bucket, found there
    old = "01" + str(uuid.uuid4())[2:]
    s3.put_object(
        Bucket=base,
        Key=f"data/{old}",
        Body=src.read_bytes(),
        Metadata={"md5chksum": base64.b64encode(bytes.fromhex(md5_of(src))).decode()},
    )
    out = ok(
        run_client(["download", "--object-id", old, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    )
    assert "md5 verified" in out and md5_of(tmp_path / "o" / old) == md5_of(src)
    ping = httpx.get(f"{srv.url}/download/ping", headers=bearer(token)).text
    assert f"/{base}/data/heliograph" in ping and httpx.get(ping).status_code == 200


def _cleanup(srv: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [PYTHON, "-m", "score.cli.server_main", "cleanup", "--data-dir", str(srv.data_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**__import__("os").environ, **srv.env}, timeout=120)


def test_cleanup_aborts_stale_uploads_and_their_state(radosgw: Radosgw, server_factory: Any) -> None:
    bucket = _bucket()
    srv = server_factory(**_env(radosgw, bucket))
    token = srv.token("score.WRITE")
    oid = str(uuid.uuid4())
    r = httpx.post(f"{srv.url}/upload/{oid}/uploads", params={"fileSize": 12 * MIB}, headers=bearer(token))
    upload_id = r.json()["uploadId"]
    s3 = radosgw.client()
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [upload_id]
    kept = _cleanup(srv, "--older-than", "1h")
    assert kept.returncode == 0 and "0 upload(s) aborted" in kept.stdout and "1 younger" in kept.stdout
    time.sleep(1.5)
    dry = _cleanup(srv, "--older-than", "1s", "--dry-run")
    assert dry.returncode == 0 and f"would abort upload data/{oid} {upload_id}" in dry.stdout
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])  # a dry run changes nothing
    done = _cleanup(srv, "--older-than", "1s")
    assert done.returncode == 0, done.stderr
    assert f"aborted upload data/{oid} {upload_id}" in done.stdout
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="upload/").get("Contents")
    r = httpx.get(f"{srv.url}/upload/{oid}/status", params={"fileSize": 12 * MIB}, headers=bearer(token))
    assert r.status_code == 404
    bad = _cleanup(srv, "--older-than", "soon")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_sse_kms_round_trip(radosgw: Radosgw, server_factory: Any, tmp_path: Path) -> None:
    bucket = _bucket()
    srv = server_factory(**_env(radosgw, bucket, SCORE_STORAGE__KMS_KEY_ID="testkey-1"))
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "k.bin", 11 * MIB)
    declared, undeclared = str(uuid.uuid4()), str(uuid.uuid4())
    # with the MD5 declared up front it is set when the upload starts (radosgw cannot copy a KMS
    # object onto itself to add it later; without it the MD5 stays in the .meta only)
    ok(
        run_client(
            ["upload", "--object-id", declared, "--file", str(src), "--md5", md5_of(src)], server=srv.url, token=token
        )
    )
    ok(run_client(["upload", "--object-id", undeclared, "--file", str(src)], server=srv.url, token=token))
    head = radosgw.client().head_object(Bucket=bucket, Key=f"data/{declared}")
    assert head.get("ServerSideEncryption") == "aws:kms"
    assert base64.b64decode(head["Metadata"]["md5chksum"]).hex() == md5_of(src)
    for oid in (declared, undeclared):
        out = ok(
            run_client(
                ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token
            )
        )
        assert "md5 verified" in out and md5_of(tmp_path / "o" / oid) == md5_of(src)


def test_separate_state_bucket_keeps_state_apart(radosgw: Radosgw, server_factory: Any, tmp_path: Path) -> None:
    objects, state = _bucket(), _bucket()
    srv = server_factory(**_env(radosgw, objects, SCORE_STORAGE__STATE_BUCKET=state))
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "s.vcf.gz", 7 * MIB)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    s3 = radosgw.client()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=objects).get("Contents", [])] == [f"data/{oid}"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=state).get("Contents", [])] == [f"data/{oid}.meta"]
    out = ok(
        run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token)
    )
    assert "md5 verified" in out and md5_of(tmp_path / "o" / oid) == md5_of(src)
    # the data gone but its .meta left behind: a clear 404, not URLs that fail later
    s3.delete_object(Bucket=objects, Key=f"data/{oid}")
    r = httpx.get(f"{srv.url}/download/{oid}", headers=bearer(token))
    assert r.status_code == 404 and "missing" in r.json()["message"]
