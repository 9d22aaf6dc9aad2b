"""The registry as the server's MetadataSource, in process (the Song adapter reaches it over HTTP)."""

from __future__ import annotations

import anyio.to_thread

from score.domain.errors import NotFoundError
from score.domain.model import ObjectRecord
from score.domain.ports import RegistryEngine


class RegistryMetadata:
    """Object records straight from the embedded registry."""

    def __init__(self, store: RegistryEngine) -> None:
        """Read from *store*."""
        self._store = store

    def _get(self, object_id: str) -> ObjectRecord:
        record = self._store.object_record(object_id)
        if record is None:
            raise NotFoundError(f"object {object_id} is not registered; submit its analysis first")
        return record

    async def get(self, object_id: str) -> ObjectRecord:
        """The object's record.

        Raises:
            NotFoundError: the object is not registered.
        """
        if self._store.reads_block:  # PostgreSQL: a network round trip
            return await anyio.to_thread.run_sync(self._get, object_id)
        # SQLite, on the event loop: one indexed read on the registry's reading connection (tens of microseconds,
        # never waiting for a writer), cheaper than the hand-off to a worker thread it would otherwise cost.
        return self._get(object_id)

    def _analysis_objects(self, analysis_id: str) -> list[str]:
        out: list[str] = []
        page = 0
        while True:
            rows, total = self._store.entities(analysis_id, None, page, 1000)
            out += [row.object_id for row in rows]
            if not rows or len(out) >= total:
                break
            page += 1
        if not out:
            raise NotFoundError(f"{analysis_id} is neither an object nor an analysis with files")
        return out

    async def analysis_objects(self, analysis_id: str) -> list[str]:
        """The object ids of the analysis's files.

        Raises:
            NotFoundError: no such analysis.
        """
        return await anyio.to_thread.run_sync(self._analysis_objects, analysis_id)
