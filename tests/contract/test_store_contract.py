"""The ObjectStore contract: the same tests for the memory and local stores, moto, Ceph radosgw, Azurite and
fake-gcs-server."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from score.domain.errors import IntegrityError, NotFoundError
from score.domain.integrity import hex_to_b64, multipart_etag
from score.domain.model import GetTarget, UploadPartTarget
from score.domain.ranges import ByteRange
from tests.contract.conftest import AZURITE, GCS, MIB, Backend, http, run


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def soon(seconds: int = 600) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def new_key() -> str:
    return f"data/{uuid.uuid4()}"


def put(url: str, data: bytes, md5_hex: str | None) -> httpx.Response:
    headers = {"Content-MD5": hex_to_b64(md5_hex)} if md5_hex else {}
    return http.put(url, content=data, headers={**headers, "Connection": "close"}, timeout=60)


def upload_two_parts(b: Backend, key: str) -> tuple[str, bytes, bytes]:
    """An upload with a 5 MiB part and a short last part, both sent; returns (upload id, a, b)."""
    a, z = b"a" * (5 * MIB), b"z" * 1000
    upload_id = run(b.store.create_multipart, key, None)
    for number, (offset, data) in enumerate([(0, a), (len(a), z)], start=1):
        target = UploadPartTarget(key, upload_id, number, offset, len(data))
        r = put(b.store.sign_upload_part(target, md5(data), soon()), data, md5(data))
        assert r.is_success, r.text
        if b.store.etags_are_md5 and "ETag" in r.headers:  # Azure answers with none; its blocks carry the MD5
            assert r.headers["ETag"].strip('"') == md5(data)
    return upload_id, a, z


def test_multipart_round_trip_and_ranged_reads(backend: Backend) -> None:
    key = new_key()
    upload_id, a, z = upload_two_parts(backend, key)
    parts = run(backend.store.list_parts, key, upload_id)
    assert [(p.number, p.etag, p.size) for p in parts] == [(1, md5(a), len(a)), (2, md5(z), len(z))]
    assert any(u.upload_id == upload_id and u.key == key for u in run(backend.store.pending_uploads))
    run(backend.store.complete_multipart, key, upload_id, [(1, md5(a)), (2, md5(z))], md5(a + z))
    info = run(backend.store.head, key)
    assert info is not None
    assert info.size == len(a) + len(z)
    assert info.md5 == md5(a + z)  # from md5chksum metadata, never from the multipart ETag
    rng = ByteRange(len(a) - 10, 20)
    url = backend.store.sign_get(GetTarget(key, rng, info.location), soon())
    r = http.get(url, headers={"Range": rng.header()})
    assert r.status_code == 206 and r.content == (a + z)[len(a) - 10 : len(a) + 10]
    whole = http.get(backend.store.sign_get(GetTarget(key, location=info.location), soon()))
    assert whole.status_code == 200 and md5(whole.content) == md5(a + z)
    # the server reads ranges itself too (htsget reads indexes and headers)
    assert run(backend.store.read_range, GetTarget(key, rng, info.location)) == (a + z)[len(a) - 10 : len(a) + 10]
    assert md5(run(backend.store.read_range, GetTarget(key, location=info.location))) == md5(a + z)
    with pytest.raises(NotFoundError):
        run(backend.store.read_range, GetTarget(new_key(), ByteRange(0, 10)))
    assert all(u.upload_id != upload_id for u in run(backend.store.pending_uploads))


def test_md5_known_at_start_is_on_the_object(backend: Backend) -> None:
    key = new_key()
    data = b"q" * 1234
    upload_id = run(backend.store.create_multipart, key, md5(data))
    target = UploadPartTarget(key, upload_id, 1, 0, len(data))
    assert put(backend.store.sign_upload_part(target, md5(data), soon()), data, md5(data)).is_success
    run(backend.store.complete_multipart, key, upload_id, [(1, md5(data))], md5(data))
    info = run(backend.store.head, key)
    assert info is not None and info.md5 == md5(data)
    if backend.s3_etags:
        assert info.etag == multipart_etag([md5(data)])  # recorded at the start: no copy at completion


def test_completing_with_a_wrong_etag_or_unknown_upload_fails(backend: Backend) -> None:
    key = new_key()
    upload_id, _a, z = upload_two_parts(backend, key)
    with pytest.raises(IntegrityError):
        run(backend.store.complete_multipart, key, upload_id, [(1, md5(b"other")), (2, md5(z))], None)
    run(backend.store.abort_multipart, key, upload_id)
    with pytest.raises(NotFoundError):
        run(backend.store.list_parts, key, upload_id)
    run(backend.store.abort_multipart, key, upload_id)  # absent uploads are fine
    assert run(backend.store.head, key) is None


def test_small_objects_listing_and_delete(backend: Backend) -> None:
    oid = str(uuid.uuid4())
    base = f"upload/{oid}_u1/"
    run(backend.store.put_bytes, base + ".meta", b"{}")
    run(backend.store.put_bytes, base + 'part-00000001|{"partNumber":1}', b"")
    run(backend.store.put_bytes, f"data/{oid}.meta", b'{"x":1}')
    assert run(backend.store.get_bytes, f"data/{oid}.meta") == b'{"x":1}'
    assert run(backend.store.get_bytes, f"data/{uuid.uuid4()}.meta") is None
    assert run(backend.store.head, f"data/{uuid.uuid4()}") is None
    listed = run(backend.store.list, f"upload/{oid}_", "/")
    assert listed.prefixes == [base] and listed.keys == []
    assert run(backend.store.list, base).keys == [base + ".meta", base + 'part-00000001|{"partNumber":1}']
    run(backend.store.delete, base + ".meta")
    run(backend.store.delete, base + ".meta")  # absent keys are fine
    assert run(backend.store.list, base).keys == [base + 'part-00000001|{"partNumber":1}']
    assert run(backend.store.healthy)


# ---- the store itself refuses what a URL does not allow (local and radosgw; moto checks nothing) --


def _part_url(backend: Backend, key: str, data: bytes, md5_hex: str | None, expires: datetime) -> tuple[str, str]:
    upload_id = run(backend.store.create_multipart, key, None)
    return upload_id, backend.store.sign_upload_part(
        UploadPartTarget(key, upload_id, 1, 0, len(data)), md5_hex, expires
    )


def test_wrong_content_md5_is_refused_by_the_store(refusing_backend: Backend) -> None:
    backend = refusing_backend
    key, data = new_key(), b"x" * 4096
    upload_id, url = _part_url(backend, key, data, md5(data), soon())
    corrupt = b"y" + data[1:]
    r = put(url, corrupt, md5(data))  # the bytes differ from the signed Content-MD5
    assert r.status_code in (400, 422), r.text
    if backend.md5_header_required:
        r = put(url, data, None)  # the signed Content-MD5 header left out
        assert r.status_code in (400, 403), r.text
    assert run(backend.store.list_parts, key, upload_id) == []
    assert put(url, data, md5(data)).is_success  # the right bytes still go through
    assert [p.etag for p in run(backend.store.list_parts, key, upload_id)] == [md5(data)]


def test_expired_url_is_refused_by_the_store(refusing_backend: Backend) -> None:
    backend = refusing_backend
    key, data = new_key(), b"e" * 100
    upload_id, url = _part_url(backend, key, data, md5(data), datetime.now(UTC) + timedelta(seconds=1))
    time.sleep(2.5)
    assert put(url, data, md5(data)).status_code == 403
    assert run(backend.store.list_parts, key, upload_id) == []


def _tamper(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    name = next(k for k in query if k.lower() in ("x-amz-signature", "signature", "sig"))
    sig = query[name]
    query[name] = ("0" if sig[0] != "0" else "1") + sig[1:]
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_tampered_signature_is_refused_by_the_store(refusing_backend: Backend) -> None:
    backend = refusing_backend
    key, data = new_key(), b"t" * 100
    upload_id, url = _part_url(backend, key, data, md5(data), soon())
    assert put(_tamper(url), data, md5(data)).status_code == 403
    assert run(backend.store.list_parts, key, upload_id) == []


def test_url_used_with_another_method_or_key_is_refused(refusing_backend: Backend) -> None:
    backend = refusing_backend
    key, data = new_key(), b"m" * 5000
    upload_id, url = _part_url(backend, key, data, md5(data), soon())
    assert put(url, data, md5(data)).is_success
    run(backend.store.complete_multipart, key, upload_id, [(1, md5(data))], md5(data))
    get_url = backend.store.sign_get(GetTarget(key), soon())
    assert http.get(get_url).content == data
    # (x-ms-blob-type makes it a well-formed Azure Put Blob; S3 stores ignore it)
    assert http.put(get_url, content=b"overwrite", headers={"x-ms-blob-type": "BlockBlob"}).status_code in (403, 405)
    assert http.delete(get_url).status_code in (403, 405)
    other = new_key()
    assert http.get(get_url.replace(key, other)).status_code == 403
    assert http.get(_tamper(get_url)).status_code == 403
    assert http.get(backend.store.sign_get(GetTarget(key), soon())).content == data  # unchanged


def test_range_bound_url_serves_only_its_range(range_binding_backend: Backend) -> None:
    backend = range_binding_backend
    key, data = new_key(), bytes(range(256)) * 40
    upload_id, url = _part_url(backend, key, data, md5(data), soon())
    assert put(url, data, md5(data)).status_code == 200
    run(backend.store.complete_multipart, key, upload_id, [(1, md5(data))], md5(data))
    rng = ByteRange(100, 50)
    ranged = backend.store.sign_get(GetTarget(key, rng), soon())
    assert http.get(ranged, headers={"Range": rng.header()}).content == data[100:150]
    assert http.get(ranged, headers={"Range": "bytes=0-9999"}).status_code in (400, 403, 416)


def test_a_part_sent_again_with_other_bytes_completes_with_the_confirmed_copy(backend: Backend) -> None:
    key = new_key()
    first, second = b"1" * 3000, b"2" * 3000
    upload_id = run(backend.store.create_multipart, key, None)
    target = UploadPartTarget(key, upload_id, 1, 0, 3000)
    for data in (first, second):
        assert put(backend.store.sign_upload_part(target, md5(data), soon()), data, md5(data)).is_success
    held = {p.etag for p in run(backend.store.list_parts, key, upload_id, 1)}
    assert md5(second) in held  # Azure keeps both blocks until the commit picks one; S3 and GCS keep the last
    run(backend.store.complete_multipart, key, upload_id, [(1, md5(second))], md5(second))
    assert run(backend.store.read_range, GetTarget(key)) == second


def test_aborting_an_upload_over_an_existing_object_keeps_the_object(backend: Backend) -> None:
    key = new_key()
    kept = b"k" * 2048
    upload_id = run(backend.store.create_multipart, key, None)
    assert put(
        backend.store.sign_upload_part(UploadPartTarget(key, upload_id, 1, 0, len(kept)), md5(kept), soon()),
        kept,
        md5(kept),
    ).is_success
    run(backend.store.complete_multipart, key, upload_id, [(1, md5(kept))], md5(kept))
    replacing = run(backend.store.create_multipart, key, None)
    other = b"o" * 1024
    target = UploadPartTarget(key, replacing, 1, 0, len(other))
    assert put(backend.store.sign_upload_part(target, md5(other), soon()), other, md5(other)).is_success
    run(backend.store.abort_multipart, key, replacing)
    assert run(backend.store.read_range, GetTarget(key)) == kept
    info = run(backend.store.head, key)
    assert info is not None and info.md5 == md5(kept)
    assert all(u.upload_id != replacing for u in run(backend.store.pending_uploads))
    with pytest.raises(NotFoundError):
        run(backend.store.list_parts, key, replacing)


@pytest.mark.parametrize("name", ["memory", "local", AZURITE, GCS])
def test_many_small_parts_assemble_in_order(name: str, request: pytest.FixtureRequest) -> None:
    """70 parts: more than one GCS compose request takes (32), so the compose tree has two levels."""
    from tests.contract.conftest import _make

    backend = _make(request, name)
    key = new_key()
    chunks = [bytes([i % 251]) * (700 + i) for i in range(70)]
    upload_id = run(backend.store.create_multipart, key, None)
    offset = 0
    for n, chunk in enumerate(chunks, start=1):
        target = UploadPartTarget(key, upload_id, n, offset, len(chunk))
        assert put(backend.store.sign_upload_part(target, md5(chunk), soon()), chunk, md5(chunk)).is_success
        offset += len(chunk)
    parts = run(backend.store.list_parts, key, upload_id)
    assert [(p.number, p.etag) for p in parts] == [(n, md5(c)) for n, c in enumerate(chunks, start=1)]
    whole = b"".join(chunks)
    run(backend.store.complete_multipart, key, upload_id, [(p.number, p.etag) for p in parts], md5(whole))
    assert md5(run(backend.store.read_range, GetTarget(key))) == md5(whole)
    info = run(backend.store.head, key)
    assert info is not None and info.size == len(whole) and info.md5 == md5(whole)
    assert not list(run(backend.store.list, ".score-multipart/").keys)  # no part objects left behind
