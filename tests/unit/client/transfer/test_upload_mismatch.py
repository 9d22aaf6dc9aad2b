"""An upload whose file turns out, once its parts are sent, not to have the MD5 it was declared or registered
with (outside-in trial, issue 24): the client cancels its own upload before raising, so the uploader of the
right file is not refused with 409 "still in progress" until ``--force`` or a cleanup."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import anyio
import pytest

from score.client.transfer.upload import Uploader
from score.domain import errors as e
from score.domain.ids import upload_prefix
from tests.kit.files import md5_hex as md5
from tests.kit.inprocess import KIB, App, MemoryDataPlane
from tests.kit.java_client import sync_client

pytestmark = pytest.mark.fast

RIGHT = os.urandom(10 * KIB)  # three parts; taken as large (multipart) by an uploader with 1 KiB of memory
WRONG = os.urandom(len(RIGHT))  # the same size, other bytes


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def live_uploads(app: App, oid: str) -> list[str]:
    return anyio.run(app.store.list, upload_prefix(oid)).keys


def test_a_file_that_is_not_the_declared_md5_cancels_its_upload(app: App, tmp_path: Path) -> None:
    oid = str(uuid.uuid4())
    wrong, right = write(tmp_path, "wrong.bin", WRONG), write(tmp_path, "right.bin", RIGHT)
    with app.server_api(app.rw_token()) as api:
        data = MemoryDataPlane(app.store)
        with pytest.raises(e.IntegrityError) as failed:
            Uploader(api, data, parallel=1, memory_bytes=KIB).upload(oid, wrong, md5(RIGHT))
        assert failed.value.message == (
            f"the file's MD5 is {md5(WRONG)}, not the declared {md5(RIGHT)}; the upload was cancelled"
        )
        assert data.count("PUT") == 3  # found only after the parts were sent
        assert live_uploads(app, oid) == []
        # another client (another file's upload token) with the right file: no 409, no --force
        result = Uploader(api, MemoryDataPlane(app.store), parallel=1, memory_bytes=KIB).upload(oid, right, md5(RIGHT))
        assert result.md5 == md5(RIGHT) and result.parts_sent == 3


def test_a_file_that_is_not_the_registered_md5_cancels_its_upload(tmp_path: Path) -> None:
    app = App(tmp_path / "data", metadata={"kind": "registry"})
    token = app.rw_token()
    with sync_client(app, token) as http:
        payload = {
            "studyId": "ABC",
            "analysisType": {"name": "variantCall"},
            "files": [{"fileName": "a.bam", "fileSize": len(RIGHT), "fileMd5sum": hashlib.md5(RIGHT).hexdigest()}],
        }
        r = http.post("/submit/ABC", json=payload)
        assert r.status_code == 200, r.text
        oid = r.json()["files"][0]["objectId"]
    wrong, right = write(tmp_path, "wrong.bam", WRONG), write(tmp_path, "a.bam", RIGHT)
    with app.server_api(token) as api:
        with pytest.raises(e.IntegrityError) as failed:  # no --md5: the server holds the registered one
            Uploader(api, MemoryDataPlane(app.store), parallel=1, memory_bytes=KIB).upload(oid, wrong)
        assert failed.value.message == (
            f"the file's MD5 is {md5(WRONG)}, not the MD5 {md5(RIGHT)} the server expects (declared or "
            "registered); the upload was cancelled"
        )
        assert live_uploads(app, oid) == []
        result = Uploader(api, MemoryDataPlane(app.store), parallel=1, memory_bytes=KIB).upload(oid, right)
        assert result.md5 == md5(RIGHT) and result.parts_sent == 3


def test_the_original_error_stands_when_the_cancel_fails(app: App, tmp_path: Path) -> None:
    oid = str(uuid.uuid4())
    wrong = write(tmp_path, "wrong.bin", WRONG)
    with app.server_api(app.rw_token()) as api:

        def refused(object_id: str, upload_token: str | None = None, upload_id: str | None = None) -> None:
            assert upload_id  # only its own upload, never one that replaced it
            raise e.UpstreamUnavailableError("the server is down")

        api.cancel_upload = refused  # type: ignore[method-assign]
        with pytest.raises(e.IntegrityError) as failed:
            Uploader(api, MemoryDataPlane(app.store), parallel=1, memory_bytes=KIB).upload(oid, wrong, md5(RIGHT))
        assert failed.value.message.endswith(f"not the declared {md5(RIGHT)}; the upload was not finalized")
