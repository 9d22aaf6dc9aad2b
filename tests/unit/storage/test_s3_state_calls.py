"""The S3 adapter's calls for upload state, counted on an in-process moto (issue 23): DeleteObjects in
batches, and no HEAD after completing an upload this process started with its MD5.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import boto3
import pytest

from score.domain.integrity import hex_to_b64
from score.domain.parts import PartLimits
from score.storage.s3 import S3ObjectStore
from score.storage.s3_layout import BucketLayout

moto = pytest.importorskip("moto")

OID = "6d1b4e0c-8a52-4e0e-9f4a-8c2f4d3e2a10"


@pytest.fixture
def s3() -> Iterator[tuple[S3ObjectStore, Counter[str]]]:
    """An S3 store on moto's in-process S3 over one bucket, and the count of each S3 operation it sends."""
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        client.create_bucket(Bucket="objects")
        calls: Counter[str] = Counter()

        def count(model: Any, **_: Any) -> None:
            calls[model.name] += 1

        client.meta.events.register("before-call.s3", count)
        yield S3ObjectStore(client, BucketLayout("objects", "objects"), PartLimits()), calls


def test_delete_many_is_one_call_per_thousand_keys_and_absent_keys_are_fine(
    s3: tuple[S3ObjectStore, Counter[str]],
) -> None:
    store, calls = s3
    keys = [f"upload/{OID}_U1/part-{n:08x}|{{}}" for n in range(1, 1203)]

    async def go() -> None:
        for key in keys[:5]:
            await store.put_bytes(key, b"")
        calls.clear()
        await store.delete_many(keys)
        assert calls == Counter({"DeleteObjects": 2})
        assert (await store.list(f"upload/{OID}_U1/")).keys == []

    anyio.run(go)


def test_complete_after_this_process_created_the_upload_with_its_md5_needs_no_head(
    s3: tuple[S3ObjectStore, Counter[str]],
) -> None:
    store, calls = s3
    data = b"x" * 1024
    md5 = hashlib.md5(data).hexdigest()
    key = f"data/{OID}"

    async def upload(with_md5_at_create: bool) -> None:
        upload_id = await store.create_multipart(key, md5 if with_md5_at_create else None)
        part = store.client.upload_part(
            Bucket="objects", Key=key, UploadId=upload_id, PartNumber=1, Body=data, ContentMD5=hex_to_b64(md5)
        )
        calls.clear()
        await store.complete_multipart(key, upload_id, [(1, part["ETag"].strip('"'))], md5)
        info = await store.head(key)
        assert info is not None and info.md5 == md5

    anyio.run(upload, True)
    assert calls["HeadObject"] == 1 and calls["CopyObject"] == 0  # only the check above
    anyio.run(upload, False)  # the MD5 known only at the end: HEAD, then the metadata copy
    assert calls["HeadObject"] == 2 and calls["CopyObject"] == 1
