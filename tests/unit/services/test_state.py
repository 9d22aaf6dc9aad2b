"""Upload state records in Score's layout, through the real local store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from score.domain import ids
from score.domain.errors import UpstreamUnavailableError
from score.domain.parts import PartLimits
from score.domain.ports import ObjectStore
from score.services.state import (
    PartMarker,
    UploadOwner,
    UploadStateRepository,
    decode_spec,
    encode_spec,
    marker_key,
    parse_marker,
)
from score.storage.local import LocalObjectStore
from score.storage.urlsign import UrlSigner
from score.wire.schemas import ObjectSpecification, Part

OID = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"

# A .meta as the Java Score 5.x writes it (field order and nulls as Jackson emits them).
SCORE_META = json.dumps(
    {
        "objectKey": f"data/{OID}",
        "objectId": OID,
        "uploadId": "2~xyz",
        "parts": [
            {"partNumber": 1, "partSize": 20971520, "offset": 0, "url": None, "md5": "m1", "sourceMd5": "s1"},
            {"partNumber": 2, "partSize": 5, "offset": 20971520, "url": None, "md5": None},
        ],
        "objectSize": 20971525,
        "objectMd5": "0123456789abcdef0123456789abcdef",
        "relocated": False,
    }
)


def test_scores_meta_is_read() -> None:
    spec = decode_spec(SCORE_META.encode(), "k")
    assert spec.objectSize == 20971525
    assert spec.parts[0].sourceMd5 == "s1"
    assert spec.parts[1].sourceMd5 is None


def test_encoded_spec_has_no_urls_or_expiry_and_reads_back() -> None:
    spec = ObjectSpecification(
        objectKey=f"data/{OID}",
        objectId=OID,
        uploadId="u",
        parts=[Part(partNumber=1, partSize=3, offset=0, url="http://x/?signature=secret", md5="a")],
        objectSize=3,
        urlsExpireAt="2026-11-24T00:00:00Z",
    )
    raw = encode_spec(spec)
    data = json.loads(raw)
    assert "urlsExpireAt" not in data
    assert data["parts"][0]["url"] is None
    assert b"secret" not in raw
    back = decode_spec(raw, "k")
    assert back.parts[0].md5 == "a" and back.objectSize == 3


def test_unreadable_state_is_an_upstream_error_not_a_caller_error() -> None:
    with pytest.raises(UpstreamUnavailableError, match="unreadable") as info:
        decode_spec(b"{not json", "upload/x/.meta")
    assert info.value.retryable is False


def test_marker_keys_round_trip_in_scores_form() -> None:
    m = PartMarker(26, "abc", "def")
    key = marker_key(OID, "U", m)
    assert key == f'upload/{OID}_U/part-0000001a|{{"partNumber":26,"md5":"abc","etag":"def"}}'
    assert parse_marker(key) == m


@pytest.mark.parametrize("key", ["upload/x/.meta", "upload/x/part-1|not json", 'upload/x/part-1|{"md5":"a"}'])
def test_non_markers_are_ignored(key: str) -> None:
    assert parse_marker(key) is None


def test_repository_through_the_store(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, "http://127.0.0.1:9", UrlSigner(b"s" * 32), PartLimits())
    repo = UploadStateRepository(store)
    spec = ObjectSpecification(objectKey=ids.object_key(OID), objectId=OID, uploadId="U1", objectSize=10)

    async def go() -> None:
        assert await repo.find_upload_ids(OID) == []
        await repo.save_upload_spec(spec)
        await repo.save_upload_spec(spec.model_copy(update={"uploadId": "U2"}))
        assert sorted(await repo.find_upload_ids(OID)) == ["U1", "U2"]
        await repo.save_marker(OID, "U1", PartMarker(1, "m", "e1"))
        await repo.save_marker(OID, "U1", PartMarker(1, "m", "e2"))  # replaces the old confirmation
        await repo.save_marker(OID, "U1", PartMarker(2, "n", "f"))
        markers = await repo.markers(OID, "U1")
        assert markers == {1: PartMarker(1, "m", "e2"), 2: PartMarker(2, "n", "f")}
        await repo.delete_markers(OID, "U1", 1)
        assert set(await repo.markers(OID, "U1")) == {2}
        await repo.delete_upload(OID, "U1")
        assert await repo.upload_spec(OID, "U1") is None
        assert await repo.markers(OID, "U1") == {}
        assert await repo.find_upload_ids(OID) == ["U2"]
        assert await repo.object_spec(OID) is None
        await repo.save_object_spec(spec)
        got = await repo.object_spec(OID)
        assert got is not None and got.uploadId == "U1"

    anyio.run(go)
    # Score's layout on disk: data/<id>.meta
    assert (tmp_path / "objects" / "data" / f"{OID}.meta").is_file()


class _Batching:
    """A store that also deletes in batches, recording each batch."""

    def __init__(self, inner: LocalObjectStore) -> None:
        self._inner = inner
        self.batches: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def delete_many(self, keys: list[str]) -> None:
        self.batches.append(list(keys))
        for key in keys:
            await self._inner.delete(key)


def test_upload_state_goes_spec_first_then_the_rest_in_one_batch(tmp_path: Path) -> None:
    store = _Batching(LocalObjectStore(tmp_path, "http://127.0.0.1:9", UrlSigner(b"s" * 32), PartLimits()))
    repo = UploadStateRepository(cast("ObjectStore", store))
    spec = ObjectSpecification(objectKey=ids.object_key(OID), objectId=OID, uploadId="U1", objectSize=10)

    async def go() -> None:
        await repo.save_owner(OID, "U1", UploadOwner("me", None))
        await repo.save_upload_spec(spec)
        assert await repo.other_upload_ids(OID, "U1") == []
        await repo.save_upload_spec(spec.model_copy(update={"uploadId": "U2"}))
        assert await repo.other_upload_ids(OID, "U1") == ["U2"]
        for n in (1, 2, 3):
            await repo.save_marker(OID, "U1", PartMarker(n, "m", "e"))
        markers, keys = await repo.upload_keys(OID, "U1")
        assert set(markers) == {1, 2, 3} and ids.upload_meta_key(OID, "U1") in keys
        await repo.delete_upload(OID, "U1", keys)
        assert len(store.batches) == 1 and ids.upload_owner_key(OID, "U1") in store.batches[0]
        assert ids.upload_meta_key(OID, "U1") not in store.batches[0]  # deleted alone, first
        assert (await store.list(ids.upload_dir(OID, "U1"))).keys == []
        assert await repo.other_upload_ids(OID, "U2") == []

    anyio.run(go)
