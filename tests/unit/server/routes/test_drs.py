"""The DRS routes' region: given where the store names a cloud region (S3 on AWS), never a mere signing label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from score.server.routes.drs import region
from tests.kit.inprocess import memory_settings


def _s3(**storage: Any) -> dict[str, Any]:
    return {"kind": "s3", "object_bucket": "objects", **storage}


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        (_s3(region="eu-west-1"), "eu-west-1"),  # no endpoint: AWS for the region
        (_s3(region="eu-west-1", endpoint="https://s3.eu-west-1.amazonaws.com"), "eu-west-1"),
        (_s3(region="cn-north-1", endpoint="https://s3.cn-north-1.amazonaws.com.cn"), "cn-north-1"),
        (_s3(region="us-east-1", endpoint="http://ceph.example.org:7480"), None),  # radosgw: a signing label
        (_s3(endpoint="http://127.0.0.1:9000"), None),  # MinIO
        (_s3(region="eu-west-1", endpoint="https://amazonaws.com.evil.example"), None),
        ({"kind": "memory"}, None),
    ],
)
def test_the_region_is_the_aws_one_only(tmp_path: Path, storage: dict[str, Any], expected: str | None) -> None:
    assert region(memory_settings(tmp_path, storage=storage)) == expected
