"""Uploading a file the server already holds (a batch run again after a kill): with the MD5 the client gives,
the server answers 409 ``already_uploaded`` only when the stored object has that size and MD5, and the client
takes it as done, after checking its own file has that MD5, without sending a byte. Any other existing object
is still refused (409 ``conflict``); ``--force`` still sends it again."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from score.client.transfer.upload import Uploader
from score.domain import errors as e
from tests.kit.files import md5_hex as md5
from tests.kit.inprocess import KIB, App, MemoryDataPlane

pytestmark = pytest.mark.fast

SMALL = os.urandom(3 * KIB)  # the small-file path: hashed first, one part
LARGE = os.urandom(10 * KIB)  # three parts; taken as large by an uploader with 1 KiB of memory


@pytest.mark.parametrize(("data", "memory"), [(SMALL, 1 << 20), (LARGE, KIB)], ids=["small-file path", "multipart"])
def test_a_file_the_server_holds_is_done_without_sending_it_again(
    app: App, tmp_path: Path, data: bytes, memory: int
) -> None:
    oid, path = str(uuid.uuid4()), tmp_path / "f.bin"
    path.write_bytes(data)
    with app.server_api(app.rw_token()) as api:
        first = Uploader(api, MemoryDataPlane(app.store), parallel=1, memory_bytes=memory).upload(oid, path, md5(data))
        assert not first.already_uploaded and first.parts_sent == first.parts_total >= 1
        again = MemoryDataPlane(app.store)
        result = Uploader(api, again, parallel=1, memory_bytes=memory).upload(oid, path, md5(data))
        assert result.already_uploaded and result.md5 == md5(data) and result.parts_sent == 0
        assert again.count("PUT") == 0
        forced = MemoryDataPlane(app.store)
        redo = Uploader(api, forced, parallel=1, memory_bytes=memory).upload(oid, path, md5(data), force=True)
        assert not redo.already_uploaded and forced.count("PUT") == redo.parts_total


def test_another_file_under_the_id_is_still_refused(app: App, tmp_path: Path) -> None:
    oid, path, other = str(uuid.uuid4()), tmp_path / "f.bin", tmp_path / "g.bin"
    path.write_bytes(LARGE)
    other.write_bytes(os.urandom(len(LARGE)))
    with app.server_api(app.rw_token()) as api:
        Uploader(api, MemoryDataPlane(app.store), parallel=1).upload(oid, path, md5(LARGE))
        data = MemoryDataPlane(app.store)
        with pytest.raises(e.ConflictError) as refused:  # the same size, another MD5: it exists, and it is not this
            Uploader(api, data, parallel=1, memory_bytes=KIB).upload(oid, other, md5(other.read_bytes()))
        assert type(refused.value) is e.ConflictError and "--force" in refused.value.message
        with pytest.raises(e.IntegrityError, match="not the declared"):  # claims the stored MD5, holds other bytes
            Uploader(api, data, parallel=1, memory_bytes=KIB).upload(oid, other, md5(LARGE))
        assert data.count("PUT") == 0
