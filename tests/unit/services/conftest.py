"""The services on the memory store, a static metadata source and a fixed clock (no app, no HTTP server)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from score.domain import errors as e
from score.domain.integrity import hex_to_b64
from score.domain.model import ANONYMOUS, AnalysisState, ObjectRecord, Principal
from score.domain.parts import PartLimits
from score.services.context import ServiceContext
from score.storage.memory import MemoryObjectStore
from tests.kit.inprocess import KIB, FixedClock

__all__ = ["ANONYMOUS", "READER", "TTL", "WRITER", "StaticMetadata", "World", "md5"]

TTL = timedelta(minutes=15)
WRITER = Principal("writer", frozenset({"score.WRITE"}))
READER = Principal("reader", frozenset({"score.READ"}))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class StaticMetadata:
    """A MetadataSource over a dict of records (objects without one need no registration)."""

    def __init__(self) -> None:
        self.records: dict[str, ObjectRecord] = {}

    async def get(self, object_id: str) -> ObjectRecord | None:
        return self.records.get(object_id)

    async def analysis_objects(self, analysis_id: str) -> list[str]:
        found = [r.object_id for r in self.records.values() if r.analysis_id == analysis_id]
        if not found:
            raise e.NotFoundError(f"no analysis {analysis_id}")
        return found

    def publish(self, object_id: str) -> None:
        record = self.records[object_id]
        self.records[object_id] = dataclasses.replace(record, analysis_state=AnalysisState.PUBLISHED)


@dataclasses.dataclass
class World:
    """What a service test needs: the context and its parts."""

    ctx: ServiceContext
    store: MemoryObjectStore
    metadata: StaticMetadata
    clock: FixedClock
    http: httpx.Client

    def put(self, url: str, data: bytes, md5_hex: str | None = None) -> httpx.Response:
        """PUT a part through a signed URL (its Content-MD5 when given)."""
        headers = {"Content-MD5": hex_to_b64(md5_hex)} if md5_hex else {}
        return self.http.put(url, content=data, headers=headers)


@pytest.fixture
def world() -> Iterator[World]:
    clock = FixedClock()
    store = MemoryObjectStore(limits=PartLimits(min_part_bytes=4 * KIB), clock=clock)
    metadata = StaticMetadata()
    ctx = ServiceContext(store=store, metadata=metadata, upload_url_ttl=TTL, download_url_ttl=TTL, clock=clock)
    with httpx.Client(transport=store.transport) as http:
        yield World(ctx, store, metadata, clock, http)
