"""What Score's Java client depends on, replayed in process (memory store, fixed clock) from its sources (issue 22).

* a resume that finds a completed part whose local bytes changed deletes it and re-sends it with the URL of
  the status (``ParallelPartObjectTransport.isCorrupted``): every part of the status carries a URL;
* states that cannot change by retrying answer a status the client treats as final (400, as Score);
* htsjdk's ``SeekableHTTPStream`` (``view``) takes the object's length from a HEAD on the GET URL;
* ``/entities`` carry ``createdTime`` as the client's ``Entity`` reads it (a long, ms since the epoch).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from score.cli import exit_codes
from score.domain import errors as e
from tests.kit.inprocess import App
from tests.kit.java_client import HtsjdkStream, JavaUpload, java_retries, sync_client

DATA = bytes(range(256)) * 40  # 10240 bytes: parts of 4096, 4096 and 2048


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(tmp_path / "data")


@pytest.fixture
def registry_app(tmp_path: Path) -> App:
    return App(tmp_path / "data", metadata={"kind": "registry"})


def test_status_gives_every_part_a_url_completed_ones_too(app: App) -> None:
    oid = str(uuid.uuid4())
    with sync_client(app, app.rw_token()) as http:
        java = JavaUpload(http, oid, DATA)
        java.send_part(java.initiate()["parts"][0])
        progress = java.status().json()
    assert [(p["partNumber"], p["md5"], p.get("sourceMd5")) for p in progress["parts"]] == [
        (1, md5(DATA[:4096]), md5(DATA[:4096])),
        (2, None, None),
        (3, None, None),
    ]
    assert all(p["url"] for p in progress["parts"])
    assert progress["urlsExpireAt"]


def test_a_resume_resends_a_completed_part_whose_bytes_changed_with_the_status_url(app: App) -> None:
    oid = str(uuid.uuid4())
    with sync_client(app, app.rw_token()) as http:
        java = JavaUpload(http, oid, DATA)
        assert java.status().status_code == 404  # nothing in progress: a new upload
        parts = java.initiate()["parts"]
        java.send_part(parts[0])
        java.send_part(parts[1], body=bytes(4096))  # part 2 read wrongly the first time; then the client died
        java.calls.clear()
        assert java.resume().status_code == 200
        assert java.calls == [
            "GET /status 200",
            "DELETE /parts 200",  # part 2 no longer matches its sourceMd5...
            "PUT part2 200",  # ...and goes again, through the URL of the status
            "POST /parts 200",
            "PUT part3 200",
            "POST /parts 200",
            "POST / 200",
        ]
        spec = http.get(f"/download/{oid}", params={"offset": 0, "length": -1, "external": "true"}).json()
        assert spec["objectMd5"] == md5(DATA)
        assert http.get(spec["parts"][0]["url"]).content == DATA


def test_htsjdk_takes_the_length_from_a_head_on_the_get_url(app: App) -> None:
    oid = str(uuid.uuid4())
    with sync_client(app, app.rw_token()) as http:
        java = JavaUpload(http, oid, DATA)
        for part in java.initiate()["parts"]:
            java.send_part(part)
        assert java.finalize().status_code == 200
        url = http.get(f"/download/{oid}", params={"offset": 0, "length": -1, "external": "true"}).json()
        stream = HtsjdkStream(http, url["parts"][0]["url"])
        assert (stream.head_status, stream.length) == (200, len(DATA))
        assert stream.read_all(3000) == DATA  # its last range ends one byte past the object
        stream.seek(len(DATA))
        assert stream.read(10) == b""  # a 416: the end
        head = http.head(url["parts"][0]["url"])
        assert head.content == b"" and head.headers["Accept-Ranges"] == "bytes" and head.headers["ETag"]
        # a part URL, signed for its range: the range's length
        part = http.get(f"/download/{oid}").json()["parts"][1]
        assert HtsjdkStream(http, part["url"]).length == part["partSize"] == 4096
        # the GET URL's signature and expiry still hold: a PUT URL, a tampered one or an expired one is refused
        put_url = http.post(f"/upload/{uuid.uuid4()}/uploads", params={"fileSize": 10}).json()["parts"][0]["url"]
        assert http.head(put_url).status_code == 403
        assert http.head(url["parts"][0]["url"].replace("signature=", "signature=0")).status_code == 403
        app.clock.advance(days=2)
        expired = http.head(url["parts"][0]["url"])
        assert expired.status_code == 403 and expired.headers.get("Content-Length") != str(len(DATA))


def _submit(http: httpx.Client, files: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    payload = {
        "studyId": "ABC",
        "analysisType": {"name": "variantCall"},
        "files": [{"fileName": n, "fileSize": len(d), "fileMd5sum": md5(d)} for n, d in files.items()],
    }
    r = http.post("/submit/ABC", json=payload)
    assert r.status_code == 200, r.text
    return r.json()["analysisId"], {f["fileName"]: f["objectId"] for f in r.json()["files"]}


def _final(r: httpx.Response, word: str) -> dict[str, Any]:
    """A 400 that Score's Java client does not retry, in our body with its own code."""
    assert r.status_code == 400 and not java_retries(r.status_code), r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == "analysis_state" and word in body["message"] and body["retryable"] is False
    return body


