"""The embedded store without HTTP: keys cannot escape, parts are checked, completion is exact."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio
import pytest

from score.domain.errors import (
    DiskSpaceError,
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
    RangeNotSatisfiableError,
    SignatureError,
)
from score.domain.integrity import multipart_etag
from score.domain.model import GetTarget, UploadPartTarget
from score.domain.parts import PartLimits
from score.domain.ranges import ByteRange
from score.storage.local import LocalObjectStore, load_or_create_secret
from score.storage.localfs import disk_errors
from score.storage.urlsign import UrlSigner

KEY = "data/5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"
SOON = datetime.now(UTC) + timedelta(hours=12)  # set at import: must outlive the whole session


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "root", "http://127.0.0.1:9/", UrlSigner(b"s" * 32), PartLimits())


def _query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    assert parts.path.startswith("/_store/")
    return unquote(parts.path[len("/_store/") :]), dict(parse_qsl(parts.query))


async def _body(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def _run(fn, *args):  # type: ignore[no-untyped-def]
    return anyio.run(fn, *args)


@pytest.mark.parametrize(
    "bad", ["", "/etc/passwd", "../x", "data/../../x", "data/./x", "data//x", "a\\b", "a\x00b", "data/..", "data/."]
)
def test_keys_that_could_escape_are_refused(store: LocalObjectStore, bad: str) -> None:
    with pytest.raises(InvalidRequestError, match="invalid object key"):
        _run(store.get_bytes, bad)


def test_symlink_escape_is_refused(store: LocalObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"top secret")
    (tmp_path / "root" / "objects" / "data").mkdir(parents=True)
    (tmp_path / "root" / "objects" / "data" / "link").symlink_to(outside)
    with pytest.raises(InvalidRequestError):
        _run(store.get_bytes, "data/link/secret")


def test_multipart_round_trip_writes_bytes_once_in_place(store: LocalObjectStore) -> None:
    a, b = b"a" * 1000, b"b" * 300

    async def go() -> None:
        upload_id = await store.create_multipart(KEY)
        etags = []
        for number, (offset, data) in enumerate([(0, a), (1000, b)], start=1):
            url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, number, offset, len(data)), md5(data), SOON)
            key, q = _query(url)
            assert key == KEY
            store.verify("PUT", key, q, datetime.now(UTC))
            etags.append(await store.receive_part(key, q, _body(data[:7], data[7:]), q["contentMd5"]))
        assert etags == [md5(a), md5(b)]
        listed = await store.list_parts(KEY, upload_id)
        assert [(p.number, p.etag, p.size) for p in listed] == [(1, md5(a), 1000), (2, md5(b), 300)]
        await store.complete_multipart(KEY, upload_id, [(2, etags[1]), (1, etags[0])], md5(a + b))
        with pytest.raises(NotFoundError):
            await store.list_parts(KEY, upload_id)  # the upload is gone after completion

    _run(go)
    assert _run(store.get_bytes, KEY) == a + b
    info = _run(store.head, KEY)
    assert info is not None
    assert info.size == 1300
    assert info.md5 == md5(a + b)
    assert info.etag == multipart_etag([md5(a), md5(b)])


def test_wrong_content_md5_is_refused_and_not_recorded(store: LocalObjectStore) -> None:
    async def go() -> None:
        upload_id = await store.create_multipart(KEY)
        data = b"x" * 100
        url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, 1, 0, 100), md5(b"y" * 100), SOON)
        key, q = _query(url)
        with pytest.raises(IntegrityError, match="BadDigest"):
            await store.receive_part(key, q, _body(data), q["contentMd5"])
        with pytest.raises(SignatureError, match="Content-MD5"):  # the signed header left out
            await store.receive_part(key, q, _body(b"y" * 100))
        assert await store.list_parts(KEY, upload_id) == []

    _run(go)


@pytest.mark.parametrize("body", [b"x" * 99, b"x" * 101])
def test_body_of_another_size_is_refused(store: LocalObjectStore, body: bytes) -> None:
    async def go() -> None:
        upload_id = await store.create_multipart(KEY)
        url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, 1, 0, 100), None, SOON)
        key, q = _query(url)
        with pytest.raises(InvalidRequestError, match="signed part size"):
            await store.receive_part(key, q, _body(body))
        assert await store.list_parts(KEY, upload_id) == []

    _run(go)


def test_complete_refuses_missing_or_mismatched_parts(store: LocalObjectStore) -> None:
    async def go() -> None:
        upload_id = await store.create_multipart(KEY)
        url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, 1, 0, 10), None, SOON)
        key, q = _query(url)
        etag = await store.receive_part(key, q, _body(b"0123456789"))
        with pytest.raises(IntegrityError, match="part 1"):
            await store.complete_multipart(KEY, upload_id, [(1, md5(b"other"))], None)
        with pytest.raises(IntegrityError, match="part 2"):
            await store.complete_multipart(KEY, upload_id, [(1, etag), (2, etag)], None)
        with pytest.raises(NotFoundError):
            await store.complete_multipart("data/other", upload_id, [(1, etag)], None)
        assert await store.get_bytes(KEY) is None  # nothing half-finished appeared

    _run(go)


def test_part_url_of_an_aborted_upload_is_not_found(store: LocalObjectStore) -> None:
    async def go() -> None:
        upload_id = await store.create_multipart(KEY)
        url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, 1, 0, 3), None, SOON)
        await store.abort_multipart(KEY, upload_id)
        key, q = _query(url)
        with pytest.raises(NotFoundError):
            await store.receive_part(key, q, _body(b"abc"))

    _run(go)


def test_part_url_replayed_against_another_object_is_refused(store: LocalObjectStore) -> None:
    async def go() -> None:
        upload_id = await store.create_multipart(KEY)
        url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, 1, 0, 3), None, SOON)
        _, q = _query(url)
        with pytest.raises(SignatureError):
            store.verify("PUT", "data/other", q, datetime.now(UTC))
        with pytest.raises(SignatureError, match="does not belong"):
            await store.receive_part("data/other", q, _body(b"abc"))

    _run(go)


def test_ranged_get_urls_serve_only_their_range(store: LocalObjectStore) -> None:
    _run(store.put_bytes, KEY, bytes(range(100)))
    url = store.sign_get(GetTarget(KEY, ByteRange(10, 20)), SOON)
    key, q = _query(url)
    store.verify("GET", key, q, datetime.now(UTC))
    served = store.resolve_get(key, q, None)
    assert (served.byte_range, served.partial, served.size) == (ByteRange(10, 20), True, 100)
    assert store.resolve_get(key, q, "bytes=10-29").byte_range == ByteRange(10, 20)
    with pytest.raises(SignatureError, match="Range header differs"):
        store.resolve_get(key, q, "bytes=0-99")
    whole = store.sign_get(GetTarget(KEY), SOON)
    key, q = _query(whole)
    assert store.resolve_get(key, q, None).partial is False
    assert store.resolve_get(key, q, "bytes=-10").byte_range == ByteRange(90, 10)
    with pytest.raises(RangeNotSatisfiableError):
        store.resolve_get(key, q, "bytes=100-")
    with pytest.raises(NotFoundError):
        store.resolve_get("data/missing", q, None)


def test_list_with_and_without_delimiter(store: LocalObjectStore) -> None:
    async def go() -> None:
        await store.put_bytes("upload/a_1/.meta", b"{}")
        await store.put_bytes("upload/a_1/part-00000001|{}", b"")
        await store.put_bytes("upload/a_2/.meta", b"{}")
        await store.put_bytes("upload/b_1/.meta", b"{}")
        top = await store.list("upload/a_", delimiter="/")
        assert top.prefixes == ["upload/a_1/", "upload/a_2/"]
        assert top.keys == []
        deep = await store.list("upload/a_1/")
        assert deep.keys == ["upload/a_1/.meta", "upload/a_1/part-00000001|{}"]
        await store.delete("upload/b_1/.meta")
        assert (await store.list("upload/", delimiter="/")).prefixes == ["upload/a_1/", "upload/a_2/"]

    _run(go)


def test_secret_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "url-signing.key"
    first = load_or_create_secret(path)
    assert len(first) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == first
    path.write_bytes(b"short")
    with pytest.raises(InvalidRequestError, match="too short"):
        load_or_create_secret(path)


def test_a_full_disk_is_a_disk_space_error_naming_what_failed() -> None:
    """ENOSPC from a real device (/dev/full) becomes DiskSpaceError (507); other OS errors pass unchanged."""
    with pytest.raises(DiskSpaceError, match="out of disk space .receiving part 3."):
        with disk_errors("receiving part 3"), open("/dev/full", "wb", buffering=0) as fh:
            fh.write(b"x")
    with pytest.raises(FileNotFoundError), disk_errors("reading"):
        open("/nonexistent/x", "rb")  # noqa: SIM115


def test_half_created_upload_directories_are_pending_and_aborted(store: LocalObjectStore, tmp_path: Path) -> None:
    """A start cut short (no upload.json) is listed for cleanup with its directory's time, and abort removes it."""
    half = tmp_path / "root" / "multipart" / "cut-short"
    (half / "parts").mkdir(parents=True)
    old = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
    os.utime(half, (old, old))
    pending = _run(store.pending_uploads)
    assert [(p.key, p.upload_id, p.initiated.year) for p in pending] == [("", "cut-short", 2020)]
    _run(store.abort_multipart, "", "cut-short")
    assert not half.exists()