def test_states_that_retrying_cannot_change_are_final_for_the_java_client(registry_app: App) -> None:
    app = registry_app
    with sync_client(app, app.rw_token()) as http:
        analysis, ids = _submit(http, {"a.bam": DATA})
        oid = ids["a.bam"]
        # an UNPUBLISHED object's download (Score: 400, NotRetryableException)
        _final(http.get(f"/download/{oid}"), "PUBLISHED")
        java = JavaUpload(http, oid, DATA)
        for part in java.initiate()["parts"]:
            java.send_part(part)
        assert java.finalize().status_code == 200
        again = JavaUpload(http, oid, DATA)
        again.initiate()  # a re-upload under way when the analysis is published
        assert http.put(f"/studies/ABC/analysis/publish/{analysis}").status_code == 200
        # a PUBLISHED object's upload (Score: 400 from checkUnpublishedAnalysisState)
        message = _final(again.status(), "UNPUBLISHED")["message"]
        r = http.post(f"/upload/{oid}/uploads", params={"fileSize": len(DATA), "overwrite": "true"})
        assert _final(r, "UNPUBLISHED")["message"] == message
        # our client reads the same error, exit code and message as before (a ConflictError)
        with app.server_api(app.rw_token()) as api:
            with pytest.raises(e.ConflictError) as caught:
                api.initiate_upload(oid, len(DATA), None, overwrite=True, upload_token="t" * 32)
            assert type(caught.value) is e.AnalysisStateError and caught.value.message == message
            assert exit_codes.exit_code_for(caught.value) == exit_codes.CONFLICT
        # an existing object without overwrite stays a 409 (the Java client always sends overwrite=true)
        assert http.put(f"/studies/ABC/analysis/unpublish/{analysis}").status_code == 200
        exists = http.post(f"/upload/{oid}/uploads", params={"fileSize": len(DATA)})
        assert exists.status_code == 409 and exists.json()["code"] == "conflict"
        # Song's SUPPRESSED_STATE_TRANSITION is a 400 too
        assert http.put(f"/studies/ABC/analysis/suppress/{analysis}").status_code == 200
        _final(http.put(f"/studies/ABC/analysis/publish/{analysis}"), "suppressed")


def test_entities_carry_created_time_as_the_java_client_reads_it(registry_app: App) -> None:
    app = registry_app
    before = int(time.time() * 1000)
    with sync_client(app, app.rw_token()) as http:
        analysis, ids = _submit(http, {"a.bam": DATA, "a.bam.bai": b"index"})
        after = int(time.time() * 1000)
        one = http.get(f"/entities/{ids['a.bam']}").json()
        page = http.get("/entities", params={"gnosId": analysis}).json()["content"]
    assert set(one) == {"id", "gnosId", "fileName", "projectCode", "access", "createdTime"}
    assert isinstance(one["createdTime"], int) and before <= one["createdTime"] <= after
    assert {f["fileName"]: f["createdTime"] for f in page} == {
        "a.bam": one["createdTime"],
        "a.bam.bai": one["createdTime"],
    }