def test_a_part_received_after_completion_changes_nothing(store: LocalObjectStore) -> None:
    """A PUT still receiving when the upload completes gets NotFound at its end; the object keeps its bytes."""
    good, late = b"g" * 100, b"l" * 100

    async def go() -> None:
        upload_id = await store.create_multipart(KEY)
        url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, 1, 0, 100), None, SOON)
        key, q = _query(url)
        await store.receive_part(key, q, _body(good))
        halfway = anyio.Event()
        finished = anyio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield late[:50]
            halfway.set()
            await finished.wait()
            yield late[50:]

        async def put_late() -> None:
            with pytest.raises(NotFoundError):
                await store.receive_part(key, q, slow())

        async with anyio.create_task_group() as tg:
            tg.start_soon(put_late)
            await halfway.wait()
            await store.complete_multipart(KEY, upload_id, [(1, md5(good))], md5(good))
            finished.set()

    _run(go)
    assert _run(store.get_bytes, KEY) == good


def test_a_symlink_as_the_last_segment_is_refused_when_it_leads_out(store: LocalObjectStore, tmp_path: Path) -> None:
    """Directories are checked once per process, the key's last segment on every call (issue 23)."""
    (tmp_path / "outside").write_bytes(b"top secret")
    data = tmp_path / "root" / "objects" / "data"
    data.mkdir(parents=True)
    (data / "inside").write_bytes(b"ok")
    assert _run(store.get_bytes, "data/inside") == b"ok"  # the directory is now known
    (data / "out").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidRequestError):
        _run(store.get_bytes, "data/out")
    with pytest.raises(InvalidRequestError):
        _run(store.head, "data/out")
    (data / "alias").symlink_to(data / "inside")  # a symlink that stays inside is followed, as before
    assert _run(store.get_bytes, "data/alias") == b"ok"


def test_a_directory_replaced_by_an_escaping_symlink_after_a_delete_is_refused(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"top secret")
    _run(store.put_bytes, "data/sub/x", b"1")
    assert _run(store.get_bytes, "data/sub/x") == b"1"
    _run(store.delete, "data/sub/x")  # prunes data/sub (and data)
    (tmp_path / "root" / "objects" / "data").mkdir(exist_ok=True)
    (tmp_path / "root" / "objects" / "data" / "sub").symlink_to(outside)
    with pytest.raises(InvalidRequestError):
        _run(store.get_bytes, "data/sub/secret")


def test_head_sees_a_rewritten_object_record_at_once(store: LocalObjectStore) -> None:
    """head() caches the object's record by the identity of both files: a new upload is seen at once."""

    async def put(data: bytes) -> None:
        upload_id = await store.create_multipart(KEY)
        url = store.sign_upload_part(UploadPartTarget(KEY, upload_id, 1, 0, len(data)), md5(data), SOON)
        key, q = _query(url)
        etag = await store.receive_part(key, q, _body(data), q["contentMd5"])
        await store.complete_multipart(KEY, upload_id, [(1, etag)], md5(data))

    _run(put, b"a" * 100)
    first = _run(store.head, KEY)
    assert first is not None and first.md5 == md5(b"a" * 100)
    assert _run(store.head, KEY) == first
    _run(put, b"b" * 100)
    second = _run(store.head, KEY)
    assert second is not None and second.md5 == md5(b"b" * 100)
    assert second.etag == multipart_etag([md5(b"b" * 100)])
